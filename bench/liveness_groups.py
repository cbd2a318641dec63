"""BPCER of the shipped liveness model on UTKFace's colour faces, per gender and race, with 95 % CIs.

The UTKFace *evaluation* split (``utkface_split``: odd sha256 of the file name; never
fitted on), the default checker (``minifasnet``, YuNet, threshold 0.5). Two views,
labelled as such:

* **shipped**: BPCER over the images the checker decides (live/spoof); the others are
  ``unavailable`` (counted per group and reason) — UTKFace images are tight face crops;
* **forced**: the model's P(live) on every image with a face, the availability rules
  skipped — what the model would say if forced, information only, not a shipped behaviour.

    nice python bench/liveness_groups.py [--limit N]     # markdown tables; JSON to bench/results/
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, SHARED  # noqa: E402

from facetrust.liveness import LivenessChecker  # noqa: E402
from facetrust.liveness.evaluation import bpcer_by_group, read_grouped_faces, score_bona_fide  # noqa: E402

GROUPS = ("gender", "race")


def report(progress_every: int = 500, limit: int | None = None) -> dict:
    faces = read_grouped_faces(SHARED / "data" / "utkface" / "labels.csv", GROUPS, split="eval")[:limit]
    checker = LivenessChecker()
    started = time.perf_counter()

    def progress(done: int, total: int | None) -> None:
        if done % progress_every == 0 or done == total:
            rate = done / (time.perf_counter() - started)
            print(f"{done}/{total} images, {rate:.1f}/s", file=sys.stderr, flush=True)

    records = score_bona_fide(checker, faces, progress=progress)
    result = bpcer_by_group(records, checker.threshold, GROUPS)
    result["configuration"] = {"model": checker.name, "detector": checker.detector_name,
                               "data": "UTKFace crop_part1, evaluation split (odd sha256 of the file name)",
                               "images": len(faces), "seconds": round(time.perf_counter() - started, 1)}
    return result


def cell(stats: dict) -> str:
    if not stats["n"]:
        return "– (n = 0)"
    low, high = stats["ci95"]
    return f"{stats['bpcer']:.3f} [{low:.3f}, {high:.3f}] (n = {stats['n']})"


def print_tables(result: dict) -> None:
    print(f"\n{result['configuration']}\n")
    print("| group | images | decided | no decision (reason: count) | BPCER shipped [95% CI] | "
          "BPCER if forced [95% CI] |\n|---|---|---|---|---|---|")
    for column in ("overall", *GROUPS):
        for group, scope in result["scope"][column].items():
            reasons = ", ".join(f"{k}: {v}" for k, v in scope["reasons"].items()) or "–"
            print(f"| {column if column == 'overall' else f'{column} = {group}'} | {scope['images']} | "
                  f"{scope['decided']} | {reasons} | {cell(result['in_scope'][column][group])} | "
                  f"{cell(result['forced'][column][group])} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="First N images of the split (a quick look).")
    args = parser.parse_args()
    out = report(limit=args.limit)
    if args.limit is None:
        (RESULTS / "liveness_utkface_groups.json").write_text(json.dumps(out, indent=1) + "\n")
    print_tables(out)
