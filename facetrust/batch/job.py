"""The job manifest ``OUT/_facetrust_batch.json``: what made the results in an output folder.

It records the analyzer configuration (preset, detector, recognizer, options, checks), the
sha256 of every model file the detector and recognizer load, the recognizer's gallery identity,
the facetrust version, the partition size and a fingerprint of the sorted input list. A rerun
into the folder must agree on all of them (the device aside: CPU and GPU give the same results
up to float rounding), else :class:`OutputMismatchError`: partitions of two configurations are
never mixed in one output.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from facetrust.analyzer import AnalyzerConfig
from facetrust.batch.errors import OutputMismatchError
from facetrust.batch.inputs import BatchInput
from facetrust.batch.partitions import write_atomically
from facetrust.errors import OutputError

#: Leading "_": Parquet readers of the folder skip it.
JOB_FILE = "_facetrust_batch.json"
FORMAT = 1
#: Fields of the manifest that may differ between runs into one folder.
_MAY_DIFFER = ("config.device",)


def job_manifest(config: AnalyzerConfig, inputs: Sequence[BatchInput], partition_size: int,
                 extra_columns: Sequence[str]) -> dict[str, Any]:
    """The manifest of a job over ``inputs`` (already sorted) with ``config``."""
    import facetrust
    from facetrust.gallery.base import model_identity
    from facetrust.presets import Preset
    from facetrust.zoo import get_model

    models = Preset("job", config.detector, config.recognizer, "").models
    sources = hashlib.sha256("\n".join(i.source for i in inputs).encode()).hexdigest()
    return {
        "format": FORMAT,
        "facetrust": facetrust.__version__,
        "config": _plain(dataclasses.asdict(config)),
        "models": {name: [f.sha256 for f in get_model(name).files] for name in models},
        "recognizer": model_identity(config.recognizer).to_dict(),
        "partition_size": partition_size,
        "inputs": {"count": len(inputs), "sha256": sources},
        "columns": list(extra_columns),
    }


def prepare_job(out_dir: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest into a new output folder, or check a resumed folder's against it."""
    path = out_dir / JOB_FILE
    if path.is_file():
        try:
            existing = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise OutputError(f"{path}: cannot read the job manifest ({exc})") from None
        differences = _differences(existing, manifest)
        if differences:
            raise OutputMismatchError(f"{out_dir} holds results of another job ({'; '.join(differences[:3])}); "
                                      "use a new --out folder, or the settings of that job to resume it")
        return
    if any(out_dir.glob("part-*.parquet")):
        raise OutputMismatchError(f"{out_dir} holds Parquet partitions without a {JOB_FILE}; use a new --out folder")
    write_atomically(out_dir, JOB_FILE, (json.dumps(manifest, indent=1) + "\n").encode())


def read_job(out_dir: Path) -> dict[str, Any]:
    """The manifest of a finished or partial job's output folder."""
    path = Path(out_dir) / JOB_FILE
    if not Path(out_dir).is_dir():
        raise OutputError(f"{out_dir}: not a folder (give the output folder of `facetrust batch run`)")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise OutputError(f"{out_dir}: not a batch output folder (no {JOB_FILE})") from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"{path}: cannot read the job manifest ({exc})") from None


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if where in _MAY_DIFFER:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for key in sorted(old.keys() | new.keys())
                for d in _differences(old.get(key), new.get(key), f"{where}.{key}" if where else key)]
    if old != new:
        return [f"{where}: {_short(old)} there, {_short(new)} now"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _plain(value: Any) -> Any:
    """A config as JSON values (tuples as lists), so a manifest read back compares equal."""
    return json.loads(json.dumps(value, default=str))
