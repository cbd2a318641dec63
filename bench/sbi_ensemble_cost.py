"""Cost of the ``sbi`` score ensemble against one model: seconds per face, one onnxruntime thread.

    FACETRUST_THREADS=1 python bench/sbi_ensemble_cost.py A.onnx A.onnx+B.onnx [--faces 200] [--repeats 3]

For each model spec (``A+B``: the ensemble of those files; ``A@shifted``: A over test-time views) on the same UTKFace ``calibration``
faces (200x200 crops, no evaluation data): the median time of (1) scoring the 96x96 crop alone
(``score_crops`` on one crop) and (2) the whole check of one face (detection, crop, score;
``ForgeryChecker.check_rgb``). The specs run interleaved, ``--repeats`` times, so a change in
machine load hits them alike; the median over all faces and repeats is printed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.forensics.checker import ForgeryChecker  # noqa: E402
from facetrust.forensics.colour_faces import read_utkface  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from sbi_candidates import model_options  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="ONNX files; A.onnx+B.onnx: their score ensemble; "
                        "A.onnx@shifted: A averaged over test-time views")
    parser.add_argument("--faces", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    images = [load_image(f.path) for f in read_utkface(SHARED / "data" / "utkface", "calibration")[:args.faces]]
    checkers = {m: ForgeryChecker("sbi", detector_options=model_options(m)) for m in args.models}
    first = next(iter(checkers.values()))
    crops = []
    for image in images:  # the 96x96 crops, made once
        faces = first.detect(image)
        if faces:
            crops.append(first.detector.crop(image, faces[0].landmarks)[0])
    score_s: dict[str, list[float]] = {m: [] for m in args.models}
    check_s: dict[str, list[float]] = {m: [] for m in args.models}
    for checker in checkers.values():  # warm-up: sessions created, first run done
        checker.check_rgb(images[0])
    for _ in range(args.repeats):
        for model, checker in checkers.items():
            for crop in crops:
                start = time.perf_counter()
                checker.detector.score_crops(crop[None])
                score_s[model].append(time.perf_counter() - start)
            for image in images:
                start = time.perf_counter()
                checker.check_rgb(image)
                check_s[model].append(time.perf_counter() - start)
    print(f"{len(images)} faces ({len(crops)} with a face found), {args.repeats} repeats")
    print("| model | score one crop, median ms | whole check of one face, median ms |\n|---|---|---|")
    for model in args.models:
        print(f"| {model} | {1e3 * np.median(score_s[model]):.2f} | {1e3 * np.median(check_s[model]):.2f} |")


if __name__ == "__main__":
    main()
