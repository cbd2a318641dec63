"""False alarms of the forgery detectors on real colour faces (UTKFace), per gender and race.

    python bench/forgery_false_alarms.py [--sbi-model runs/sbi-rgbfreq-96.onnx] [--json out.json]

Thresholds come from the UTKFace calibration split (at most 3% of its real faces flagged, per crop
form; the larger of the two), false alarms are counted on the evaluation split, both race-balanced
as pre-registered in docs/forensics.md (100 / 150 faces per race). Prints the tables of
:func:`facetrust.forensics.false_alarms.markdown_tables` at the calibrated thresholds and at 0.5.
Scores are cached (``--cache``), so a rerun with another ``--sbi-model`` only scores that model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.forensics.cache import ScoreCache, default_score_cache  # noqa: E402
from facetrust.forensics.false_alarms import evaluate_false_alarms, markdown_tables, meets_target  # noqa: E402

PER_RACE = {"calibration": 100, "evaluation": 150}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sbi-model", help="a trained SBI ONNX file to score as sbi (default: the packaged one)")
    parser.add_argument("--cache", type=Path, default=None, help="score cache (default: the forgery score cache)")
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument("--model", action="append", help="forgery model (repeatable; default: sbi and mesonet + fusion)")
    args = parser.parse_args()
    with ScoreCache(args.cache or default_score_cache()) as cache:
        result = evaluate_false_alarms(SHARED / "data" / "utkface", args.model or ["sbi", "mesonet"], cache, args.sbi_model,
                                       per_race=PER_RACE, progress=True)
    print(f"faces: {result['faces']}, per race: {result['per_race']}, sbi: {result['versions']['sbi']}\n")
    print(markdown_tables(result))
    print(markdown_tables(result, "at_0.5"))
    for model in result["models"]:
        print(model, "pre-registered (a)+(b):", meets_target(result, model))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
