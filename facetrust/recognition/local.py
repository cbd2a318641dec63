"""Recognizers registered on this machine: an ONNX file (e.g. from ``facetrust train export``) in the
local manifest (facetrust.zoo.local) with its input spec and thresholds calibrated at the stated
FMRs the way the packaged ones were (all cross-identity pairs of an identity-folder dataset, or the
pairs of a pair list), so ``--recognizer NAME`` works wherever a packaged recognizer does."""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facetrust.defaults import DEFAULT_DETECTOR
from facetrust.errors import ConfigError, ModelError
from facetrust.recognition.onnx_recognizer import OnnxArcFaceRecognizer
from facetrust.zoo.local import (NAME_PATTERN, LocalModel, RecognizerInput, calibration_dir, local_models,
                                 remove_local_model, save_local_model)
from facetrust.zoo.manifest import ModelFile, ModelSpec

#: What facetrust's own export takes (facetrust.training.export): RGB 0-255, normalisation in the graph.
EXPORT_INPUT = {"size": 112, "channels": "RGB", "mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}

_classes: dict[tuple, type[OnnxArcFaceRecognizer]] = {}


def local_recognizer_class(name: str) -> type[OnnxArcFaceRecognizer] | None:
    """The recognizer class of a locally registered recognition model, None when there is none."""
    model = local_models().get(name)
    if model is None or model.spec.task != "recognition":
        return None
    spec = model.recognizer
    key = (name, spec, model.spec.files, model.calibration)
    if key not in _classes:
        _classes[key] = type(f"LocalRecognizer[{name}]", (OnnxArcFaceRecognizer,), {
            "__doc__": f"{name}: {model.spec.source} (registered on this machine)",
            "name": name, "dim": spec.dim, "size": spec.size, "channels": spec.channels,
            "mean": np.array(spec.mean, dtype=np.float32), "std": np.array(spec.std, dtype=np.float32),
            "zoo_models": (name,), "calibration": name if model.calibration else None,
            "calibration_file": str(model.calibration) if model.calibration else None,
        })
    return _classes[key]


@dataclass
class Registration:
    name: str
    manifest: Path
    onnx: Path
    sha256: str
    calibration: dict  # the calibration file's content


def check_name(name: str, replace: bool = False) -> None:
    """ConfigError unless ``name`` may name a new local model: a lower-case slug that no packaged
    model or registered recognizer uses, and no local model either unless ``replace``."""
    from facetrust.recognition import RECOGNIZERS
    from facetrust.zoo.manifest import _load

    if not NAME_PATTERN.match(name):
        raise ConfigError(f"model name {name!r} must be lower-case letters, digits, '.', '_' or '-' "
                          "(at most 64, starting with a letter or digit)")
    if name in _load() or name in RECOGNIZERS.names():
        raise ConfigError(f"{name!r} is the name of a packaged model; choose another name")
    if name in local_models() and not replace:
        raise ConfigError(f"a local model {name!r} is already registered (replace it explicitly, or choose another name)")


def _embedding_dim(onnx: Path, spec: dict) -> int:
    from facetrust.runtime import onnx_session

    try:
        session = onnx_session(onnx, "cpu")
        crop = np.zeros((1, 3, spec["size"], spec["size"]), dtype=np.float32)
        return int(session.run(None, {session.get_inputs()[0].name: crop})[0].reshape(1, -1).shape[1])
    except ModelError:
        raise
    except Exception as exc:  # onnxruntime raises its own types for a file that is not a usable model
        raise ModelError(f"{onnx} is not a usable recognition model: {str(exc).splitlines()[0]}") from None


def _scores(name: str, data: Path, detector: str, pairs_root: Path | None, workers: int, cache: Path | None,
            progress: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Impostor and genuine scores of the registered ``name`` on ``data`` and what they were measured on."""
    from facetrust.evaluation.cache import EmbeddingCache
    from facetrust.evaluation.embedder import EvalModel, embed_images
    from facetrust.io.sources import IMAGE_SUFFIXES
    from facetrust.recognition.calibration import pair_scores

    model = EvalModel(detector, name, select="center")
    if data.is_dir():
        paths = sorted(p for folder in data.iterdir() if folder.is_dir() for p in folder.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise ConfigError(f"{data} holds no identity folders of images to calibrate on")
        with EmbeddingCache(cache) as store:
            embedded = embed_images(paths, model, store, workers=workers, progress=progress)
        found = [(p, v) for p in paths if (v := embedded.vector(p, use_fallback=False)) is not None]
        if not found:
            raise ConfigError(f"no face found in the {len(paths)} images under {data}")
        _, labels = np.unique([p.parent.name for p, _ in found], return_inverse=True)
        impostor, genuine = pair_scores(np.stack([v for _, v in found]).astype(np.float32), labels)
        return impostor, genuine, (f"{data.name}: all cross-identity pairs of {len(found)} of {len(paths)} images "
                                   f"with a face (centre face per image, detector {detector})")
    if not data.is_file():
        raise ConfigError(f"calibration data not found: {data}")
    if data.suffix.lower() == ".csv":
        from facetrust.evaluation.pairs import read_pairs_csv

        pairs, _ = read_pairs_csv(data, pairs_root)
    else:
        from facetrust.evaluation.lfw import read_lfw_pairs

        pairs = read_lfw_pairs(data, pairs_root or (data.parent / "lfw" if (data.parent / "lfw").is_dir()
                                                    else data.parent))
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    with EmbeddingCache(cache) as store:
        embedded = embed_images(paths, model, store, workers=workers, progress=progress)
    vectors = {p: v for p in paths if (v := embedded.vector(p, use_fallback=False)) is not None}
    scored = [(float(vectors[p.path_a] @ vectors[p.path_b]), p.same) for p in pairs
              if p.path_a in vectors and p.path_b in vectors]
    impostor = np.array([s for s, same in scored if not same], dtype=np.float32)
    genuine = np.array([s for s, same in scored if same], dtype=np.float32)
    return impostor, genuine, (f"{data.name}: {len(scored)} of its {len(pairs)} pairs with a face in both images "
                               f"(centre face per image, detector {detector})")


def register_recognizer(name: str, onnx: Path, calibrate_on: Path, *, source: str, license: str,
                        commercial_use: bool = False, input_spec: dict | None = None,
                        detector: str = DEFAULT_DETECTOR, pairs_root: Path | None = None, replace: bool = False,
                        workers: int = 1, cache: Path | None = None, progress: bool = True) -> Registration:
    """Register the ONNX recognizer ``onnx`` as ``name`` in the local manifest and calibrate its
    thresholds on ``calibrate_on``: a folder of identity folders (every cross-identity pair, as the
    packaged calibrations on LFW) or a pair list (LFW ``pairs.txt``, images under ``pairs_root``,
    default ``lfw/`` beside it; or a ``path_a,path_b,same`` CSV). ``input_spec``: size, channels,
    mean, std (default: facetrust's own export). On any failure the manifest is left as it was."""
    from facetrust.recognition.calibration import calibrate_scores
    from facetrust.zoo.store import sha256_of

    check_name(name, replace)
    previous = local_models().get(name)
    onnx = Path(onnx).resolve()
    if not onnx.is_file():
        raise ConfigError(f"no model file at {onnx}")
    spec = {**EXPORT_INPUT, **(input_spec or {})}
    recognizer = RecognizerInput(size=int(spec["size"]), channels=spec["channels"], mean=tuple(spec["mean"]),
                                 std=tuple(spec["std"]), dim=_embedding_dim(onnx, spec))
    digest = sha256_of(onnx)
    entry = ModelSpec(name=name, task="recognition", license=license, commercial_use=commercial_use,
                      files=(ModelFile(path=str(onnx), url="", sha256=digest, bytes=onnx.stat().st_size),),
                      input=f"{recognizer.size}x{recognizer.size} {recognizer.channels} ArcFace-aligned crop, "
                            f"(pixel - {list(recognizer.mean)}) / {list(recognizer.std)} on 0-255; "
                            f"{recognizer.dim}-d", source=source)
    target = calibration_dir() / f"{name}.json"
    # Registered first without thresholds: calibration embeds through the registry like any evaluation.
    manifest = save_local_model(LocalModel(entry, recognizer, None))
    try:
        impostor, genuine, dataset = _scores(name, Path(calibrate_on), detector, pairs_root, workers, cache, progress)
        record = {"recognizer": name, "detector": detector, "dataset": dataset, **calibrate_scores(impostor, genuine),
                  "model_sha256": digest}
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=1)
            out.write("\n")
        os.replace(tmp, target)
        save_local_model(LocalModel(entry, recognizer, target))
    except BaseException:
        if previous is not None:
            save_local_model(previous)
        else:
            remove_local_model(name)
        raise
    return Registration(name, manifest, onnx, digest, record)
