"""One fold of LFW View 2 (600 pairs, ~800 images) end to end with the default preset,
through the same code path as ``facetrust eval lfw``: parallel embedding into the
on-disk cache, centre-face selection, centre-crop fallback, cross-validated accuracy.

The 600 pairs are split into 10 sub-folds; each is scored with the threshold that
maximises accuracy on the other 9. The default (YuNet + EdgeFace-XS, issue 15) measured
99.00% here (6 errors, a face found in every image). The floor is what the previous
default, dlib-hog + dlib-resnet (the ``dlib`` preset), measured here: 98.67% (8 errors; no
face on 4 images), itself above the face_recognition package's 98.25% +- 0.60 over the
10 folds of this grayscale LFW-a copy: the default must not fall below the pipeline it
replaced. A second run must come entirely from the cache.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from facetrust.evaluation.cache import EmbeddingCache
from facetrust.evaluation.embedder import EvalModel
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
from facetrust.evaluation.verification import run_verification

ACCURACY_FLOOR = 0.9867


def test_lfw_fold_1_accuracy_with_default_models(shared, tmp_path):
    pairs = [p for p in read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw") if p.fold == 0]
    assert len(pairs) == 600
    pairs = [replace(p, fold=p.line % 10) for p in pairs]  # one fold as its own 10-fold cross-validation
    model = EvalModel(fallback_box=LFW_FALLBACK_BOX)
    with EmbeddingCache(tmp_path / "cache.sqlite") as cache:
        run = run_verification(pairs, [model], cache, workers=2, progress=False)
        again = run_verification(pairs, [model], cache, workers=2, progress=False)
    metrics = run.metrics()[model.label]
    embedded = run.embedded[model.label]
    print(f"LFW fold 1: accuracy {metrics['accuracy']:.4f}, no face in {metrics['failure_to_detect']} images")
    assert metrics["pairs_scored"] == 600
    assert metrics["failure_to_detect"] <= 10
    if metrics["failure_to_detect"]:  # without the fallback those images' pairs drop out
        assert 0 < metrics["without_fallback"]["pairs_skipped"] < 600
    assert metrics["accuracy"] >= ACCURACY_FLOOR
    assert again.embedded[model.label].computed == 0
    np.testing.assert_array_equal(again.with_fallback[model.label].scores, run.with_fallback[model.label].scores)
    assert embedded.computed == len(embedded.embeddings)
