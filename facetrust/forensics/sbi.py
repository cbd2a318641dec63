"""The project's own forgery detector: trained on self-blended real faces only
(facetrust.forensics.training.train_sbi), run here with onnxruntime — no torch.

Input: the face aligned to the ArcFace 5-point template with a 30% margin, 96x96
RGB, plus the log-magnitude spectrum of its luminance (:mod:`facetrust.forensics.sbi_inputs`);
the shipped model reduces the RGB input to luminance inside its graph (``--luminance``).
Outputs: P(fake) and a 24x24 heat map of the suspected blended region over the crop.
The model file ships inside the package (``facetrust/models/forensics``, not a zoo
download); its training recipe and data list are the JSON file beside it, and its sha256
is recorded here and checked before the first load.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence, Union

import numpy as np

from facetrust.errors import ConfigError
from facetrust.forensics.base import ForgeryScores
from facetrust.forensics.crop import aligned_crop
from facetrust.forensics.sbi_inputs import CROP_MARGIN, INPUT_SIZE, model_inputs
from facetrust.runtime import onnx_session

#: Test-time views of a crop that ``sbi`` can average: ``one`` (the crop), ``mirror`` (the crop and its
#: left-right mirror), ``shifted`` (the crop moved by 0 and by VIEW_SHIFT pixels left, right, up and down,
#: each also mirrored: 10 views).
VIEWS = ("one", "mirror", "shifted")
#: Shift of the ``shifted`` views, in crop pixels (2 of 96: about the jitter of re-detected landmarks).
VIEW_SHIFT = 2
MODEL_NAME = "sbi-rgbfreq-96.onnx"
MODEL_SHA256 = "732c7b22b0f71bfeeea80d91a561e846eebbd270999bfac6ae6d4c76cdfe888a"
#: (file name, sha256) of every packaged model ``sbi`` runs; with several, ``sbi`` is their score ensemble.
PACKAGED_MODELS: tuple[tuple[str, str], ...] = ((MODEL_NAME, MODEL_SHA256),)

#: One ONNX file, or several whose P(fake) are averaged (a score ensemble).
ModelFiles = Union[str, Path, Sequence[Union[str, Path]]]


def _packaged(name: str, sha256: str) -> Path:
    """The packaged model ``name``, after checking its sha256."""
    from importlib import resources

    from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError
    from facetrust.zoo.store import sha256_of

    path = Path(str(resources.files("facetrust").joinpath("models", "forensics", name)))
    if not path.is_file():
        raise ModelNotAvailableError(f"{path}: the packaged SBI model is missing (reinstall facetrust)")
    actual = sha256_of(path)
    if actual != sha256:
        raise ChecksumMismatchError(f"{path}: sha256 {actual[:16]}… does not match the recorded {sha256[:16]}…")
    return path


def model_path() -> Path:
    """The first packaged model (:data:`MODEL_NAME`), after checking its sha256 against :data:`MODEL_SHA256`."""
    return _packaged(MODEL_NAME, MODEL_SHA256)


def model_paths() -> list[Path]:
    """Every packaged model of :data:`PACKAGED_MODELS`, each after checking its sha256."""
    return [_packaged(name, sha256) for name, sha256 in PACKAGED_MODELS]


def view_stack(crops: np.ndarray, views: str) -> np.ndarray:
    """(V, N, S, S, 3): the ``views`` of (N, S, S, 3) crops, unmirrored first, then their mirrors in the same
    order. Shifted views move the crop by whole pixels and fill the uncovered edge by reflection."""
    if views == "one":
        return crops[None]
    placed = [crops]
    if views == "shifted":
        d = VIEW_SHIFT
        padded = np.pad(crops, ((0, 0), (d, d), (d, d), (0, 0)), mode="reflect")
        size = crops.shape[1]
        placed += [padded[:, d + dy:d + dy + size, d + dx:d + dx + size]
                   for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d))]
    return np.ascontiguousarray(np.stack(placed + [view[:, :, ::-1] for view in placed]))


def as_model_files(model_file: ModelFiles) -> list[Path]:
    """``model_file`` (one file or a sequence of files) as a list of paths, each an existing file
    (:class:`ModelNotAvailableError` naming the first that is not)."""
    from facetrust.errors import ModelNotAvailableError

    paths = [Path(model_file)] if isinstance(model_file, (str, Path)) else [Path(f) for f in model_file]
    for path in paths:
        if not path.is_file():
            raise ModelNotAvailableError(f"{path}: no such SBI model file")
    return paths


class SBIDetector:
    name = "sbi"
    #: Calibrated on the UTKFace calibration split (at most 3% of its real colour faces flagged, as
    #: 200x200 crops and as 112x112 aligned crops; docs/forensics.md) — not on any evaluation data.
    default_threshold = 0.7358
    #: The threshold holds for colour faces only: on real grayscale faces it flags 5.4%, twice the
    #: colour rate (bench/sbi_gray_false_alarms.py), so a gray face is ``unavailable``.
    needs_colour = True
    zoo_models: tuple[str, ...] = ()
    packaged_sha256 = tuple(sha256 for _, sha256 in PACKAGED_MODELS)

    def __init__(self, device: str = "cpu", model_file: ModelFiles | None = None, views: str = "one") -> None:
        """``model_file``: other trained SBI models (e.g. a candidate run) instead of the packaged ones;
        several files (a sequence) are run as a score ensemble.
        Their checksums are the caller's business.
        ``views``: which views of each crop are scored and averaged (:data:`VIEWS`; test-time
        augmentation, docs/forensics.md, follow-up 4)."""
        if views not in VIEWS:
            raise ConfigError(f"sbi's views must be one of {', '.join(VIEWS)}; got {views!r}")
        files = model_paths() if model_file is None else as_model_files(model_file)
        if not files:
            raise ConfigError("sbi needs at least one model file, got an empty list")
        self._sessions = [onnx_session(path, device) for path in files]
        self.device = device
        self.views = views

    def crop(self, image: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return aligned_crop(image, landmarks, INPUT_SIZE, CROP_MARGIN)

    def score_crops(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores (N,), heat maps (N, 24, 24)) for (N, 96, 96, 3) uint8 RGB crops. With several models:
        the mean of their P(fake) and of their heat maps (equal weights, nothing fitted; probabilities,
        not logits, are averaged, as the ensemble's pre-registered rule says, docs/forensics.md).
        With several :attr:`views`: the mean over each crop's views (mirrored heat maps mirrored back; the
        half-cell offset of a shifted view's heat map is not undone)."""
        if self.views == "one":
            return self._score(crops)
        stack = view_stack(np.asarray(crops), self.views)
        scores, heatmaps = self._score(stack.reshape(-1, *stack.shape[2:]))
        scores, heatmaps = scores.reshape(stack.shape[:2]), heatmaps.reshape(*stack.shape[:2], *heatmaps.shape[1:])
        mirrored = len(stack) // 2  # the second half of the views are the mirrors of the first
        heatmaps[mirrored:] = heatmaps[mirrored:, :, :, ::-1].copy()
        return scores.mean(axis=0), heatmaps.mean(axis=0).astype(heatmaps.dtype)

    def _score(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        feed = model_inputs(crops)  # one input for every member: same crop, same spectrum
        outputs = [session.run(None, feed) for session in self._sessions]
        if len(outputs) == 1:
            return outputs[0][0].astype(np.float64), outputs[0][1]
        score = np.mean([out[0].astype(np.float64) for out in outputs], axis=0)
        heatmap = np.mean([out[1] for out in outputs], axis=0).astype(outputs[0][1].dtype)
        return score, heatmap

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> ForgeryScores:
        crop, crop_to_image = self.crop(image, landmarks)
        scores, heatmaps = self.score_crops(crop[None])
        return ForgeryScores(float(scores[0]), heatmaps[0], crop_to_image, INPUT_SIZE)


class FusionDetector:
    """Mean of the members' P(fake) (equal weights, no fitting); the heat map of the first
    member that has one. Default members: the project's SBI detector and MesoNet."""

    name = "fusion"
    zoo_models: tuple[str, ...] = ()
    #: Calibrated like :attr:`SBIDetector.default_threshold`, for the default members.
    default_threshold = 0.8577
    default_members = ("sbi", "mesonet")

    def __init__(self, members: tuple[str, ...] = default_members, device: str = "cpu") -> None:
        from facetrust.analyzer import _create
        from facetrust.forensics import FORGERY_DETECTORS

        self.members = [_create(FORGERY_DETECTORS, name, {}, device) for name in members]
        self.name = "fusion(" + "+".join(members) + ")"
        self.needs_colour = any(getattr(m, "needs_colour", False) for m in self.members)

    def predict(self, image: np.ndarray, landmarks: np.ndarray) -> ForgeryScores:
        results = [member.predict(image, landmarks) for member in self.members]
        located = next((r for r in results if r.heatmap is not None), results[0])
        return ForgeryScores(float(np.mean([r.score for r in results])), located.heatmap, located.crop_to_image,
                             located.crop_size, {m.name: r.score for m, r in zip(self.members, results)})
