"""Models registered on this machine (e.g. ``facetrust train export --register NAME``): a user-level
manifest outside the installed package.

The manifest is ``$FACETRUST_LOCAL_MODELS`` (default ``~/.config/facetrust/local_models.json``, or
under ``$XDG_CONFIG_HOME``); each entry is a :class:`ModelSpec` whose one file is named by its
absolute path (checked against its sha256 on load like every zoo file), plus the recognizer's input
spec and the name of its calibration file, kept in ``calibration/`` next to the manifest.
Every write replaces the manifest atomically.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError
from facetrust.zoo.manifest import ModelFile, ModelSpec

LOCAL_MODELS_ENV = "FACETRUST_LOCAL_MODELS"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class RecognizerInput:
    """How a local recognizer's ONNX file wants its input: an aligned ``size`` x ``size`` crop,
    channel order, ``(pixel - mean) / std`` on 0..255 values, and its embedding size."""

    size: int
    channels: str  # "RGB" or "BGR"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    dim: int
    alignment: str = "arcface"  # the ArcFace 5-point template (facetrust.alignment.align_arcface)


@dataclass(frozen=True)
class LocalModel:
    spec: ModelSpec
    recognizer: RecognizerInput
    calibration: Path | None  # the thresholds file, None when not calibrated


def local_manifest_path() -> Path:
    value = os.environ.get(LOCAL_MODELS_ENV)
    if value:
        return Path(value).expanduser()
    config_home = os.environ.get("XDG_CONFIG_HOME")
    base = Path(config_home).expanduser() if config_home else Path.home() / ".config"
    return base / "facetrust" / "local_models.json"


def calibration_dir() -> Path:
    return local_manifest_path().parent / "calibration"


_parsed: dict[tuple[str, int, int], dict[str, LocalModel]] = {}


def _read_raw(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("models"), list):
            raise ValueError("no 'models' list")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"local model manifest {path} is unreadable ({exc}); fix or delete it "
                          f"(${LOCAL_MODELS_ENV} names another)") from None
    return raw


def local_models() -> dict[str, LocalModel]:
    """Every locally registered model by name (empty when there is no local manifest)."""
    path = local_manifest_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _parsed:
        models = {}
        try:
            for item in _read_raw(path)["models"]:
                entry = dict(item)
                recognizer = entry.pop("recognizer")
                calibration = entry.pop("calibration", None)
                files = tuple(ModelFile(**f) for f in entry.pop("files"))
                spec = ModelSpec(files=files, **entry)
                models[spec.name] = LocalModel(
                    spec, RecognizerInput(**{**recognizer, "mean": tuple(recognizer["mean"]),
                                             "std": tuple(recognizer["std"])}),
                    calibration_dir() / calibration if calibration else None)
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"local model manifest {path} has a malformed entry ({exc}); fix or delete it") from None
        _parsed.clear()
        _parsed[key] = models
    return _parsed[key]


def _entry(model: LocalModel) -> dict[str, Any]:
    spec = asdict(model.spec)
    spec["files"] = [{k: v for k, v in f.items() if v is not None} for f in spec["files"]]
    return {**spec, "recognizer": {**asdict(model.recognizer), "mean": list(model.recognizer.mean),
                                   "std": list(model.recognizer.std)},
            "calibration": model.calibration.name if model.calibration else None}


def _write(models: dict[str, LocalModel]) -> Path:
    path = local_manifest_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump({"version": 1, "models": [_entry(m) for m in models.values()]}, out, indent=1)
            out.write("\n")
        os.replace(tmp, path)  # atomic: readers see the old or the new manifest, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_local_model(model: LocalModel) -> Path:
    """Add (or replace) ``model`` in the local manifest; returns the manifest's path."""
    current = dict(local_models())
    current[model.spec.name] = model
    return _write(current)


def remove_local_model(name: str) -> None:
    """Drop ``name`` from the local manifest and delete its calibration file (not its model file)."""
    current = dict(local_models())
    if name not in current:
        raise ConfigError(f"no locally registered model {name!r} (in {local_manifest_path()})")
    calibration = current.pop(name).calibration
    _write(current)
    if calibration is not None:
        calibration.unlink(missing_ok=True)
