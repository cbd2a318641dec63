"""Linking the faces of sampled video frames into tracks (one per person on screen).

Greedy IoU linking: each face of a frame (largest first) joins the open track whose
latest box overlaps it most, if that overlap is at least ``min_iou``; otherwise it
starts a new track. Each track takes at most one face per frame. Sampled frames are
close in time (≤ 1 s apart by default), so boxes of one person overlap from frame to
frame; a person who leaves and comes back gets a new track.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np

from facetrust.types import Face

TRACK_IOU = 0.3

Box = Sequence[float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


class FaceTracker:
    def __init__(self, min_iou: float = TRACK_IOU) -> None:
        self.min_iou = min_iou
        self._last_box: dict[int, tuple[float, ...]] = {}

    @property
    def count(self) -> int:
        """Tracks opened so far (ids are 0 … count - 1)."""
        return len(self._last_box)

    def assign(self, boxes: Sequence[Box]) -> list[int]:
        """Track id of each box of one frame, in the order given."""
        open_tracks = set(self._last_box)
        ids = []
        for box in boxes:
            overlaps = {tid: iou(box, self._last_box[tid]) for tid in open_tracks}
            best = max(overlaps, key=overlaps.__getitem__, default=None)
            if best is None or overlaps[best] < self.min_iou:
                best = len(self._last_box)
            else:
                open_tracks.discard(best)
            self._last_box[best] = tuple(float(v) for v in box)
            ids.append(best)
        return ids



@dataclass
class TrackFrame:
    """One sampled frame of a track: the face and its per-frame result (liveness, forgery …),
    which has ``status``, ``score`` (None when unavailable), ``reason`` and ``to_dict()``."""

    frame: int
    time: float
    face: Face
    result: Any


@dataclass
class ScoredTrack:
    """A face track with one decision: the **mean** score of its frames that have one (frames
    without are counted, not averaged), ``POSITIVE`` when it reaches the threshold, else
    ``NEGATIVE``; "unavailable" when no frame has a score."""

    POSITIVE: ClassVar[str]
    NEGATIVE: ClassVar[str]

    track_id: int
    threshold: float
    model: str
    frames: list[TrackFrame] = field(default_factory=list)

    @property
    def scored(self) -> list[TrackFrame]:
        return [f for f in self.frames if f.result.score is not None]

    @property
    def score(self) -> float | None:
        scored = self.scored
        return float(np.mean([f.result.score for f in scored])) if scored else None

    @property
    def status(self) -> str:
        score = self.score
        return "unavailable" if score is None else self.POSITIVE if score >= self.threshold else self.NEGATIVE

    @property
    def mean_area(self) -> float:
        return float(np.mean([f.face.area for f in self.frames]))

    @property
    def unavailable_reasons(self) -> list[str]:
        """The distinct reasons why frames of the track got no score."""
        return sorted({f.result.reason for f in self.frames if f.result.reason})

    @property
    def reason_codes(self) -> list[str]:
        """The distinct codes (:mod:`facetrust.reasons`) of those reasons."""
        return sorted({f.result.reason_code for f in self.frames if f.result.reason_code})

    def to_dict(self, include_frames: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "track": self.track_id, "status": self.status, f"is_{self.POSITIVE}": None if self.status == "unavailable" else self.status == self.POSITIVE,
            "score": None if self.score is None else round(self.score, 6), "threshold": round(self.threshold, 6),
            "model": self.model, "frames": len(self.frames), "frames_scored": len(self.scored),
            f"frames_{self.POSITIVE}": sum(f.result.status == self.POSITIVE for f in self.frames),
        }
        if self.unavailable_reasons:
            out["unavailable_reasons"] = self.unavailable_reasons
            out["reason_codes"] = self.reason_codes
        if include_frames:
            out["per_frame"] = [{"frame": f.frame, "time": round(f.time, 3), "box": [round(v, 1) for v in f.face.box],
                                 **f.result.to_dict()} for f in self.frames]
        return out


def subject_track(tracks: Sequence[ScoredTrack]) -> Any:
    """The track seen in the most frames (ties: larger faces): the one decision for a video.
    Not simply the largest face: a false detection can be larger than the person. None if no track."""
    return max(tracks, key=lambda t: (len(t.frames), t.mean_area), default=None)


class SubjectVideoResult:
    """The video-level answer of a per-track check, read off its subject track. Mixed into
    dataclasses that have ``tracks`` and ``frames_sampled``."""

    tracks: Sequence[ScoredTrack]
    frames_sampled: int

    @property
    def subject(self) -> Any:
        return subject_track(self.tracks)

    @property
    def status(self) -> str:
        return "unavailable" if self.subject is None else self.subject.status

    @property
    def score(self) -> float | None:
        return None if self.subject is None else self.subject.score

    @property
    def reason(self) -> str | None:
        if self.subject is None:
            return f"no face in any of the {self.frames_sampled} sampled frames"
        if self.subject.score is None:
            return "; ".join(self.subject.unavailable_reasons)
        return None

    @property
    def reason_codes(self) -> list[str]:
        """The codes of :attr:`reason` (:mod:`facetrust.reasons`); empty when decided."""
        if self.subject is None:
            return ["no_face"]
        return self.subject.reason_codes if self.subject.score is None else []
