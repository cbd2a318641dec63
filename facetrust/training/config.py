"""Training configuration: a typed dataclass read from a TOML file that may extend a base file.

The layout follows insightface's ``arcface_torch`` (one base config, small files overriding a few
keys), in TOML rather than Python so that configs carry no code:

.. code-block:: toml

    extends = "base.toml"          # relative to this file; chains are allowed
    head = "cosface"
    margin = 0.35

``--set key=value`` overrides are applied last and converted to the field's type.
"""
from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from facetrust.training.errors import TrainingConfigError

BUILTIN_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class TrainConfig:
    # Model
    network: str = "mobilefacenet"          # mobilefacenet, iresnet18, iresnet50 or timm:<model name>
    pretrained: str = ""                    # "" (random init), "zoo" (the network's shipped weights) or a .pt file
    embedding_size: int = 128
    # Fine-tune only the last N dense layers (and what follows them); 0 = the whole network. The
    # frozen layers' outputs are computed once per image (and its mirror image) and kept in frozen_cache.
    trainable_last_layers: int = 0
    frozen_cache: str = ""                  # "" = <output>/frozen
    # Margin head (see facetrust.training.heads) and the CIFP add-on (0 = off)
    head: str = "arcface"
    scale: float = 64.0
    margin: float = 0.5
    cifp: float = 0.0
    cifp_threshold: float = 0.3
    # Partial FC: fraction of class centres per step (positives always kept); 1.0 = full softmax
    sample_rate: float = 1.0
    # Data: one folder per identity; aligned crops cached under cache_dir
    data: str = ""
    aligned: bool = False                   # data already holds 112x112 ArcFace-aligned crops
    cache_dir: str = ""                     # "" = <output>/aligned
    detector: str = "dlib-hog"
    min_images_per_identity: int = 2
    # Optimisation
    optimizer: str = "sgd"                  # sgd or adamw
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 128
    gradient_acc: int = 1
    epochs: int = 20
    max_steps: int = 0                      # 0 = run all epochs; else stop after this many optimiser steps
    seed: int = 2048
    # Hardware: "cpu" or "cuda" (under torchrun each process takes cuda:LOCAL_RANK). amp: mixed precision,
    # float16 with a gradient scaler on CUDA, bfloat16 on the CPU.
    device: str = "cpu"
    amp: bool = False
    # Output
    output: str = "runs/recognizer"
    save_every: int = 1000                  # optimiser steps between checkpoints (and at the end)
    resume: bool = False
    tensorboard: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Keys that change what the model or the training state is: a checkpoint must agree on them to resume.
MODEL_KEYS = ("network", "embedding_size", "head", "sample_rate", "optimizer", "batch_size", "gradient_acc", "seed",
              "trainable_last_layers")


def _field_types() -> dict[str, type]:
    hints = typing.get_type_hints(TrainConfig)
    return {f.name: hints[f.name] for f in dataclasses.fields(TrainConfig)}


def _convert(key: str, value: Any, kind: type, source: str) -> Any:
    """``value`` as ``kind``; text is parsed only when it comes from ``--set`` (TOML values are typed)."""
    text = source == "--set"
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text and value.lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.lower() in ("true", "1", "yes")
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if text:
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if text:
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str and isinstance(value, str):
        return value
    raise TrainingConfigError(f"{source}: {key} must be {kind.__name__}, got {value!r}")


def _read_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The merged keys of ``path`` and the files it extends (the extending file wins)."""
    path = path.resolve()
    if path in seen:
        raise TrainingConfigError(f"{path}: 'extends' loops back to itself")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrainingConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TrainingConfigError(f"{path}: cannot read config: {exc}") from None
    base = data.pop("extends", None)
    if base is None:
        return {key: (value, path) for key, value in data.items()}
    if not isinstance(base, str):
        raise TrainingConfigError(f"{path}: extends must be a file name")
    merged = _read_chain(path.parent / base, (*seen, path))
    merged.update({key: (value, path) for key, value in data.items()})
    return merged


def resolve_config_path(name: str | Path) -> Path:
    """A config file path, or the name of a built-in config (``facetrust/training/configs/NAME.toml``)."""
    path = Path(name)
    if path.exists() or path.suffix:
        return path
    return BUILTIN_DIR / f"{name}.toml"


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> TrainConfig:
    """The config in ``path`` (after its ``extends`` chain) with ``key=value`` overrides applied."""
    types = _field_types()
    values: dict[str, Any] = {}
    for key, (value, source) in _read_chain(resolve_config_path(path)).items():
        if key not in types:
            raise TrainingConfigError(f"{source}: unknown key {key!r}")
        values[key] = _convert(key, value, types[key], str(source))
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TrainingConfigError(f"--set expects key=value, got {item!r}")
        if key not in types:
            raise TrainingConfigError(f"--set: unknown key {key!r} (known: {', '.join(types)})")
        values[key] = _convert(key, value.strip(), types[key], "--set")
    config = TrainConfig(**values)
    validate(config)
    return config


def validate(config: TrainConfig) -> None:
    """Range checks that do not need the data or the model."""
    checks = [
        (0.0 < config.sample_rate <= 1.0, "sample_rate must be in (0, 1]"),
        (config.batch_size >= 1, "batch_size must be >= 1"),
        (config.gradient_acc >= 1, "gradient_acc must be >= 1"),
        (config.embedding_size >= 1, "embedding_size must be >= 1"),
        (config.lr > 0, "lr must be > 0"),
        (config.scale > 0, "scale must be > 0"),
        (config.cifp >= 0, "cifp must be >= 0"),
        (config.epochs >= 1 or config.max_steps >= 1, "set epochs or max_steps >= 1"),
        (config.optimizer in ("sgd", "adamw"), f"optimizer must be sgd or adamw, got {config.optimizer!r}"),
        (config.min_images_per_identity >= 1, "min_images_per_identity must be >= 1"),
        (config.save_every >= 1, "save_every must be >= 1"),
        (config.trainable_last_layers >= 0, "trainable_last_layers must be >= 0 (0 = the whole network)"),
        (config.device in ("cpu", "cuda"), f"device must be cpu or cuda, got {config.device!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise TrainingConfigError(message)
