"""Per-face extra results (quality, liveness, forgery scores …) in server answers.

An extra is a class whose instances take the decoded RGB image and the faces found
in it and write a JSON-ready value into ``face.extras[name]``; ``Face.to_dict``
then carries it into every answer that lists faces (detect, analyze, verify, search).
Extras run in the inference workers, built once per worker at start-up.

Capabilities add theirs with one line, e.g.
``FACE_EXTRAS.register("liveness", "facetrust.liveness.server:LivenessExtra")``,
and a deployment turns them on with ``extras = ["liveness"]`` in the server config.
A config entry may also be an import path ``"package.module:Class"`` (plugins).
"""
from __future__ import annotations

import importlib
from typing import Protocol

import numpy as np

from facetrust.errors import ConfigError
from facetrust.registry import Registry
from facetrust.types import Face


class FaceExtra(Protocol):
    #: Key under which the result appears in each face's JSON.
    name: str

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        """Set ``face.extras[self.name]`` on every face (faces may be empty)."""


FACE_EXTRAS: Registry[FaceExtra] = Registry("face extra")


def extra_class(spec: str) -> type[FaceExtra]:
    """The class for a registry name or a ``module:Class`` path; ConfigError if unknown."""
    if spec in FACE_EXTRAS.names() or ":" not in spec:
        return FACE_EXTRAS.get_class(spec)
    module_name, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"face extra {spec!r} cannot be imported ({exc})") from None


def build_extras(specs: tuple[str, ...]) -> list[FaceExtra]:
    return [extra_class(spec)() for spec in specs]
