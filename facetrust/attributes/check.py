"""The ``attributes`` face check (:mod:`facetrust.checks`): age, gender, eyes (and expression on request)."""
from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Iterable

import numpy as np

from facetrust.attributes.api import AttributeEstimator
from facetrust.registry import Option
from facetrust.types import Face


class AttributesCheck:
    name = "attributes"
    OPTIONS: ClassVar[dict[str, Option]] = {"attributes": Option(list, optional=True)}

    def __init__(self, analyzer: Any, attributes: str | Iterable[str] | None = None) -> None:
        self.estimator = AttributeEstimator(attributes, device=analyzer.config.device)

    def __call__(self, image: np.ndarray, faces: list[Face]) -> None:
        self.estimator.annotate(image, faces, self.name)

    def load_models(self) -> None:
        self.estimator.load_models()

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """A face track: the mean age, the most frequent gender and expression over the frames that have one."""
        out: dict[str, Any] = {"frames": len(results)}
        for name in self.estimator.attributes:
            frames = [r[name] for r in results if r.get(name, {}).get("status") == "ok"]
            if not frames:
                codes = sorted({r[name]["reason_code"] for r in results if r.get(name, {}).get("reason_code")})
                out[name] = {"status": "unavailable", "reason": f"no frame with a {name} result", "reason_codes": codes}
            elif name == "age":
                out[name] = {"status": "ok", "value": round(float(np.mean([f["value"] for f in frames])), 2),
                             "low": min(f["low"] for f in frames), "high": max(f["high"] for f in frames),
                             "frames": len(frames)}
            elif name == "eyes":
                out[name] = {"status": "ok", "closed_frames": sum(
                    any(f[eye]["open"] is False for eye in ("left", "right")) for f in frames), "frames": len(frames)}
            else:
                label, count = Counter(f["label"] for f in frames).most_common(1)[0]
                out[name] = {"status": "ok", "label": label, "share": round(count / len(frames), 4),
                             "frames": len(frames)}
        return out


def attributes_summary(attributes: dict[str, Any]) -> str:
    """``age 35 (28-44), male 1.00, eyes open/?, happy 0.65`` for tables; ``?`` = unknown."""
    parts = []
    for name, value in attributes.items():
        if not isinstance(value, dict) or value.get("status") not in ("ok", "unavailable"):
            continue
        if value["status"] == "unavailable":
            parts.append(f"{name} unavailable")
        elif name == "age":
            parts.append(f"age {value['value']:.0f} ({value['low']}-{value['high']})")
        elif name == "eyes":
            states = ["?" if value[e]["open"] is None else "open" if value[e]["open"] else "closed"
                      for e in ("left", "right")]
            parts.append("eyes " + "/".join(states))
        elif "label" in value:
            parts.append(f"{value['label']} {value['probability']:.2f}")
    return ", ".join(parts)


def compreface_plugins(attributes: dict[str, Any] | None, plugins: set[str]) -> dict[str, Any]:
    """CompreFace's ``age`` and ``gender`` plugin fields from a face's attributes, for the plugins asked for:
    ``age = {probability, low, high}`` (the calibrated 80% range and its level), ``gender = {probability, value}``."""
    out: dict[str, Any] = {}
    age = (attributes or {}).get("age", {})
    if "age" in plugins and age.get("status") == "ok":
        out["age"] = {"probability": age["range_probability"], "low": age["low"], "high": age["high"]}
    gender = (attributes or {}).get("gender", {})
    if "gender" in plugins and gender.get("status") == "ok":
        out["gender"] = {"probability": gender["probability"], "value": gender["label"]}
    return out
