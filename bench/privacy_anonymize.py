"""Anonymisation on LFW: re-identification of anonymised faces at FMR 1e-3 and the detector's miss rate.

Images: the first image of N people of LFW View-2 folds 6-10 (default 150), dlib-hog +
dlib-resnet, every method at the default margin. The miss rate over all View-2 pair
images comes from the evaluation cache (`detected` flags of `facetrust eval lfw`).

    python bench/privacy_anonymize.py [N]
"""
from __future__ import annotations

import json
import sys

from common import LFW_PAIRS, LFW_ROOT
from facetrust import FaceAnalyzer
from facetrust.evaluation.cache import EmbeddingCache, content_hash
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.privacy.anonymize import METHODS, evaluate_anonymization


def main(people: int) -> None:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    test_images = sorted({p.path_a for p in pairs if p.fold >= 5} | {p.path_b for p in pairs if p.fold >= 5})
    first: dict[str, object] = {}
    for path in test_images:
        first.setdefault(path.parent.name, path)
    sample = list(first.values())[:people]
    analyzer = FaceAnalyzer()
    out: dict = {"sample_images": len(sample)}
    for method in METHODS:
        out[method] = evaluate_anonymization(sample, analyzer, method)
        print(method, out[method], flush=True)
    all_images = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    with EmbeddingCache() as cache:
        found = cache.get_many(EvalModel(fallback_box=LFW_FALLBACK_BOX).cache_key(),
                               [content_hash(p) for p in all_images])
    out["view2_detector_miss_rate"] = {"images": len(found),
                                       "missed": sum(not e.detected for e in found.values())}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
