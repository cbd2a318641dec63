"""Why aligned 112x112 crops raise the SBI detector's false alarms for some groups (diagnosis, no fitting).

    python bench/sbi_aligned_diagnosis.py [--split calibration] [--sbi-model FILE] [--threshold T]

For every face of a UTKFace split (default ``calibration``; never used to evaluate), as the
false-alarm evaluation makes its aligned-112 form (:func:`facetrust.forensics.false_alarms.crop_form`):
the share of the 112x112 crop that lies outside the 200x200 original (filled black by the ArcFace
warp), whether YuNet finds the face again on the 112 crop (else the whole image + dlib landmarks),
and P(fake) in both forms (score cache shared with ``bench/forgery_false_alarms.py``). Prints, per
race and per age group, the means of these and the false-alarm rate in both forms.
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.forensics.cache import ScoreCache, default_score_cache  # noqa: E402
from facetrust.forensics.colour_faces import read_utkface  # noqa: E402
from facetrust.forensics.false_alarms import (AGE_COLUMN, build_checkers,  # noqa: E402
                                              score_colour_faces, shipped_threshold)


def geometry(path: Path, analyzer: object) -> tuple[float, bool] | None:
    """(share of the aligned 112x112 crop outside the original, re-detected by YuNet) or None without a face."""
    import cv2

    from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, estimate_similarity
    from facetrust.forensics.faces import detect_faces
    from facetrust.io.image import load_image

    image = load_image(path)
    faces = detect_faces(analyzer, image)
    if not faces:
        return None
    matrix = estimate_similarity(np.asarray(faces[0].landmarks).reshape(5, 2), ARCFACE_TEMPLATE_112)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), matrix, (112, 112), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT)
    stored = cv2.warpAffine(image, matrix, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return float(1.0 - inside.mean()), bool(detect_faces(analyzer, stored))  # no crop_fallback: [] when not found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="calibration", choices=("train", "calibration"))
    parser.add_argument("--sbi-model", help="a trained SBI ONNX file (default: the packaged one)")
    parser.add_argument("--threshold", type=float, help="default: the shipped threshold")
    args = parser.parse_args()
    threshold = args.threshold or shipped_threshold("sbi")
    faces = read_utkface(SHARED / "data" / "utkface", args.split)
    checkers, versions = build_checkers(["sbi"], args.sbi_model)
    with ScoreCache(default_score_cache()) as cache:
        rows = score_colour_faces(faces, checkers, versions, cache, progress=True)
    analyzer = checkers["sbi"].analyzer
    per_face: dict[str, dict] = defaultdict(dict)
    for row in rows:
        per_face[row["file"]].update({row["form"]: row["sbi"], "race": row["race"], "age": row[AGE_COLUMN]})
    for face in faces:
        per_face[face.path.name]["geometry"] = geometry(face.path, analyzer)
    print(f"sbi ({versions['sbi']}) at {threshold}, {args.split} split, {len(faces)} faces\n")
    print("| group | faces | outside share of the 112 crop | re-detected on 112 | FPR original | FPR aligned112 "
          "| mean P(fake) original / aligned112 |\n|---|---|---|---|---|---|---|")
    for column in ("race", "age"):
        names = sorted({v[column] for v in per_face.values() if v[column]},
                       key=lambda g: (int(g.split("-")[0].rstrip("+")), g) if g[0].isdigit() else (-1, g))
        for name in names:
            members = [v for v in per_face.values() if v[column] == name and v["geometry"] is not None]
            original = [v["original"] for v in members if v.get("original") is not None]
            aligned = [v["aligned112"] for v in members if v.get("aligned112") is not None]
            print(f"| {column} {name} | {len(members)} | {np.mean([v['geometry'][0] for v in members]):.3f} | "
                  f"{np.mean([v['geometry'][1] for v in members]):.3f} | "
                  f"{np.mean(np.array(original) >= threshold):.3f} ({len(original)}) | "
                  f"{np.mean(np.array(aligned) >= threshold):.3f} ({len(aligned)}) | "
                  f"{np.mean(original):.3f} / {np.mean(aligned):.3f} |")
    decided = [v for v in per_face.values() if v["geometry"] is not None and v.get("aligned112") is not None]
    outside = np.array([v["geometry"][0] for v in decided])
    scores = np.array([v["aligned112"] for v in decided])
    print(f"\nSpearman correlation of the outside share with P(fake) on aligned112: "
          f"{_spearman(outside, scores):.3f} ({len(decided)} faces)")
    for low, high in ((0.0, 0.001), (0.001, 0.05), (0.05, 0.15), (0.15, 1.01)):
        chosen = (outside >= low) & (outside < high)
        if chosen.any():
            print(f"outside share [{low}, {high}): {chosen.sum()} faces, FPR aligned112 "
                  f"{np.mean(scores[chosen] >= threshold):.3f}, mean P(fake) {scores[chosen].mean():.3f}")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


if __name__ == "__main__":
    main()
