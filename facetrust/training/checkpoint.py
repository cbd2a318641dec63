"""Checkpoints: written atomically (temporary file + rename, so a crash never leaves a torn or
missing checkpoint) and checked against the config before resuming."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from facetrust.training.config import MODEL_KEYS, TrainConfig
from facetrust.training.errors import CheckpointError


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            torch.save(state, out)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, config: TrainConfig, identities: list[str]) -> dict[str, Any]:
    """The checkpoint at ``path``, after checking it was written for this config and these identities."""
    if not path.is_file():
        raise CheckpointError(f"cannot resume: no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(state, dict) or "config" not in state:
        raise CheckpointError(f"{path} is not a facetrust training checkpoint")
    saved = state["config"]
    defaults = TrainConfig()  # a checkpoint from before a key existed had its default
    different = [f"{key} ({saved.get(key, getattr(defaults, key))!r} in the checkpoint, {getattr(config, key)!r} now)"
                 for key in MODEL_KEYS if saved.get(key, getattr(defaults, key)) != getattr(config, key)]
    if different:
        raise CheckpointError(f"checkpoint {path} does not match the config: {'; '.join(different)}")
    if state["identities"] != identities:
        raise CheckpointError(f"checkpoint {path} was trained on other identities "
                              f"({len(state['identities'])} then, {len(identities)} now)")
    return state
