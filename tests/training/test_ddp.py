"""DDP under torchrun (gloo, CPU): 2 processes x 1 micro-batch give the same parameters after a step
as 1 process accumulating the same 2 micro-batches (the same global batch, with BatchNorm
statistics per micro-batch in both)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def _parameters(checkpoint: Path) -> dict[str, "torch.Tensor"]:
    from facetrust.training.config import TrainConfig
    from facetrust.training.trainer import build_model

    state = torch.load(checkpoint, weights_only=False)
    names = {name for name, _ in build_model(TrainConfig(**state["config"]), len(state["identities"])).named_parameters()}
    return {name: value for name, value in state["model"].items() if name in names}


def test_two_processes_match_one_process_on_the_same_global_batch(aligned_cache: Path, tmp_path: Path) -> None:
    common = ["base", "--set", f"data={aligned_cache}", "--set", "aligned=true", "--set", "batch_size=2",
              "--set", "max_steps=1", "--set", "head=arcface", "--set", "cifp=1.0", "--set", "seed=3"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "train", "recognizer", *common,
                             "--set", "gradient_acc=2", "--set", f"output={tmp_path / 'one'}"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          "-m", "facetrust.cli.main", "train", "recognizer", *common,
                          "--set", "gradient_acc=1", "--set", f"output={tmp_path / 'two'}"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one, two = _parameters(tmp_path / "one" / "checkpoint.pt"), _parameters(tmp_path / "two" / "checkpoint.pt")
    before = _parameters_at_init(tmp_path)
    assert one.keys() == two.keys() and len(one) > 100
    # The step moved the weights far more than the tolerance, so the comparison below can tell.
    assert max((one[k] - before[k]).abs().max().item() for k in one) > 1e-2
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5), name


def _parameters_at_init(tmp_path: Path) -> dict[str, "torch.Tensor"]:
    from facetrust.training.config import TrainConfig
    from facetrust.training.trainer import build_model

    state = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    torch.manual_seed(3)
    model = build_model(TrainConfig(**state["config"]), len(state["identities"]))
    return dict(model.named_parameters())
