"""Run the attribute models on the faces of an image."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.types import Face


def parse_attributes(attributes: str | Iterable[str] | None) -> tuple[str, ...]:
    """Attribute names from a list or a comma-separated string; unknown names are a ConfigError."""
    from facetrust.attributes import ATTRIBUTE_MODELS, DEFAULT_ATTRIBUTES

    if attributes is None:
        return DEFAULT_ATTRIBUTES
    names = [a.strip() for a in (attributes.split(",") if isinstance(attributes, str) else attributes)]
    names = [n for n in names if n]
    if not names:
        raise ConfigError("no attribute named (known: " + ", ".join(ATTRIBUTE_MODELS.names()) + ")")
    for name in names:
        ATTRIBUTE_MODELS.get_class(name)
    return tuple(dict.fromkeys(names))


class AttributeEstimator:
    """The chosen attribute models (default :data:`~facetrust.attributes.DEFAULT_ATTRIBUTES`),
    each loaded on first use.

    >>> estimator = AttributeEstimator(("age", "gender"))
    >>> estimator.estimate(image, [face.box for face in faces])   # doctest: +SKIP
    [{"age": {"status": "ok", "value": 41.3, "low": 33, "high": 50, ...}, "gender": {...}}]
    """

    def __init__(self, attributes: str | Iterable[str] | None = None, device: str = "cpu") -> None:
        self.attributes = parse_attributes(attributes)
        self.device = device
        self._models: dict[str, Any] = {}

    def model(self, name: str) -> Any:
        if name not in self._models:
            from facetrust.analyzer import _create
            from facetrust.attributes import ATTRIBUTE_MODELS

            self._models[name] = _create(ATTRIBUTE_MODELS, name, {}, self.device)
        return self._models[name]

    def load_models(self) -> None:
        for name in self.attributes:
            self.model(name)

    def estimate(self, image: np.ndarray, boxes: Sequence[Sequence[float]]) -> list[dict[str, Any]]:
        """One ``{attribute: result}`` dict per face box of an RGB uint8 image."""
        from facetrust.attributes.inputs import FaceInputs

        inputs = [FaceInputs(image, tuple(box)) for box in boxes]
        out: list[dict[str, Any]] = [{} for _ in inputs]
        if inputs:
            for name in self.attributes:
                for result, value in zip(out, self.model(name).estimate(inputs)):
                    result[name] = value
        return out

    def annotate(self, image: np.ndarray, faces: list[Face], key: str = "attributes") -> None:
        """Store each face's attributes in ``face.extras[key]``."""
        for face, result in zip(faces, self.estimate(image, [face.box for face in faces])):
            face.extras[key] = result
