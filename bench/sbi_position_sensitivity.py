"""How much `sbi`'s P(fake) of real faces depends on where the face sits in its crop.

    nice python bench/sbi_position_sensitivity.py [--split calibration] [--sbi-model F] [--threshold T]

Every face of a UTKFace split (default ``calibration``), as its 200x200 crop, is cut into the
detector's 96x96 crop once; then each test-time view of ``SBIDetector(views="shifted")`` (the
crop, moved by ``VIEW_SHIFT`` pixels left, right, up and down, and the mirrors of all five) and
the same 2-pixel move done circularly (``np.roll``: no new edge, the same spectrum magnitude) and
with the edge replicated are scored on their own. Printed per view: mean P(fake) and the share at
or above the threshold (default the shipped one). All faces are real, so a view that raises them
makes the face's position a cue for "fake".
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
from facetrust.forensics.false_alarms import build_checkers  # noqa: E402
from facetrust.forensics.sbi import VIEW_SHIFT, SBIDetector, view_stack  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.progress import track  # noqa: E402

VIEW_NAMES = ("as cut", "moved left", "moved right", "moved up", "moved down")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="calibration", choices=("train", "calibration", "evaluation"))
    parser.add_argument("--sbi-model", action="append", help="a trained SBI ONNX file instead of the packaged one")
    parser.add_argument("--threshold", type=float, default=SBIDetector.default_threshold)
    args = parser.parse_args()
    if not 0.0 <= args.threshold <= 1.0:
        parser.error(f"--threshold must be in [0, 1], got {args.threshold}")
    try:
        checker = build_checkers(["sbi"], args.sbi_model)[0]["sbi"]
        checker.detector  # loads the model now: a missing or unreadable file is one line, not a traceback
    except FacetrustError as error:
        sys.exit(f"error: {error}")
    detector = checker.detector
    faces = read_utkface(SHARED / "data" / "utkface", args.split)
    crops = []
    for face in track(faces, len(faces), f"cutting {args.split} crops", True, unit="faces"):
        image = load_image(face.path)
        crops.append(detector.crop(image, checker.detect(image)[0].landmarks)[0])
    crops = np.stack(crops)
    d = VIEW_SHIFT
    views = dict(zip(VIEW_NAMES + tuple(f"mirrored, {name}" for name in VIEW_NAMES), view_stack(crops, "shifted")))
    views[f"moved right {d} px, circular"] = np.roll(crops, d, axis=2)
    views[f"moved right {d} px, edge replicated"] = np.pad(crops, ((0, 0), (0, 0), (d, 0), (0, 0)), mode="edge")[:, :, :-d]
    print(f"{len(crops)} real faces of the {args.split} split, threshold {args.threshold}\n")
    print("| view | mean P(fake) | share >= threshold |\n|---|---|---|")
    for name, view in views.items():
        scores = detector.score_crops(np.ascontiguousarray(view))[0]  # views "one": each view alone
        print(f"| {name} | {scores.mean():.3f} | {np.mean(scores >= args.threshold):.3f} |")


if __name__ == "__main__":
    main()
