"""What produced a result: configuration, model checksums, versions, dataset checksum."""
from __future__ import annotations

import platform
import time
from importlib import metadata
from typing import Any, Sequence

from facetrust.evaluation.embedder import EvalModel


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("facetrust", "dlib-bin", "onnxruntime", "numpy", "opencv-python-headless", "scikit-learn"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def describe_models(models: Sequence[EvalModel]) -> dict[str, Any]:
    return {
        m.label: {"detector": m.detector, "recognizer": m.recognizer, "face_selection": m.select,
                  "fallback_box": list(m.fallback_box) if m.fallback_box else None, "model_files": m.model_files()}
        for m in models
    }


def describe_run(protocol: str, run: Any, models: Sequence[EvalModel], dataset: dict[str, Any]) -> dict[str, Any]:
    first = next(iter(run.embedded.values()))
    return {
        "protocol": protocol,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "configuration": describe_models(models),
        "fusion": "fusion" in run.with_fallback,
        "dataset": {**dataset, "pairs": len(run.pairs), "images": len(first.hashes),
                    "images_sha256": first.dataset_sha256()},
        "versions": versions(),
        "metrics": run.metrics(),
        "notes": _fallback_notes(models),
    }


def _fallback_notes(models: Sequence[EvalModel]) -> list[str]:
    boxes = {m.fallback_box for m in models if m.fallback_box}
    if not boxes:
        return ["images where no face was detected leave their pairs out (counted in pairs_skipped)"]
    return [f"failure to detect: such images are embedded from the fixed centre crop {list(box)} "
            "(fractions of width/height; standard practice on pre-aligned LFW); 'without_fallback' "
            "leaves their pairs out instead" for box in boxes]
