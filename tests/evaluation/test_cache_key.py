"""The evaluation cache key names every model file behind a configuration."""
from __future__ import annotations

import pytest

from facetrust.evaluation.embedder import EvalModel
from facetrust.zoo import get_model


@pytest.mark.parametrize("detector", ["yunet", "retinaface", "yunet-retinaface"])
def test_the_key_holds_the_detectors_declared_model_files(detector: str) -> None:
    from facetrust.detection import DETECTORS

    files = EvalModel(detector, "edgeface-xs").model_files()
    for zoo in DETECTORS.get_class(detector).zoo_models:
        assert {f.path for f in get_model(zoo).files} <= set(files)
    # So two detectors never share cached embeddings.
    assert EvalModel("retinaface", "edgeface-xs").cache_key() != EvalModel("yunet-retinaface", "edgeface-xs").cache_key()
