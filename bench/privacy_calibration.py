"""Fit what template protection ships, from LFW View-2 folds 1-5 only (folds 6-10 stay for the evaluation):

1. facetrust/privacy/centres.json: each recognizer's mean embedding (public statistics the
   schemes centre on);
2. the parameters chosen by the fixed rule (facetrust.privacy.evaluation.choose_params), printed with
   every setting the rule tried (mean and worst-key drops on folds 1-5; also in
   bench/results/privacy_selection_<recognizer>_<scheme>.json);
3. facetrust/privacy/calibration.json: protected-score thresholds at FMR 1e-2 / 1e-3 / 1e-4
   for those parameters (a protected gallery's default thresholds).

Embeddings come from the evaluation cache (`facetrust eval lfw --compare yunet:mobilefacenet` fills it);
only pairs whose images are cached are used (the count is printed).

    python bench/privacy_calibration.py centres [RECOGNIZER]      # step 1 (one recognizer, or all)
    python bench/privacy_calibration.py thresholds [RECOGNIZER]   # steps 2-3
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np

from common import LFW_PAIRS, LFW_ROOT, RESULTS, ROOT
from facetrust.evaluation.cache import EmbeddingCache, content_hash
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, Pair, read_lfw_pairs
from facetrust.privacy import create_protector
from facetrust.recognition.fusion import PREFIX, parse_members
from facetrust.privacy.evaluation import TUNING_FOLDS, calibrate_thresholds, choose_params, eval_key, load_pair_data

#: Every recognizer protection is calibrated for: the default (EdgeFace-XS), the earlier ones, and the best of
#: the zoo (w600k-mbf, non-commercial; the `accurate` and `accurate-nc` presets' fusions). A fusion's embeddings
#: are composed from its members' cached ones (facetrust.evaluation.embedder).
CONFIGURATIONS = [("dlib-hog", "dlib-resnet"), ("yunet", "mobilefacenet"), ("yunet", "edgeface-xs"),
                  ("yunet", "w600k-mbf"), ("yunet", "fusion:edgeface-xs+reid-0095"),
                  ("yunet", "fusion:edgeface-xs+reid-0095+w600k-mbf")]
FMRS = (1e-2, 1e-3, 1e-4)
OUT = ROOT / "facetrust" / "privacy"


def cached_pairs(pairs: list[Pair], model: EvalModel, cache: EmbeddingCache) -> list[Pair]:
    """The pairs whose two images are both in the cache: all of them once the cache is complete."""
    paths = sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})
    hashes = {p: content_hash(p) for p in paths}
    # A fusion is cached per member: an image counts when every member has it.
    members = parse_members(model.recognizer) if model.recognizer.startswith(PREFIX) else (model.recognizer,)
    found = set(hashes.values())
    for member in members:
        found &= set(cache.get_many(replace(model, recognizer=member).cache_key(), hashes.values()))
    kept = [p for p in pairs if hashes[p.path_a] in found and hashes[p.path_b] in found]
    print(f"{model.label}: {len(kept)} of {len(pairs)} pairs have both images cached", flush=True)
    return kept


def _existing(name: str) -> dict:
    path = OUT / name
    return json.loads(path.read_text()) if path.is_file() else {}


def main(step: str, only: str | None = None) -> None:
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    centres, calibration = _existing("centres.json"), _existing("calibration.json")
    with EmbeddingCache() as cache:
        for detector, recognizer in CONFIGURATIONS:
            if only is not None and recognizer != only:
                continue
            model = EvalModel(detector, recognizer, fallback_box=LFW_FALLBACK_BOX)
            data = load_pair_data(cached_pairs(pairs, model, cache), model, cache)
            train = data.vectors[data.images_in(TUNING_FOLDS)]
            if step == "centres":
                centres[recognizer] = {"mean": [round(float(v), 7) for v in train.mean(axis=0)],
                                       "images": int(len(train)), "detector": detector,
                                       "source": "LFW View-2 folds 1-5 (pair images)"}
                print(recognizer, len(train), "images, |mean| =", float(np.linalg.norm(train.mean(axis=0))))
                continue
            previous, calibration[recognizer] = calibration.get(recognizer, {}), {}
            for scheme in ("slerp", "biohash"):
                trace: list[dict] = []
                params = create_protector(scheme, eval_key(0), data.vectors.shape[1],
                                          **choose_params(scheme, data, trace=trace)).params()
                for tried in trace:
                    print(" ", recognizer, scheme, json.dumps(tried), flush=True)
                RESULTS.mkdir(parents=True, exist_ok=True)
                (RESULTS / f"privacy_selection_{recognizer}_{scheme}.json").write_text(json.dumps(trace, indent=1) + "\n")
                thresholds = calibrate_thresholds(data, scheme, params, FMRS)
                entry = {"params": params, "thresholds": thresholds, "source": "LFW View-2 folds 1-5, 5 keys"}
                before = previous.get(scheme)
                if before:  # galleries protected with an earlier default keep its thresholds
                    earlier = [{k: before[k] for k in ("params", "thresholds", "source")}, *before.get("earlier", [])]
                    earlier = [e for e in earlier if e["params"] != params]
                    if earlier:
                        entry["earlier"] = earlier
                calibration[recognizer][scheme] = entry
                print(recognizer, scheme, params, thresholds, flush=True)
    if step == "centres":
        (OUT / "centres.json").write_text(json.dumps(centres, indent=1) + "\n")
    else:
        (OUT / "calibration.json").write_text(json.dumps(calibration, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "thresholds", sys.argv[2] if len(sys.argv) > 2 else None)
