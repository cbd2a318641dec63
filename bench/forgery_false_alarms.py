"""False alarms of the forgery detectors on real colour faces (UTKFace), per gender and race.

    python bench/forgery_false_alarms.py [--sbi-model runs/sbi-rgbfreq-96.onnx] [--json out.json]
    python bench/forgery_false_alarms.py --shipped [--model sbi] [--json out.json]   # whole evaluation split
    python bench/forgery_false_alarms.py --shipped --split calibration          # the same on the calibration split
    python bench/forgery_false_alarms.py --calibrate --sbi-model NEW.onnx       # a candidate's threshold
    python bench/forgery_false_alarms.py --shipped --sbi-model NEW.onnx --threshold T   # ... then evaluated
    python bench/forgery_false_alarms.py --calibrate --sbi-model A.onnx --sbi-model B.onnx  # an ensemble of A and B
    python bench/forgery_false_alarms.py --calibrate --sbi-views shifted        # sbi averaged over 10 views per crop

Thresholds come from the UTKFace calibration split (at most 3% of its real faces flagged, per crop
form; the larger of the two), false alarms are counted on the evaluation split, both race-balanced
as pre-registered in docs/forensics.md (100 / 150 faces per race). Prints the tables of
:func:`facetrust.forensics.false_alarms.markdown_tables` at the calibrated thresholds and at 0.5.
Scores are cached (``--cache``), so a rerun with another ``--sbi-model`` only scores that model.

``--shipped``: no calibration; the whole evaluation split (1,902 faces, not race-balanced) scored by
one model at its shipped threshold (or ``--threshold``), with FPR per gender, race and age group
(:func:`facetrust.forensics.false_alarms.false_alarms_at_threshold`); ``--split calibration`` for diagnosis.

``--calibrate``: one model's operating threshold from the calibration split only (race-balanced, 100 per
race, as the shipped one; faces the model declines, such as gray ones, left out):
:func:`facetrust.forensics.false_alarms.calibrate_model`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.forensics.cache import ScoreCache, default_score_cache  # noqa: E402
from facetrust.forensics.false_alarms import (calibrate_model, evaluate_false_alarms,  # noqa: E402
                                              false_alarms_at_threshold, group_table, markdown_tables, meets_target,
                                              shipped_threshold)
from facetrust.forensics.sbi import VIEWS  # noqa: E402

PER_RACE = {"calibration": 100, "evaluation": 150}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sbi-model", action="append",
                        help="a trained SBI ONNX file to score as sbi (default: the packaged one); repeated: the "
                             "score ensemble (mean P(fake)) of those files")
    parser.add_argument("--sbi-views", default="one", choices=VIEWS,
                        help="test-time views sbi averages (SBIDetector(views=...)); default one")
    parser.add_argument("--cache", type=Path, default=None, help="score cache (default: the forgery score cache)")
    parser.add_argument("--json", type=Path, help="also write the full result here")
    parser.add_argument("--model", action="append", help="forgery model (repeatable; default: sbi and mesonet + fusion)")
    parser.add_argument("--shipped", action="store_true",
                        help="the whole evaluation split at the model's shipped threshold (one model, default sbi)")
    parser.add_argument("--threshold", type=float, help="with --shipped: this threshold instead of the shipped one")
    parser.add_argument("--split", default="evaluation", choices=("evaluation", "calibration"),
                        help="with --shipped: the split to score")
    parser.add_argument("--calibrate", action="store_true",
                        help="one model's threshold from the calibration split (100 faces per race)")
    args = parser.parse_args()
    if args.shipped:
        shipped(args)
        return
    if args.calibrate:
        with ScoreCache(args.cache or default_score_cache()) as cache:
            result = calibrate_model(SHARED / "data" / "utkface", (args.model or ["sbi"])[0], cache, args.sbi_model,
                                     PER_RACE["calibration"], progress=True, sbi_views=args.sbi_views)
        print(json.dumps(result, indent=1))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1) + "\n")
        return
    with ScoreCache(args.cache or default_score_cache()) as cache:
        result = evaluate_false_alarms(SHARED / "data" / "utkface", args.model or ["sbi", "mesonet"], cache, args.sbi_model,
                                       per_race=PER_RACE, progress=True, sbi_views=args.sbi_views)
    print(f"faces: {result['faces']}, per race: {result['per_race']}, sbi: {result['versions']['sbi']}\n")
    print(markdown_tables(result))
    print(markdown_tables(result, "at_0.5"))
    for model in result["models"]:
        print(model, "pre-registered (a)+(b):", meets_target(result, model))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def shipped(args: argparse.Namespace) -> None:
    model = (args.model or ["sbi"])[0]
    threshold = shipped_threshold(model) if args.threshold is None else args.threshold
    with ScoreCache(args.cache or default_score_cache()) as cache:
        result = false_alarms_at_threshold(SHARED / "data" / "utkface", model, threshold, cache, args.sbi_model,
                                           split=args.split, progress=True, sbi_views=args.sbi_views)
    print(f"{model} ({result['version']}) at {threshold}: {result['faces']} faces of the {result['split']} split\n")
    print(group_table(result))
    print("target (overall <= 5%, no gender/race group above 2x overall):", result["target"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
