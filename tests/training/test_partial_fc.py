"""Partial FC: rate 1.0 is the full softmax; lower rates keep positives and only touch sampled centres."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from facetrust.training.heads import create_head  # noqa: E402
from facetrust.training.partial_fc import PartialFC  # noqa: E402


def _batch(classes: int = 50, dim: int = 16, size: int = 8):
    torch.manual_seed(0)
    embeddings = torch.randn(size, dim, requires_grad=True)
    labels = torch.randint(0, classes, (size,))
    return embeddings, labels


@pytest.mark.parametrize("head", ["arcface", "cosface", "curricularface", "adaface"])
def test_rate_one_equals_full_softmax(head: str) -> None:
    embeddings, labels = _batch()
    module = PartialFC(create_head(head, 64.0, 0.3), 50, 16, sample_rate=1.0)
    loss = module(embeddings, labels)
    grad_x, grad_w = torch.autograd.grad(loss, [embeddings, module.weight])

    # The full softmax written out independently: every centre, one linear layer, cross-entropy.
    weight = module.weight.detach().clone().requires_grad_(True)
    reference_head = create_head(head, 64.0, 0.3)
    cosine = F.normalize(embeddings) @ F.normalize(weight).T
    reference = F.cross_entropy(reference_head(cosine, labels, embeddings.norm(dim=1)), labels)
    ref_x, ref_w = torch.autograd.grad(reference, [embeddings, weight])
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    assert torch.allclose(grad_x, ref_x, atol=1e-6)
    assert torch.allclose(grad_w, ref_w, atol=1e-6)


def test_sampling_keeps_positives_and_leaves_the_rest_untouched() -> None:
    embeddings, labels = _batch(classes=1000)
    module = PartialFC(create_head("arcface", 64.0, 0.5), 1000, 16, sample_rate=0.1)
    generator = torch.Generator().manual_seed(1)
    index, local = module.sample(labels, generator)
    assert len(index) == 100
    assert torch.equal(index[local], labels)
    loss = module(embeddings, labels, torch.Generator().manual_seed(1))
    loss.backward()
    touched = module.weight.grad.abs().sum(1) > 0
    assert set(torch.nonzero(touched).flatten().tolist()) <= set(index.tolist())
    assert set(labels.tolist()) <= set(torch.nonzero(touched).flatten().tolist())
    # The sampled loss is the full softmax restricted to the sampled centres.
    cosine = F.normalize(embeddings) @ F.normalize(module.weight[index]).T
    expected = F.cross_entropy(create_head("arcface", 64.0, 0.5)(cosine, local), local)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_more_positives_than_the_rate_are_all_kept() -> None:
    labels = torch.arange(20)
    module = PartialFC(create_head("cosface", 64.0, 0.35), 40, 8, sample_rate=0.1)
    index, local = module.sample(labels)
    assert torch.equal(index, torch.arange(20)) and torch.equal(local, labels)
