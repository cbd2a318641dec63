"""Does mirroring a real face photo change `sbi`'s verdict? UTKFace faces, both crop forms.

    nice python bench/sbi_mirror_agreement.py [--split calibration] [--sbi-model F] [--sbi-views shifted] [--threshold T]

Every face of a UTKFace split (default ``calibration``; ``train`` and ``evaluation`` too) in the
two crop forms of the false-alarm evaluation (``original`` 200x200, ``aligned112``) is checked
as it is and mirrored left-right (the whole image: the face is re-detected on the mirror), as
``facetrust forgery --crops`` would check it. Printed per form: how many faces each way scores
at or above the threshold (every face is real, so each is a false alarm), on how many faces the
two verdicts differ, the correlation and mean absolute difference of the two P(fake).
``--sbi-views``: the same for ``sbi`` averaging test-time views (``SBIDetector(views=...)``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

import numpy as np  # noqa: E402

from facetrust.errors import FacetrustError  # noqa: E402
from facetrust.forensics.colour_faces import read_utkface  # noqa: E402
from facetrust.forensics.false_alarms import CROP_FORMS, build_checkers, crop_form  # noqa: E402
from facetrust.forensics.sbi import VIEWS, SBIDetector  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.progress import track  # noqa: E402


def score(checker, image: np.ndarray) -> float | None:
    """P(fake) of the largest face, None when the check is unavailable."""
    return checker.check_face(image, checker.detect(image)[0]).score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="calibration", choices=("train", "calibration", "evaluation"))
    parser.add_argument("--sbi-model", action="append", help="a trained SBI ONNX file instead of the packaged one")
    parser.add_argument("--sbi-views", default="one", choices=VIEWS, help="test-time views sbi averages")
    parser.add_argument("--threshold", type=float, default=SBIDetector.default_threshold,
                        help="verdict threshold (default: the shipped one)")
    args = parser.parse_args()
    if not 0.0 <= args.threshold <= 1.0:
        parser.error(f"--threshold must be in [0, 1], got {args.threshold}")
    try:
        checker = build_checkers(["sbi"], args.sbi_model, sbi_views=args.sbi_views)[0]["sbi"]
        checker.detector  # loads the model now: a missing or unreadable file is one line, not a traceback
    except FacetrustError as error:
        sys.exit(f"error: {error}")
    faces = read_utkface(SHARED / "data" / "utkface", args.split)
    pairs: dict[str, list[tuple[float, float]]] = {form: [] for form in CROP_FORMS}
    for face in track(faces, len(faces), f"checking {args.split} faces and their mirrors", True, unit="faces"):
        image = load_image(face.path)
        for form in CROP_FORMS:
            crop, _ = crop_form(image, form, checker.analyzer)
            if crop is None:
                continue
            plain, mirrored = score(checker, crop), score(checker, np.ascontiguousarray(crop[:, ::-1]))
            if plain is not None and mirrored is not None:
                pairs[form].append((plain, mirrored))
    print(f"sbi{'' if args.sbi_views == 'one' else f' ({args.sbi_views} views)'}, {args.split} split, threshold {args.threshold}\n")
    print("| form | faces | alarms as given | alarms mirrored | verdicts differ | correlation | mean abs difference |")
    print("|---|---|---|---|---|---|---|")
    for form, values in pairs.items():
        plain, mirrored = np.array(values).T
        alarms, alarms_mirrored = plain >= args.threshold, mirrored >= args.threshold
        print(f"| {form} | {len(plain)} | {alarms.sum()} | {alarms_mirrored.sum()} | {(alarms != alarms_mirrored).sum()} "
              f"| {np.corrcoef(plain, mirrored)[0, 1]:.3f} | {np.abs(plain - mirrored).mean():.4f} |")


if __name__ == "__main__":
    main()
