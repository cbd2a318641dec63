"""LFW View-2 verification and 1:N identification of several configurations, side by side.

For each ``DETECTOR:RECOGNIZER`` (a recognizer may be a fusion ``fusion:A+B[+C]``):
10-fold accuracy ± std (threshold chosen on the 9 other folds), TAR at FAR=1e-3,
AUC, EER on the 6,000 View-2 pairs, and with ``--identification`` rank-1 and
DIR at FPIR=1e-2 / 1e-1 on all of LFW (the protocol of docs/evaluation.md,
seed 0). Everything goes through ``facetrust.evaluation`` and its embedding
cache, exactly as ``facetrust eval lfw`` / ``eval identification`` do.

    nice python bench/bench_lfw_accuracy.py --identification

writes ``bench/results/lfw_accuracy.{md,json}``.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS  # noqa: E402

from facetrust.evaluation.cache import EmbeddingCache  # noqa: E402
from facetrust.evaluation.embedder import EvalModel  # noqa: E402
from facetrust.evaluation.identification import identification_metrics, run_identification, split_identities  # noqa: E402
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs  # noqa: E402
from facetrust.evaluation.verification import run_verification  # noqa: E402
from facetrust.zoo.store import NonCommercialLicenseWarning  # noqa: E402

CONFIGURATIONS = (
    "yunet:edgeface-xxs",
    "yunet:edgeface-xs",
    "yunet:reid-0095",
    "yunet:w600k-mbf",
    "yunet:fusion:edgeface-xs+reid-0095",
    "yunet:fusion:edgeface-xs+edgeface-xxs+reid-0095",
    "yunet:fusion:reid-0095+w600k-mbf",
    "yunet:fusion:edgeface-xs+reid-0095+w600k-mbf",
)


def licence(detector: str, recognizer: str) -> str:
    """'permissive' when every model file behind the configuration allows commercial use."""
    from facetrust.detection import DETECTORS
    from facetrust.recognition import RECOGNIZERS
    from facetrust.zoo.manifest import get_model

    names = [*RECOGNIZERS.get_class(recognizer).zoo_models, *getattr(DETECTORS.get_class(detector), "zoo_models", ())]
    return "permissive" if all(get_model(n).commercial_use for n in names) else "non-commercial"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configurations", nargs="*", default=list(CONFIGURATIONS), metavar="DETECTOR:RECOGNIZER")
    parser.add_argument("--identification", action="store_true", help="also 1:N on all of LFW")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS / "lfw_accuracy")
    args = parser.parse_args()
    models = [EvalModel(*spec.split(":", 1), fallback_box=LFW_FALLBACK_BOX) for spec in args.configurations]
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    rows: dict[str, dict] = {}
    with warnings.catch_warnings(), EmbeddingCache() as cache:
        warnings.simplefilter("ignore", NonCommercialLicenseWarning)
        run = run_verification(pairs, models, cache, workers=args.workers)
        verification = run.metrics()
        split = split_identities(LFW_ROOT, seed=0) if args.identification else None
        embedded = run_identification(split, models, cache, workers=args.workers) if split else {}
    for model in models:
        entry = verification[model.label]
        rows[model.label] = {"licence": licence(model.detector, model.recognizer), "verification": entry}
        if split:
            rows[model.label]["identification"] = identification_metrics(split, embedded[model.label])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    header = "| configuration | licence | accuracy % ± std (10-fold) | TAR@FAR=1e-3 % | AUC | EER % |"
    if split:
        header += " rank-1 % | rank-5 % | DIR@FPIR=1e-2 % | DIR@FPIR=1e-1 % |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for label, row in rows.items():
        v = row["verification"]
        line = (f"| `{label}` | {row['licence']} | {100 * v['accuracy']:.2f} ± {100 * v['accuracy_std']:.2f} | "
                f"{100 * v['tar_at_far']['0.001']:.2f} | {v['auc']:.5f} | {100 * v['eer']:.2f} |")
        if split:
            i = row["identification"]
            line += (f" {100 * i['rank1']:.2f} | {100 * i['rank5']:.2f} | {100 * i['dir_at_fpir']['0.01']:.2f} | "
                     f"{100 * i['dir_at_fpir']['0.1']:.2f} |")
        lines.append(line)
    text = "\n".join(lines) + "\n"
    args.out.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {args.out.with_suffix('.md')} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
