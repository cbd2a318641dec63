"""False alarms of the shipped ``sbi`` on real grayscale faces it did not train on (LFW-a).

    nice python bench/sbi_gray_false_alarms.py [--every 10]

``sbi`` reads luminance and 6,000 of its training files are LFW-a, but its threshold was
calibrated on colour faces. This measures what it would say on gray faces (the checker calls
them ``unavailable`` because of this measurement): every ``--every``-th LFW-a image that is
*not* among the model's training files (regenerated from the recipe's rule), the largest face
per image, the model's P(fake) forced past the grayscale rule (the size rule still applies),
against the shipped threshold.
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
        image = checker.analyzer.load(path)
        faces = checker.detect(image)
        unavailable = checker.unavailable_reason(faces[0]) if faces else ("no_face", "no face")
        if unavailable is not None:
            reason = unavailable[1]
            reasons[reason] = reasons.get(reason, 0) + 1
        else:
            scores.append(checker.detector.predict(image, faces[0].landmarks).score)
    alarms = np.asarray(scores) >= checker.threshold
    low, high = bootstrap_ci(alarms.astype(np.float64))
    print(f"{len(held_out)} LFW-a images not in training; scored every {args.every}th: {len(sample)}; "
          f"decided {len(scores)}, no decision {reasons}")
    print(f"FPR at {checker.threshold}: {alarms.mean():.2%} [{low:.2%}, {high:.2%}] ({int(alarms.sum())}/{len(scores)}); "
          f"at 0.5: {np.mean(np.asarray(scores) >= 0.5):.2%}")


if __name__ == "__main__":
    main()
