"""``trainable_last_layers``: only the last layers train, from stored outputs of the frozen ones
(real aligned LFW crops, the zoo MobileFaceNet)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from facetrust.training.config import load_config  # noqa: E402
from facetrust.training.data import load_dataset  # noqa: E402
from facetrust.training.errors import TrainingConfigError  # noqa: E402
from facetrust.training.frozen_prefix import (FrozenFeatures, FrozenPrefix, dense_layers,  # noqa: E402
                                              freeze_all_but_last)
from facetrust.training.trainer import build_model, train_recognizer  # noqa: E402


def _config(cache: Path, output: Path, *extra: str):
    return load_config("base", [f"data={cache}", "aligned=true", f"output={output}", "pretrained=zoo",
                                "batch_size=4", "max_steps=4", "lr=0.05", "seed=7", "save_every=2", *extra])


@pytest.mark.parametrize("count", [5, 6])
def test_stored_frozen_outputs_give_the_whole_networks_embeddings(aligned_cache: Path, tmp_path: Path,
                                                                  count: int) -> None:
    config = _config(aligned_cache, tmp_path)
    dataset = load_dataset(aligned_cache, 2)
    model = build_model(config, len(dataset.identities)).eval()
    first, frozen = freeze_all_but_last(model.backbone, count)
    assert first == dense_layers(model.backbone)[-count]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    paths = dataset.paths[:6]
    crops = (torch.from_numpy(dataset.load(np.arange(6))).permute(0, 3, 1, 2).float() - model.mean) / model.std
    with torch.no_grad():
        whole, mirrored = model.backbone(crops), model.backbone(crops.flip(3))
    prefix = FrozenPrefix(model.backbone, first)
    store = FrozenFeatures(prefix, tmp_path / "frozen")
    features = store.load(paths, lambda indices: crops[indices], progress=False)
    assert features.shape[:2] == (6, 2) and len(list(store.folder.glob("*.npy"))) == 6
    # Stored: a second load reads the files (no crops needed) and gives the same values.
    assert torch.equal(store.load(paths, lambda indices: pytest.fail("recomputed"), progress=False), features)
    prefix.engage()
    with torch.no_grad():
        assert torch.allclose(model.backbone(features[:, 0]), whole, atol=1e-5)
        assert torch.allclose(model.backbone(features[:, 1]), mirrored, atol=1e-5)


def test_training_changes_only_the_last_layers_and_resumes_exactly(aligned_cache: Path, tmp_path: Path) -> None:
    tail = ("trainable_last_layers=5", f"frozen_cache={tmp_path / 'frozen'}")
    full = train_recognizer(_config(aligned_cache, tmp_path / "full", *tail), progress=False)
    assert len(full.losses) == 4 and all(np.isfinite(full.losses))
    trained = torch.load(full.checkpoint, weights_only=False)["model"]
    zoo = build_model(_config(aligned_cache, tmp_path), len(full.identities)).state_dict()
    first = dense_layers(build_model(_config(aligned_cache, tmp_path), 2).backbone)[-5]
    names = [name for name, _ in zoo.items() if name.startswith("backbone.")]
    cut = next(i for i, name in enumerate(names) if name.startswith(f"backbone.{first}."))
    # Before the first trainable layer: every weight and batch-norm statistic as in the zoo model.
    assert all(torch.equal(trained[name], zoo[name]) for name in names[:cut])
    changed = [name for name in names[cut:] if not name.endswith("num_batches_tracked")]
    assert changed and all(not torch.equal(trained[name], zoo[name]) for name in changed)
    # The same run interrupted after 2 steps and resumed repeats the losses and the weights.
    first_part = train_recognizer(_config(aligned_cache, tmp_path / "split", *tail), progress=False, stop_after=2)
    rest = train_recognizer(_config(aligned_cache, tmp_path / "split", *tail, "resume=true"), progress=False)
    assert first_part.losses + rest.losses == pytest.approx(full.losses, rel=1e-5)
    resumed = torch.load(rest.checkpoint, weights_only=False)["model"]
    assert all(torch.allclose(resumed[key].float(), trained[key].float(), atol=1e-6) for key in trained)


def test_trainable_last_layers_out_of_range_is_a_config_error(aligned_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainingConfigError, match="trainable_last_layers must be 0"):
        train_recognizer(_config(aligned_cache, tmp_path, "trainable_last_layers=999"), progress=False)
    with pytest.raises(TrainingConfigError, match="trainable_last_layers must be >= 0"):
        _config(aligned_cache, tmp_path, "trainable_last_layers=-1")
