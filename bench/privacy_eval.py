"""The numbers of docs/privacy.md: `facetrust eval protection` on the cached LFW View-2 embeddings.

Same as `facetrust eval protection --root ... --pairs ... --compare yunet:mobilefacenet --report
bench/results/privacy`, except that a configuration whose cache is incomplete is evaluated on the
pairs whose two images are cached (printed), instead of embedding the rest.

    python bench/privacy_eval.py [RECOGNIZER] [SCHEMES]     # e.g. edgeface-xs slerp (default: all)
"""
from __future__ import annotations

import json
import sys

from common import LFW_PAIRS, LFW_ROOT, RESULTS
from privacy_calibration import CONFIGURATIONS, cached_pairs
from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.report import evaluate_protection


def main(only: str | None = None, schemes: tuple[str, ...] = ("slerp", "biohash")) -> None:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    report = RESULTS / "privacy"
    path = report / "protection.json"
    combined: dict = json.loads(path.read_text()) if path.is_file() else {"configurations": {}}
    with EmbeddingCache() as cache:
        for detector, recognizer in CONFIGURATIONS:
            if only is not None and recognizer != only:
                continue
            model = EvalModel(detector, recognizer, fallback_box=LFW_FALLBACK_BOX)
            subset = cached_pairs(pairs, model, cache)
            result = evaluate_protection(subset, [model], cache, schemes, report=report / recognizer, progress=False)
            combined["protocol"] = result["protocol"]
            for label, entry in result["configurations"].items():  # schemes not rerun keep their numbers
                kept = combined["configurations"].get(label, {}).get("schemes", {})
                combined["configurations"][label] = {**entry, "schemes": {**kept, **entry["schemes"]}}
            combined["configurations"][model.label]["pairs_of_view2"] = f"{len(subset)} of {len(pairs)}"
            print(json.dumps(result["configurations"], indent=1), flush=True)
    path.write_text(json.dumps(combined, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None,
         tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("slerp", "biohash"))
