"""Video liveness: per-frame results linked into face tracks, one decision per track.

Frames are sampled every ``every_seconds`` (:func:`facetrust.io.video.read_frames`,
one frame in memory at a time). A face joins the track whose box in its latest
frame overlaps it most (IoU >= :data:`TRACK_IOU`); otherwise it starts a new
track. A track's score is the **mean** P(live) over its frames with a decision
(unavailable frames are counted, not averaged); it is live when that mean
reaches the threshold. The **subject** is the track seen in the most frames
(ties: the larger mean face area) — the one decision for the whole video.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from facetrust.errors import FaceNotFoundError
from facetrust.io.video import VideoFrame
from facetrust.liveness.base import LivenessResult
from facetrust.types import Face

TRACK_IOU = 0.3


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union)


@dataclass
class TrackFrame:
    frame: int
    time: float
    face: Face
    result: LivenessResult


@dataclass
class LivenessTrack:
    track_id: int
    threshold: float
    model: str
    frames: list[TrackFrame] = field(default_factory=list)

    @property
    def scores(self) -> list[float]:
        return [f.result.score for f in self.frames if f.result.score is not None]

    @property
    def score(self) -> float | None:
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def status(self) -> str:
        score = self.score
        return "unavailable" if score is None else "live" if score >= self.threshold else "spoof"

    @property
    def is_live(self) -> bool:
        return self.status == "live"

    @property
    def mean_area(self) -> float:
        return float(np.mean([f.face.area for f in self.frames]))

    def to_dict(self, include_frames: bool = True) -> dict[str, Any]:
        reasons = sorted({f.result.reason for f in self.frames if f.result.reason})
        out: dict[str, Any] = {
            "track": self.track_id, "status": self.status, "is_live": self.is_live,
            "score": None if self.score is None else round(self.score, 6), "threshold": round(self.threshold, 6),
            "model": self.model, "frames": len(self.frames), "frames_scored": len(self.scores),
            "frames_live": sum(f.result.is_live for f in self.frames),
        }
        if reasons:
            out["unavailable_reasons"] = reasons
        if include_frames:
            out["per_frame"] = [{"frame": f.frame, "time": round(f.time, 3), "box": [round(v, 1) for v in f.face.box],
                                 **f.result.to_dict()} for f in self.frames]
        return out


@dataclass
class VideoLiveness:
    path: str
    frames_sampled: int
    tracks: list[LivenessTrack]

    @property
    def subject(self) -> LivenessTrack:
        return max(self.tracks, key=lambda t: (len(t.frames), t.mean_area))

    def to_dict(self) -> dict[str, Any]:
        subject = self.subject
        return {"path": self.path, "frames_sampled": self.frames_sampled, "subject_track": subject.track_id,
                "status": subject.status, "is_live": subject.is_live, "score": subject.to_dict()["score"],
                "tracks": [t.to_dict() for t in self.tracks]}


def check_video(checker: Any, path: str | Path, every_seconds: float = 0.5,
                max_frames: int | None = None) -> VideoLiveness:
    """Liveness of every face track in a video file; FaceNotFoundError when no sampled frame has a face."""
    from facetrust.io.video import read_frames

    return check_frames(checker, read_frames(path, every_seconds=every_seconds, max_frames=max_frames), str(path))


def check_frames(checker: Any, frames: Iterable[VideoFrame], source: str = "<frames>") -> VideoLiveness:
    """Liveness of every face track in a stream of frames (e.g. a camera wrapped in VideoFrame objects)."""
    tracks: list[LivenessTrack] = []
    last_box: dict[int, tuple[float, ...]] = {}
    sampled = 0
    for frame in frames:
        sampled += 1
        open_tracks = set(last_box)
        for item in checker.check_rgb(frame.image):
            overlaps = {tid: iou(item.face.box, last_box[tid]) for tid in open_tracks}
            best = max(overlaps, key=overlaps.get, default=None)
            if best is None or overlaps[best] < TRACK_IOU:
                best = len(tracks)
                tracks.append(LivenessTrack(best, checker.threshold, checker.name))
            else:
                open_tracks.discard(best)  # one face per track and frame
            tracks[best].frames.append(TrackFrame(frame.index, frame.time, item.face, item.result))
            last_box[best] = tuple(item.face.box)
    if not tracks:
        raise FaceNotFoundError(f"{source}: no face in any of the {sampled} sampled frames")
    return VideoLiveness(source, sampled, tracks)
