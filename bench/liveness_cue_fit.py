"""Leave-one-attack-type-out fit of the colour-texture and frequency cues on UTKFace bona fide faces.

The keep/drop rule was fixed in docs/liveness.md before this was run. Bona fide: the
UTKFace *fit* split (``utkface_split``); attacks: the two spoof-set attacks (print,
replay). For each attack type held out, ``fit_calibration`` (the fit behind
``facetrust liveness fit``; L2 = 1, target APCER 0.05) is fitted on the fit split + the
other type, on the features the shipped checker measures (faces it declines — cut by
the border, too small — give none), and judged at its own threshold on:
(a) the held-out attack; (b) the UTKFace *eval* split; (c) bona fide faces from other
sources: the live spoof-set sample and the colour photos of ``../shared/data/faces``.

    nice python bench/liveness_cue_fit.py     # markdown table; JSON to bench/results/
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, SHARED  # noqa: E402

import numpy as np  # noqa: E402

from facetrust.liveness import LivenessChecker  # noqa: E402
from facetrust.liveness.calibration import fit_calibration  # noqa: E402
from facetrust.liveness.evaluation import read_labels, utkface_split  # noqa: E402

MODELS = ("lbp-colour", "moire")
SUFFIXES = {".jpg", ".jpeg", ".png"}


def features(checkers: dict[str, LivenessChecker], paths: list[Path], name: str) -> dict[str, list]:
    """Per model, the features of the largest face of each image (None where the checker gives none)."""
    analyzer = next(iter(checkers.values())).analyzer
    out: dict[str, list] = {model: [] for model in checkers}
    started = time.perf_counter()
    for done, path in enumerate(paths, start=1):
        image = analyzer.load(path)
        faces = analyzer.detect_rgb(image)
        for model, checker in checkers.items():
            scores = checker.check_face(image, faces[0]).model_scores if faces else {}
            out[model].append(scores or None)
        if done % 1000 == 0:
            print(f"{name}: {done}/{len(paths)}, {done / (time.perf_counter() - started):.1f}/s", file=sys.stderr,
                  flush=True)
    return out


def rejected_share(calibration, rows: list) -> tuple[float, int]:
    scores = np.array([calibration.apply(r) for r in rows if r is not None])
    return float(np.mean(scores < calibration.threshold)), len(scores)


def main(limit: int | None = None) -> list[dict]:
    checkers = {model: LivenessChecker(model=model) for model in MODELS}
    analyzer = checkers[MODELS[0]].analyzer
    for checker in checkers.values():
        checker._analyzer = analyzer  # one detection per image for both cue models
    utk = sorted((SHARED / "data" / "utkface" / "images").glob("*.jpg"))
    spoof = read_labels(SHARED / "data" / "spoof" / "labels.csv")
    attacks = [p for p in spoof if not p.bona_fide]
    live = [p.path for p in spoof if p.bona_fide]
    photos = sorted(p for p in (SHARED / "data" / "faces").rglob("*") if p.suffix.lower() in SUFFIXES)
    sets = {"fit": [p for p in utk if utkface_split(p.name) == "fit"][:limit],
            "eval": [p for p in utk if utkface_split(p.name) == "eval"][:limit],
            "attacks": [p.path for p in attacks], "live sample": live, "photos": photos}
    measured = {name: features(checkers, paths, name) for name, paths in sets.items()}
    rows = []
    for model in MODELS:
        fit_bona = [r for r in measured["fit"][model] if r is not None]
        for attack, held_out in enumerate(a.attack_type for a in attacks):
            kept = [(r, a.attack_type) for r, a in zip(measured["attacks"][model], attacks)
                    if a.attack_type != held_out and r is not None]
            calibration = fit_calibration(model, fit_bona + [r for r, _ in kept],
                                          [True] * len(fit_bona) + [False] * len(kept),
                                          ["bona fide"] * len(fit_bona) + [t for _, t in kept])
            held = measured["attacks"][model][attack]
            eval_bpcer, eval_n = rejected_share(calibration, measured["eval"][model])
            other = measured["live sample"][model] + measured["photos"][model]
            other_bpcer, other_n = rejected_share(calibration, other)
            live_score = calibration.apply(measured["live sample"][model][0])
            rows.append({"model": model, "held_out": held_out, "fit_bona_fide": len(fit_bona),
                         "fit_bona_fide_skipped": len(measured["fit"][model]) - len(fit_bona),
                         "fit_attacks": len(kept), "threshold": calibration.threshold,
                         "held_out_attack_p_live": None if held is None else calibration.apply(held),
                         "held_out_apcer": None if held is None else float(calibration.apply(held)
                                                                         >= calibration.threshold),
                         "utkface_eval_bpcer": eval_bpcer, "utkface_eval_n": eval_n,
                         "other_sources_bpcer": other_bpcer, "other_sources_n": other_n,
                         "live_sample_p_live": live_score, "live_sample_accepted": live_score >= calibration.threshold})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="First N images of each UTKFace split (a quick look).")
    args = parser.parse_args()
    rows = main(args.limit)
    if args.limit is None:
        (RESULTS / "liveness_cue_fit.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| model | held-out type | fitted on (bona fide / attacks) | threshold | held-out attack P(live) | "
          "APCER held-out | BPCER UTKFace eval | BPCER other sources | live sample P(live) | keep test |"
          "\n|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        passed = (r["held_out_apcer"] == 0 and r["utkface_eval_bpcer"] <= 0.05 and r["other_sources_bpcer"] <= 0.10
                  and r["live_sample_accepted"])
        print(f"| {r['model']} | {r['held_out']} | {r['fit_bona_fide']} / {r['fit_attacks']} | {r['threshold']:.4f} | "
              f"{r['held_out_attack_p_live']:.4f} | {r['held_out_apcer']:.0f} | {r['utkface_eval_bpcer']:.4f} "
              f"(n = {r['utkface_eval_n']}) | {r['other_sources_bpcer']:.4f} (n = {r['other_sources_n']}) | "
              f"{r['live_sample_p_live']:.4f} | {'pass' if passed else 'fail'} |")
