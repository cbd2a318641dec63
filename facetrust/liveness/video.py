"""Video liveness: per-frame results linked into face tracks, one decision per track.

Frames are sampled every ``every_seconds`` (:func:`facetrust.io.video.read_frames`,
one frame in memory at a time). Faces are linked into tracks by
:class:`facetrust.tracking.FaceTracker`. A track's score is the **mean** P(live) over its frames with a decision
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
from facetrust.tracking import FaceTracker, per_frame_records, unavailable_reasons
from facetrust.types import Face

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
        reasons = unavailable_reasons(self.frames)
        out: dict[str, Any] = {
            "track": self.track_id, "status": self.status, "is_live": self.is_live,
            "score": None if self.score is None else round(self.score, 6), "threshold": round(self.threshold, 6),
            "model": self.model, "frames": len(self.frames), "frames_scored": len(self.scores),
            "frames_live": sum(f.result.is_live for f in self.frames),
        }
        if reasons:
            out["unavailable_reasons"] = reasons
        if include_frames:
            out["per_frame"] = per_frame_records(self.frames)
        return out


@dataclass
class VideoLiveness:
    path: str
    frames_sampled: int
    tracks: list[LivenessTrack]
    #: The video cues (blinks, planar motion, head-turn challenge) of a dense pass over the
    #: first frames, when asked for: :func:`facetrust.liveness.motion.video_cues`.
    cues: Any = None

    @property
    def subject(self) -> LivenessTrack:
        return max(self.tracks, key=lambda t: (len(t.frames), t.mean_area))

    def to_dict(self) -> dict[str, Any]:
        subject = self.subject
        return {"path": self.path, "frames_sampled": self.frames_sampled, "subject_track": subject.track_id,
                "status": subject.status, "is_live": subject.is_live, "score": subject.to_dict()["score"],
                "tracks": [t.to_dict() for t in self.tracks],
                **({} if self.cues is None else {"cues": self.cues.to_dict()})}


def check_video(checker: Any, path: str | Path, every_seconds: float = 0.5,
                max_frames: int | None = None, cue_frames: int = 0) -> VideoLiveness:
    """Liveness of every face track in a video file; FaceNotFoundError when no sampled frame has a face.

    ``cue_frames`` > 0 adds the video cues measured over that many consecutive frames from the
    start (blinks and motion need every frame, so this is a second, dense pass; its tracks
    are numbered on their own)."""
    from facetrust.io.video import read_frames

    result = check_frames(checker, read_frames(path, every_seconds=every_seconds, max_frames=max_frames), str(path))
    if cue_frames > 0:
        from facetrust.liveness.motion import video_cues

        result.cues = video_cues(read_frames(path, every_seconds=0, max_frames=cue_frames), checker.analyzer)
    return result


def check_frames(checker: Any, frames: Iterable[VideoFrame], source: str = "<frames>") -> VideoLiveness:
    """Liveness of every face track in a stream of frames (e.g. a camera wrapped in VideoFrame objects)."""
    tracks: list[LivenessTrack] = []
    tracker = FaceTracker()
    sampled = 0
    for frame in frames:
        sampled += 1
        items = checker.check_rgb(frame.image)
        for item, best in zip(items, tracker.assign([item.face.box for item in items])):
            if best == len(tracks):
                tracks.append(LivenessTrack(best, checker.threshold, checker.name))
            tracks[best].frames.append(TrackFrame(frame.index, frame.time, item.face, item.result))
    if not tracks:
        raise FaceNotFoundError(f"{source}: no face in any of the {sampled} sampled frames")
    return VideoLiveness(source, sampled, tracks)
