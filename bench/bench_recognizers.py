"""Per-face cost of each recognizer: one thread, batches of aligned real faces.

Reports CPU time per face (``time.process_time``), which a loaded shared
machine disturbs far less than wall time, beside the wall time.

    FACETRUST_THREADS=1 python bench/bench_recognizers.py edgeface-xs edgeface-xxs reid-0095 w600k-mbf
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_ROOT  # noqa: E402

os.environ.setdefault("FACETRUST_THREADS", "1")

from facetrust.analyzer import FaceAnalyzer  # noqa: E402
from facetrust.zoo.store import NonCommercialLicenseWarning  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recognizers", nargs="+")
    parser.add_argument("--faces", type=int, default=32, help="aligned LFW faces per batch")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    paths = sorted(LFW_ROOT.glob("*/*_0001.jpg"))[: args.faces]
    print(f"| recognizer | dim | CPU ms/face | wall ms/face | threads |\n|---|---|---|---|---|")
    for name in args.recognizers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonCommercialLicenseWarning)
            analyzer = FaceAnalyzer(detector="yunet", recognizer=name)
            recognizer = analyzer.recognizer
        crops = []
        for path in paths:
            image = analyzer.load(path)
            detections = analyzer.detect_rgb(image)
            if detections:
                crops.append(recognizer.align(image, detections[0]))
        recognizer.embed_aligned(crops[:2])  # warm-up
        cpu, wall = [], []
        for _ in range(args.repeats):
            c0, w0 = time.process_time(), time.perf_counter()
            recognizer.embed_aligned(crops)
            cpu.append((time.process_time() - c0) / len(crops) * 1000)
            wall.append((time.perf_counter() - w0) / len(crops) * 1000)
        print(f"| {name} | {recognizer.dim} | {min(cpu):.1f} | {min(wall):.1f} | {os.environ['FACETRUST_THREADS']} |")


if __name__ == "__main__":
    main()
