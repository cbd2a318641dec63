"""The contract of the training registries (margin heads, backbones), walked over every entry
like tests/test_registry_contract.py walks the inference registries: adding a head or a
backbone is one file + one register line, and this test holds each entry to its protocol."""
from __future__ import annotations

import importlib
import pkgutil

import pytest

torch = pytest.importorskip("torch")

import facetrust.training as training  # noqa: E402
from facetrust.registry import Registry  # noqa: E402
from facetrust.training.backbones import BACKBONES, create_backbone  # noqa: E402
from facetrust.training.heads import HEADS, create_head  # noqa: E402

#: Embedding size each backbone is built with (MobileFaceNet's is fixed by its weights).
EMBEDDING_SIZE = {"mobilefacenet": 128}


def test_every_training_registry_is_walked() -> None:
    found = set()
    for module in pkgutil.iter_modules(training.__path__):
        if module.ispkg:
            package = importlib.import_module(f"{training.__name__}.{module.name}")
            found |= {value.kind for value in vars(package).values() if isinstance(value, Registry)}
    assert found == {HEADS.kind, BACKBONES.kind}


@pytest.mark.parametrize("name", HEADS.names())
def test_head_adds_a_margin_to_the_target_and_leaves_easy_negatives_alone(name: str) -> None:
    """Every head maps (cosine, labels, norms) to logits of the same shape; the target logit is
    below s*cos (a margin makes the true class harder), and a negative far below the target
    (no hard negative for CurricularFace) stays s*cos."""
    entry = next(e for e in HEADS.entries() if e.name == name)
    assert entry.summary
    scale = 32.0
    head = create_head(name, scale=scale, margin=0.3).train()
    generator = torch.Generator().manual_seed(0)
    cosine = torch.rand(8, 20, generator=generator) * 0.2 - 0.1  # negatives near 0 (easy)
    labels = torch.arange(8) * 2
    rows = torch.arange(8)
    cosine[rows, labels] = 0.7  # targets well above every negative
    norms = torch.linspace(10.0, 40.0, 8)
    logits = head(cosine, labels, norms)
    assert logits.shape == cosine.shape and torch.isfinite(logits).all()
    assert (logits[rows, labels] < scale * cosine[rows, labels]).all()
    negatives = torch.ones_like(cosine, dtype=torch.bool)
    negatives[rows, labels] = False
    assert torch.allclose(logits[negatives], scale * cosine[negatives], atol=1e-5)


@pytest.mark.parametrize("name", BACKBONES.names())
def test_backbone_maps_aligned_crops_to_embeddings_and_declares_its_normalisation(name: str) -> None:
    entry = next(e for e in BACKBONES.entries() if e.name == name)
    assert entry.summary
    size = EMBEDDING_SIZE.get(name, 512)
    model = create_backbone(name, size).eval()
    assert len(model.MEAN) == 3 and len(model.STD) == 3 and min(model.STD) > 0
    with torch.no_grad():
        embeddings = model(torch.randn(2, 3, 112, 112))
    assert embeddings.shape == (2, size) and torch.isfinite(embeddings).all()
