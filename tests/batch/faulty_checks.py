"""Face-check plugins (the ``module:Class`` extension point of :mod:`facetrust.checks`) that fail
the way third-party models fail on a cluster's workers: one whose model file is missing there,
and one whose native code kills its process (a segmentation fault) when it runs."""
from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np

from facetrust.runtime import onnx_session
from facetrust.types import Face


class OnnxFileCheck:
    """Loads its own ONNX model from ``model_file`` on every worker (facetrust's ONNX loader)."""

    name = "onnx_file"

    def __init__(self, model_file: str) -> None:
        self.model_file = Path(model_file)
        self.session = None

    def load_models(self) -> None:
        self.session = onnx_session(self.model_file)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        for face in faces:
            face.extras[self.name] = {"inputs": [i.name for i in self.session.get_inputs()]}


class SegfaultCheck:
    """Reads address 0 through ctypes on images ``crash_width`` pixels wide, so the worker process
    dies of SIGSEGV as with a bug in a model's native code; each crash's pid is appended to ``log``."""

    name = "segfault"

    def __init__(self, crash_width: int, log: str) -> None:
        self.crash_width = crash_width
        self.log = Path(log)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        if image.shape[1] == self.crash_width:
            with self.log.open("a") as handle:
                handle.write(f"{os.getpid()}\n")
            ctypes.string_at(0)


class BuggyCheck:
    """A plugin with a bug: a plain Python exception on every image (not a facetrust error)."""

    name = "buggy"

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        raise IndexError("list index out of range")
