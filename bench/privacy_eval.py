"""The numbers of docs/privacy.md: `facetrust eval protection` on the cached LFW View-2 embeddings.

Same as `facetrust eval protection --root ... --pairs ... --compare yunet:mobilefacenet --report
bench/results/privacy`, except that a configuration whose cache is incomplete is evaluated on the
pairs whose two images are cached (printed), instead of embedding the rest.

    python bench/privacy_eval.py
"""
from __future__ import annotations

import json

from common import LFW_PAIRS, LFW_ROOT, RESULTS
from privacy_calibration import CONFIGURATIONS, cached_pairs
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.report import evaluate_protection


def main() -> None:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    report = RESULTS / "privacy"
    combined: dict = {"configurations": {}}
    with EmbeddingCache() as cache:
        for detector, recognizer in CONFIGURATIONS:
            model = EvalModel(detector, recognizer, fallback_box=LFW_FALLBACK_BOX)
            subset = cached_pairs(pairs, model, cache)
            result = evaluate_protection(subset, [model], cache, report=report / recognizer, progress=False)
            combined["protocol"] = result["protocol"]
            combined["configurations"].update(result["configurations"])
            combined["configurations"][model.label]["pairs_of_view2"] = f"{len(subset)} of {len(pairs)}"
            print(json.dumps(result["configurations"], indent=1), flush=True)
    (report / "protection.json").write_text(json.dumps(combined, indent=1) + "\n")


if __name__ == "__main__":
    main()
