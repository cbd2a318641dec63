"""Frozen early layers, skipped: when only the last layers of a backbone change (fine-tuning its
tail, or adapters on its last layers when forgetting), what the first changing block receives for
an image is fixed, so it is computed once and fed in directly, which skips the costliest,
high-resolution early layers at every step.

Layers are counted as in ``dense_layers``: dense convolutions and linear layers, in registration
order (depthwise convolutions have too few weights to count as a layer of their own).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from facetrust.progress import Progress, track


def dense_layers(backbone: nn.Module) -> list[str]:
    """Names of the dense convolutions and linear layers of ``backbone``, in registration order."""
    return [name for name, module in backbone.named_modules()
            if (isinstance(module, nn.Conv2d) and module.groups == 1) or isinstance(module, nn.Linear)]


class FrozenPrefix:
    """Everything before the block holding the layer ``first_changed`` is frozen: ``run`` gives what
    that block (the split) receives; ``engage`` replaces the skipped modules with identities so that
    the backbone takes the split block's input, ``release`` puts them back. This needs a backbone
    that chains its children in registration order; callers compare the shortcut with the full
    network and drop it when they differ."""

    def __init__(self, backbone: nn.Module, first_changed: str) -> None:
        self.backbone = backbone
        path = first_changed.split(".")
        # The split: the shallowest ancestor of the first changed layer that is an element of an nn.Sequential.
        depth = next((d for d in range(1, len(path)) if isinstance(self._module(path[:d - 1]), nn.Sequential)),
                     len(path))
        self.split_name = ".".join(path[:depth])
        self.split = self._module(path[:depth])
        self.skipped: list[tuple[nn.Module, str]] = []  # (parent, name) of every module before the split
        for level in range(depth):
            parent = self._module(path[:level])
            for name, _ in parent.named_children():
                if name == path[level]:
                    break
                self.skipped.append((parent, name))
        self.saved: list[tuple[nn.Module, str, nn.Module]] = []

    def _module(self, path: list[str]) -> nn.Module:
        return self.backbone.get_submodule(".".join(path)) if path else self.backbone

    def run(self, normalised: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the split block receives, the backbone's output) for a normalised batch."""
        seen: list[torch.Tensor] = []
        hook = self.split.register_forward_pre_hook(lambda _, args: seen.append(args[0].detach()))
        try:
            output = self.backbone(normalised)
        finally:
            hook.remove()
        return seen[0], output

    def engage(self) -> None:
        """The skipped modules become identities: the backbone then takes the split block's input."""
        self.saved = [(parent, name, getattr(parent, name)) for parent, name in self.skipped]
        for parent, name in self.skipped:
            setattr(parent, name, nn.Identity())

    def release(self) -> None:
        for parent, name, module in self.saved:
            setattr(parent, name, module)
        self.saved = []


def freeze_all_but_last(backbone: nn.Module, count: int) -> tuple[str, list[nn.Module]]:
    """Freeze every module before the ``count``-th last dense layer (its parameters stop needing
    gradients); returns (that layer's name, the frozen modules, which must stay in inference mode
    so that their batch norms keep their statistics)."""
    from facetrust.training.errors import TrainingConfigError

    layers = dense_layers(backbone)
    if not 1 <= count <= len(layers):
        raise TrainingConfigError(f"trainable_last_layers must be 0 (all) or 1 to {len(layers)} "
                                  f"(the backbone's dense layers), got {count}")
    first = layers[-count]
    frozen: list[nn.Module] = []
    for name, module in backbone.named_modules():
        if name == first:
            break
        if name and not first.startswith(name + "."):  # ancestors of the first trainable layer stay
            frozen.append(module)
    for module in frozen:
        module.requires_grad_(False)
    return first, frozen


class FrozenFeatures:
    """What the split block receives, for every image of a dataset and its mirror image, stored
    under ``folder`` (one ``.npy`` of shape (2, C, H, W) per image, named by the image file's path,
    size and time, in a sub-folder named by a hash of the skipped layers' weights), so that runs
    with the same frozen layers share it."""

    def __init__(self, prefix: FrozenPrefix, folder: Path) -> None:
        self.prefix = prefix
        digest = hashlib.sha256(prefix.split_name.encode())
        for parent, name in prefix.skipped:
            for key, value in getattr(parent, name).state_dict().items():
                digest.update(f"{name}.{key}".encode())
                digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        self.folder = folder / digest.hexdigest()[:16]

    @staticmethod
    def _name(path: Path) -> str:
        stat = path.stat()
        return hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest() + ".npy"

    def load(self, paths: list[Path], crops: Callable[[list[int]], torch.Tensor], progress: Progress = True,
             batch: int = 64) -> torch.Tensor:
        """(N, 2, C, H, W): the split block's input for ``paths`` (second index: 0 as is, 1 mirrored);
        ``crops(indices)`` gives the normalised crops of those images, for the ones not stored yet."""
        self.folder.mkdir(parents=True, exist_ok=True)
        files = [self.folder / self._name(p) for p in paths]
        todo = [i for i, f in enumerate(files) if not f.is_file()]
        chunks = [todo[i:i + batch] for i in range(0, len(todo), batch)]
        with torch.no_grad():
            for chunk in track(chunks, len(chunks), "frozen layers", progress, unit="batches"):
                chunk = [i for i in chunk if not files[i].is_file()]  # another process may have stored them
                if not chunk:
                    continue
                images = crops(chunk)
                fed = torch.stack([self.prefix.run(images)[0], self.prefix.run(images.flip(3))[0]], 1)
                for i, features in zip(chunk, fed.numpy()):
                    handle, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
                    with os.fdopen(handle, "wb") as out:
                        np.save(out, features)
                    os.replace(tmp, files[i])
        return torch.from_numpy(np.stack([np.load(f) for f in files]))
