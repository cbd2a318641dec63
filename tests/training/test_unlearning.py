"""Forgetting an identity on real aligned LFW crops: the forgotten person's embeddings turn away
from their template, the others keep theirs, the adapters merge exactly, and bad requests are
typed errors that write nothing."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from facetrust.training.config import TrainConfig, load_config  # noqa: E402
from facetrust.training.data import load_dataset  # noqa: E402
from facetrust.training.errors import CheckpointError, TrainingConfigError  # noqa: E402
from facetrust.training.trainer import build_model, train_recognizer  # noqa: E402
from facetrust.training.unlearning import ForgetOptions, forget_identities, read_identity_list  # noqa: E402

FORGOTTEN = "Al_Gore"


@pytest.fixture(scope="module")
def trained(aligned_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of the zoo MobileFaceNet after one step on the 4 LFW identities (it knows them)."""
    output = tmp_path_factory.mktemp("trained")
    config = load_config("base", [f"data={aligned_cache}", "aligned=true", f"output={output}", "batch_size=8",
                                  "max_steps=1", "lr=0.0001", "pretrained=zoo", "seed=3"])
    return train_recognizer(config, progress=False).checkpoint


def _model(checkpoint: Path):  # noqa: ANN202 - a RecognitionModel
    state = torch.load(checkpoint, weights_only=False)
    model = build_model(TrainConfig(**{**state["config"], "pretrained": ""}), len(state["identities"]))
    model.load_state_dict(state["model"])
    return model.eval()


def _embeddings(checkpoint: Path, aligned_cache: Path) -> tuple[np.ndarray, np.ndarray]:
    dataset = load_dataset(aligned_cache, 2)
    crops = torch.from_numpy(dataset.load(np.arange(len(dataset)))).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        vectors = torch.nn.functional.normalize(_model(checkpoint).embed(crops)).numpy()
    return vectors, np.array(dataset.identities)[dataset.labels]


def test_forgetting_turns_one_identity_away_and_keeps_the_others(trained: Path, aligned_cache: Path,
                                                                 tmp_path: Path) -> None:
    digest = hashlib.sha256(trained.read_bytes()).hexdigest()
    result = forget_identities(trained, [FORGOTTEN], tmp_path / "forgot", options=ForgetOptions(steps=25, batch_size=8),
                               progress=False)
    assert hashlib.sha256(trained.read_bytes()).hexdigest() == digest  # the original is untouched
    before, names = _embeddings(trained, aligned_cache)
    after, _ = _embeddings(result.checkpoint, aligned_cache)
    gone = names == FORGOTTEN
    template = before[gone].mean(0) / np.linalg.norm(before[gone].mean(0))
    # Before: the person's images sit close to their template; after: not (the hinge is at cosine -0.2).
    assert (before[gone] @ template).mean() > 0.6
    assert (after[gone] @ template).mean() < 0.2
    # Re-enrolled with the new model, the person's images no longer agree with each other either.
    pairs = after[gone] @ after[gone].T
    assert pairs[~np.eye(gone.sum(), dtype=bool)].mean() < 0.3
    # Everyone else keeps their embedding.
    assert np.einsum("ij,ij->i", before[~gone], after[~gone]).min() > 0.9
    assert result.forgotten == [FORGOTTEN] and result.steps == 25 and len(result.losses) == 25
    assert 0 < result.active_layers <= result.adapted_layers and result.adapter_bytes > 0

    state = torch.load(result.checkpoint, weights_only=False)
    assert state["forgotten"] == [FORGOTTEN] and "optimizer" not in state
    row = state["identities"].index(FORGOTTEN)
    assert not state["model"]["classifier.weight"][row].any()  # the class centre is erased


def test_a_negative_pair_margin_spreads_the_persons_images_further(trained: Path, aligned_cache: Path,
                                                                 tmp_path: Path) -> None:
    # The pair hinge pushes the cosine between two images of the forgotten person below pair_margin.
    spread = {}
    for pair_margin in (0.0, -0.2):
        result = forget_identities(trained, [FORGOTTEN], tmp_path / f"forgot{pair_margin}", progress=False,
                                   options=ForgetOptions(steps=25, batch_size=8, margin=0.0, pair_margin=pair_margin))
        after, names = _embeddings(result.checkpoint, aligned_cache)
        gone = names == FORGOTTEN
        spread[pair_margin] = (after[gone] @ after[gone].T)[~np.eye(gone.sum(), dtype=bool)].mean()
    assert spread[-0.2] < spread[0.0]
    with pytest.raises(TrainingConfigError, match="pair_margin"):
        ForgetOptions(pair_margin=-1.5)


