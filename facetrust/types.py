"""Shared result types of the face pipeline.

Coordinates are pixels of the (EXIF-corrected) input image, x to the right,
y down. Landmarks are always the 5 points in :data:`LANDMARK_ORDER`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Fixed order of the 5 landmarks, from the subject's point of view as seen
#: in the image: "left eye" is the eye on the image's left side.
LANDMARK_ORDER: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def describe_array(value: np.ndarray | None) -> str:
    """``float32[5, 2]``: an array's dtype and shape, for reprs that must not dump the values."""
    if value is None:
        return "None"
    value = np.asarray(value)
    return f"{value.dtype}[{', '.join(str(n) for n in value.shape)}]"


def _box(box: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{float(v):.1f}" for v in box) + ")"


@dataclass(frozen=True)
class Detection:
    """One detected face: box (x1, y1, x2, y2), confidence, optional 5 landmarks (5x2).

    ``fallback`` marks a box that was assumed (see ``AnalyzerConfig.fallback_box``), not detected.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = None
    fallback: bool = False

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    def __repr__(self) -> str:
        fallback = ", fallback=True" if self.fallback else ""
        return (f"Detection(box={_box(self.box)}, score={float(self.score):.4f}, "
                f"landmarks={describe_array(self.landmarks)}{fallback})")

    def with_landmarks(self, landmarks: np.ndarray) -> "Detection":
        return Detection(self.box, self.score, np.asarray(landmarks, dtype=np.float32).reshape(5, 2), self.fallback)


@dataclass
class Face:
    """A face found in an image, with whatever the analyzer computed for it.

    ``extras`` holds per-face results of later capabilities (quality,
    liveness, forgery) keyed by capability name.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    embedding: np.ndarray | None = None
    aligned: np.ndarray | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])

    def __repr__(self) -> str:
        parts = [f"box={_box(self.box)}", f"score={float(self.score):.4f}",
                 f"landmarks={describe_array(self.landmarks)}"]
        if self.embedding is not None:
            parts.append(f"embedding={describe_array(self.embedding)}")
        if self.aligned is not None:
            parts.append(f"aligned={describe_array(self.aligned)}")
        if self.extras:
            parts.append(f"extras=[{', '.join(self.extras)}]")
        return f"Face({', '.join(parts)})"

    def to_dict(self, include_embedding: bool = True) -> dict[str, Any]:
        """JSON-ready dict in the documented shape (see docs/cli.md)."""
        out: dict[str, Any] = {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks],
        }
        if include_embedding and self.embedding is not None:
            out["embedding"] = [round(float(v), 6) for v in self.embedding]
        out.update(self.extras)
        return out


@dataclass(frozen=True)
class Verification:
    """Result of a 1:1 comparison.

    ``index_a`` / ``index_b``: which face of each image was compared (0 = largest), out of
    ``faces_in_a`` / ``faces_in_b``. ``comparisons``: face pairs compared to reach the decision
    (1, or k*m under ``select="best-pair"``); the threshold is calibrated for one comparison at
    ``fmr``, so the best of k*m may falsely match two strangers up to ``fmr_upper_bound``
    (the union bound, k*m*fmr).
    """

    similarity: float
    threshold: float
    fmr: float
    same: bool
    face_a: Face
    face_b: Face
    faces_in_a: int
    faces_in_b: int
    index_a: int = 0
    index_b: int = 0
    comparisons: int = 1

    @property
    def fmr_upper_bound(self) -> float:
        return min(1.0, self.comparisons * self.fmr)

    @property
    def hint(self) -> str | None:
        """One line for people when an image had several faces: how many, which one was used,
        and (best-pair) what the search over pairs does to the false-match rate; else None."""
        if self.comparisons > 1:
            return (f"best of {self.faces_in_a} x {self.faces_in_b} = {self.comparisons} face pairs: face "
                    f"{self.index_a} of a at {_box(self.face_a.box)} and face {self.index_b} of b at {_box(self.face_b.box)}; "
                    f"the threshold is calibrated for one comparison at FMR {self.fmr:g}, so this decision's "
                    f"false-match rate is up to {self.fmr_upper_bound:g}")
        notes = [f"image {label} has {count} faces, face {index} at {_box(face.box)} was compared"
                 for label, count, index, face in (("a", self.faces_in_a, self.index_a, self.face_a),
                                                   ("b", self.faces_in_b, self.index_b, self.face_b)) if count > 1]
        if not notes:
            return None
        return "; ".join(notes) + " (select another face by index, or best-pair to compare every pair)"

    def __repr__(self) -> str:
        return (f"Verification(same={self.same}, similarity={float(self.similarity):.4f}, "
                f"threshold={float(self.threshold):.4f}, fmr={self.fmr:g}, faces_in_a={self.faces_in_a}, "
                f"faces_in_b={self.faces_in_b}, index_a={self.index_a}, index_b={self.index_b}, "
                f"comparisons={self.comparisons})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "similarity": round(float(self.similarity), 6),
            "threshold": round(float(self.threshold), 6),
            "fmr": self.fmr,
            "same": bool(self.same),
            "faces_in_a": self.faces_in_a,
            "faces_in_b": self.faces_in_b,
            "index_a": self.index_a,
            "index_b": self.index_b,
            "comparisons": self.comparisons,
            "fmr_upper_bound": self.fmr_upper_bound,
            "hint": self.hint,
            "face_a": self.face_a.to_dict(include_embedding=False),
            "face_b": self.face_b.to_dict(include_embedding=False),
        }


@dataclass(frozen=True)
class ScoredDecision:
    """A per-face decision taken from a score and a threshold (liveness, forgery).

    ``status`` is the decided label, or ``"unavailable"`` when no reliable decision can
    be made; then ``score`` is None — never a made-up score.
    """

    status: str
    score: float | None
    threshold: float
    model: str

    @property
    def available(self) -> bool:
        return self.status != "unavailable"

    def _is(self, label: str) -> bool | None:
        """Whether the decision is ``label``; None when unavailable (unknown is not "no")."""
        return self.status == label if self.available else None

    def _decision_dict(self, flag: str, value: bool | None) -> dict[str, Any]:
        """The JSON fields every decision has; ``flag`` names the boolean (e.g. "is_live")."""
        return {"status": self.status, flag: value,
                "score": None if self.score is None else round(float(self.score), 6),
                "threshold": round(float(self.threshold), 6), "model": self.model}
