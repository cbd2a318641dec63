"""False alarms of the shipped ``sbi`` on real grayscale faces it did not train on (LFW-a).

    nice python bench/sbi_gray_false_alarms.py [--every 10]

``sbi`` judges gray faces (it reads luminance; 6,000 of its training files are LFW-a), while
the colour-reading detectors call them ``unavailable``. This scores every ``--every``-th
LFW-a image that is *not* among the model's training files (regenerated from the recipe's
rule) at the shipped threshold: the largest face per image, as ``facetrust forgery`` does.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

import numpy as np  # noqa: E402

from facetrust.attributes.evaluation import bootstrap_ci  # noqa: E402
from facetrust.forensics.checker import ForgeryChecker  # noqa: E402
from facetrust.forensics.training.data import regenerate_training_files  # noqa: E402
from facetrust.progress import track  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=10, help="score every N-th held-out LFW-a image")
    args = parser.parse_args()
    shared = SHARED.resolve()
    recipe = json.loads(resources.files("facetrust").joinpath("models/forensics/sbi-rgbfreq-96.json").read_text())
    trained = {p.resolve() for p in regenerate_training_files(shared, recipe["data"])[0]}
    held_out = [p for p in sorted((shared / "data" / "lfw").glob("*/*.jpg")) if p.resolve() not in trained]
    sample = held_out[::args.every]
    checker = ForgeryChecker("sbi")
    scores, reasons = [], {}
    for path in track(sample, len(sample), "sbi on gray LFW-a", True, unit="images"):
        found = checker.check_rgb(checker.analyzer.load(path))
        if not found:
            reasons["no face"] = reasons.get("no face", 0) + 1
        elif found[0].result.score is None:
            reasons[found[0].result.reason] = reasons.get(found[0].result.reason, 0) + 1
        else:
            scores.append(found[0].result.score)
    alarms = np.asarray(scores) >= checker.threshold
    low, high = bootstrap_ci(alarms.astype(np.float64))
    print(f"{len(held_out)} LFW-a images not in training; scored every {args.every}th: {len(sample)}; "
          f"decided {len(scores)}, no decision {reasons}")
    print(f"FPR at {checker.threshold}: {alarms.mean():.2%} [{low:.2%}, {high:.2%}] ({int(alarms.sum())}/{len(scores)}); "
          f"at 0.5: {np.mean(np.asarray(scores) >= 0.5):.2%}")


if __name__ == "__main__":
    main()
