"""How small a face the age and gender models still judge (docs/attributes.md, "small faces").

200 seeded adult (18-70) colour faces of UTKFace's balanced subset, each image shrunk (INTER_AREA)
so that its dlib-hog box is W pixels wide, W in 12..48; age MAE and gender accuracy per W.

    nice python bench/attributes_small_faces.py
"""
from __future__ import annotations

import csv
import random

import cv2
import numpy as np
from common import SHARED

from facetrust.analyzer import FaceAnalyzer
from facetrust.attributes import AttributeEstimator
from facetrust.attributes.inputs import FaceInputs

WIDTHS = (12, 16, 24, 32, 48, None)  # None: the original size


def main() -> None:
    root = SHARED / "data" / "utkface"
    with (root / "labels.csv").open() as stream:
        rows = [r for r in csv.DictReader(stream)
                if r["in_repo_random_200"] and r["age"] and 18 <= int(r["age"]) <= 70]
    random.Random(1).shuffle(rows)
    analyzer, estimator = FaceAnalyzer(), AttributeEstimator(("age", "gender"))
    results: dict[int | None, list[tuple[float, bool]]] = {w: [] for w in WIDTHS}
    for row in rows[:200]:
        image = analyzer.load(root / row["file"])
        faces = analyzer.detect_rgb(image)
        if not faces:
            continue
        box = faces[0].box
        for width in WIDTHS:
            scale = 1.0 if width is None else width / (box[2] - box[0])
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            shrunk = image if width is None else cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            face = FaceInputs(shrunk, tuple(v * scale for v in box))
            if face.grayscale:
                continue
            p_age = estimator.model("age").probabilities([face])[0]
            p_gender = estimator.model("gender").probabilities([face])[0]
            results[width].append((abs(p_age @ np.arange(len(p_age)) - int(row["age"])),
                                   ("male" if p_gender[1] >= 0.5 else "female") == row["gender"]))
    for width, values in results.items():
        v = np.array(values, dtype=float)
        print(f"box width {width or 'original'}: n={len(v)} age MAE {v[:, 0].mean():.2f} "
              f"gender accuracy {v[:, 1].mean():.3f}")


if __name__ == "__main__":
    main()