@pytest.mark.parametrize("last_layers", [8, 0])
def test_mirrored_copies_of_the_forgotten_images_are_forgotten_too(trained: Path, aligned_cache: Path,
                                                                   tmp_path: Path, last_layers: int) -> None:
    # With mirror_forgotten the mirrored images join the forgotten person's; both code paths (the frozen
    # early layers computed once, or the whole network each step) must flip the same images.
    result = forget_identities(trained, [FORGOTTEN], tmp_path / "forgot", progress=False,
                               options=ForgetOptions(steps=25, batch_size=8, last_layers=last_layers,
                                                     mirror_forgotten=True))
    dataset = load_dataset(aligned_cache, 2)
    names = np.array(dataset.identities)[dataset.labels]
    crops = torch.from_numpy(dataset.load(np.arange(len(dataset)))).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        before = torch.nn.functional.normalize(_model(trained).embed(crops)).numpy()
        mirrored = torch.nn.functional.normalize(_model(result.checkpoint).embed(crops.flip(-1))).numpy()
        after = torch.nn.functional.normalize(_model(result.checkpoint).embed(crops)).numpy()
    gone = names == FORGOTTEN
    template = before[gone].mean(0) / np.linalg.norm(before[gone].mean(0))
    assert (after[gone] @ template).mean() < 0.2 and (mirrored[gone] @ template).mean() < 0.2
    assert np.einsum("ij,ij->i", before[~gone], after[~gone]).min() > 0.9


def test_merged_weights_equal_the_model_with_adapters(trained: Path, aligned_cache: Path, tmp_path: Path) -> None:
    from peft import LoraConfig, inject_adapter_in_model

    result = forget_identities(trained, [FORGOTTEN], tmp_path / "forgot", options=ForgetOptions(steps=3, batch_size=8),
                               progress=False)
    adapter = torch.load(result.adapter, weights_only=False)
    model = _model(trained)
    inject_adapter_in_model(LoraConfig(r=adapter["rank"], lora_alpha=adapter["alpha"], lora_dropout=0.0,
                                       target_modules=adapter["target_modules"]), model.backbone)
    missing = model.backbone.load_state_dict(adapter["lora"], strict=False)
    assert not missing.unexpected_keys
    crops = torch.from_numpy(load_dataset(aligned_cache, 2).load(np.arange(4))).permute(0, 3, 1, 2).float()
    with torch.no_grad():
        assert torch.allclose(model.eval().embed(crops), _model(result.checkpoint).embed(crops), atol=1e-4)


def test_last_layers_only_adapts_those_and_the_shortcut_equals_the_full_network(trained: Path, tmp_path: Path) -> None:
    from facetrust.training.unlearning import _adapted_modules, _FrozenPrefix

    result = forget_identities(trained, [FORGOTTEN], tmp_path / "forgot", progress=False,
                               options=ForgetOptions(steps=2, batch_size=8, last_layers=5))
    adapter = torch.load(result.adapter, weights_only=False)
    backbone = _model(trained).backbone
    assert adapter["target_modules"] == _adapted_modules(backbone)[-5:] and result.adapted_layers == 5
    # The frozen early layers are computed once and skipped afterwards: same embeddings as the full network.
    for network in (backbone, build_model(TrainConfig(network="iresnet18", embedding_size=64), 4).backbone.eval()):
        prefix = _FrozenPrefix(network, _adapted_modules(network)[-5])
        batch = torch.randn(2, 3, 112, 112)
        with torch.no_grad():
            fed, full = prefix.run(batch)
            prefix.engage()
            assert torch.allclose(network(fed), full, atol=1e-5)
            prefix.release()
            assert torch.allclose(network(batch), full, atol=1e-5)


def test_bad_requests_are_typed_errors_and_write_nothing(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(TrainingConfigError, match="not trained on Nobody"):
        forget_identities(trained, ["Nobody"], out, progress=False)
    with pytest.raises(TrainingConfigError, match="every identity"):
        forget_identities(trained, ["Al_Gore", "Albert_Costa", "Amelia_Vega", "Angela_Bassett"], out, progress=False)
    with pytest.raises(TrainingConfigError, match="another folder"):
        forget_identities(trained, [FORGOTTEN], trained.parent, progress=False)
    with pytest.raises(TrainingConfigError, match="at least one"):
        forget_identities(trained, [], out, progress=False)
    with pytest.raises(TrainingConfigError, match="steps"):
        ForgetOptions(steps=0)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        forget_identities(tmp_path / "missing.pt", [FORGOTTEN], out, progress=False)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        forget_identities(junk, [FORGOTTEN], out, progress=False)
    assert not out.exists()


def test_identity_lists_from_the_command_line(tmp_path: Path) -> None:
    assert read_identity_list("a, b,,c") == ["a", "b", "c"]
    listing = tmp_path / "ids.txt"
    listing.write_text("# people who asked\nAl_Gore\n\nAmelia_Vega\n")
    assert read_identity_list(f"@{listing}") == ["Al_Gore", "Amelia_Vega"]
    with pytest.raises(TrainingConfigError, match="cannot read"):
        read_identity_list(f"@{tmp_path / 'missing.txt'}")
    with pytest.raises(TrainingConfigError, match="empty"):
        read_identity_list(" , ")


def test_cli_forget_reports_one_line_errors(trained: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "train", "forget", str(trained),
                          "--identities", "Nobody", "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0 and "not trained on Nobody" in run.stderr


def test_cli_defaults_are_the_library_defaults() -> None:
    from facetrust.cli.train import _FORGET

    defaults = ForgetOptions()
    for name in ("steps", "rank", "lr", "batch_size", "identities_per_batch", "retain_weight", "last_layers",
                 "group_sparsity", "margin", "pair_margin", "mirror_forgotten"):
        assert getattr(_FORGET, name) == getattr(defaults, name), name
