"""Video liveness: per-frame results linked into face tracks, one decision per track.

Frames are sampled every ``every_seconds`` (:func:`facetrust.io.video.read_frames`,
one frame in memory at a time). Faces are linked into tracks by
:class:`facetrust.tracking.FaceTracker`. A track's score is the **mean** P(live) over its frames with a decision
(unavailable frames are counted, not averaged); it is live when that mean
reaches the threshold. The **subject** is the track seen in the most frames
(ties: the larger mean face area) — the one decision for the whole video. A video in which
no sampled frame has a face is ``unavailable`` (``is_live`` None), with the reason.
"""
from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable


from facetrust.io.video import VideoFrame
from facetrust.progress import Progress, track
from facetrust.tracking import FaceTracker, ScoredTrack, SubjectVideoResult, TrackFrame

@dataclass
class LivenessTrack(ScoredTrack):
    POSITIVE = "live"
    NEGATIVE = "spoof"

    @property
    def is_live(self) -> bool | None:
        return None if self.status == "unavailable" else self.status == "live"


@dataclass
class VideoLiveness(SubjectVideoResult):
    path: str
    frames_sampled: int
    tracks: list[LivenessTrack]
    #: The video cues (blinks, planar motion, head-turn challenge) of a dense pass over the
    #: first frames, when asked for: :func:`facetrust.liveness.motion.video_cues`.
    cues: Any = None

    @property
    def is_live(self) -> bool | None:
        return None if self.subject is None else self.subject.is_live

    def to_dict(self) -> dict[str, Any]:
        subject = self.subject
        out = {"path": self.path, "frames_sampled": self.frames_sampled,
               "subject_track": None if subject is None else subject.track_id, "status": self.status,
               "is_live": self.is_live, "score": None if self.score is None else round(self.score, 6),
               "tracks": [t.to_dict() for t in self.tracks],
               **({} if self.cues is None else {"cues": self.cues.to_dict()})}
        if self.reason:
            out["reason"] = self.reason
            out["reason_codes"] = self.reason_codes
        return out


def check_video(checker: Any, path: str | Path, every_seconds: float = 0.5,
                max_frames: int | None = None, cue_frames: int = 0, progress: Progress = False) -> VideoLiveness:
    """Liveness of every face track in a video file; ``unavailable`` when no sampled frame has a face.

    ``cue_frames`` > 0 adds the video cues measured over that many consecutive frames from the
    start (blinks and motion need every frame, so this is a second, dense pass; its tracks
    are numbered on their own). ``progress`` as in :mod:`facetrust.progress` (one count per pass)."""
    from facetrust.io.video import read_frames, sample_count

    name = Path(path).name
    total = sample_count(path, every_seconds, max_frames) if progress else None
    # closing(): a pass that stops early (an error) ends its progress bar at once
    with closing(track(read_frames(path, every_seconds=every_seconds, max_frames=max_frames), total,
                       f"liveness {name}", progress, unit="frames")) as frames:
        result = check_frames(checker, frames, str(path))
    if cue_frames > 0 and result.tracks:  # no face sampled: nothing to measure cues on
        from facetrust.liveness.motion import video_cues

        total = sample_count(path, 0, cue_frames) if progress else None
        with closing(track(read_frames(path, every_seconds=0, max_frames=cue_frames), total, f"video cues {name}",
                           progress, unit="frames")) as frames:
            result.cues = video_cues(frames, checker.analyzer)
    return result


def check_frames(checker: Any, frames: Iterable[VideoFrame], source: str = "<frames>") -> VideoLiveness:
    """Liveness of every face track in a stream of frames (e.g. a camera wrapped in VideoFrame objects);
    no face in any frame gives an ``unavailable`` result with the reason."""
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
    return VideoLiveness(source, sampled, tracks)
