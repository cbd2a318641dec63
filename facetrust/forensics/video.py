"""Video forgery check: per-frame scores on face tracks, identity drift, suspicious segments.

Frames are sampled every ``every_seconds`` by stream time (variable frame rates are
sampled by time, not by count), at most ``max_frames`` of them, one frame in memory at
a time (:func:`facetrust.io.video.read_frames`); frames over
:data:`~facetrust.forensics.faces.DETECT_MAX_SIDE` are shrunk for detection only.
Faces are linked into tracks by :class:`facetrust.tracking.FaceTracker`. Per track:

* ``score``: the mean P(fake) over its frames with a decision (unavailable frames are
  counted, not averaged); fake when it reaches the threshold;
* ``drift``: the training-free identity drift (:mod:`facetrust.forensics.temporal`);
* ``segments``: runs of suspicious frames (:mod:`facetrust.forensics.localisation`).

The **subject** is the track seen in the most frames (ties: larger mean face area):
the one decision for the whole video. A video in which no sampled frame has a face
gets ``status="unavailable"`` with the reason, not an exception.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.forensics.localisation import Segment, suspicious_segments
from facetrust.forensics.temporal import Drift, identity_drift
from facetrust.progress import Progress, track
from facetrust.tracking import FaceTracker, ScoredTrack, SubjectVideoResult, TrackFrame
from facetrust.types import Detection


@dataclass
class ForgeryTrack(ScoredTrack):
    POSITIVE = "fake"
    NEGATIVE = "real"

    drift: Drift | None = None

    @property
    def segments(self) -> list[Segment]:
        scored = self.scored
        return suspicious_segments([f.frame for f in scored], [f.time for f in scored],
                                   [f.result.score for f in scored], self.threshold)

    @property
    def model_scores(self) -> dict[str, float]:
        """Mean P(fake) per model over the frames with a decision."""
        names = {name for f in self.scored for name in f.result.model_scores}
        return {name: float(np.mean([f.result.model_scores[name] for f in self.scored
                                     if name in f.result.model_scores])) for name in sorted(names)}

    def to_dict(self, include_frames: bool = True) -> dict[str, Any]:
        out = super().to_dict(include_frames)
        out["model_scores"] = {name: round(v, 6) for name, v in self.model_scores.items()}
        out["drift"] = None if self.drift is None else self.drift.to_dict()
        out["segments"] = [s.to_dict() for s in self.segments]
        return out


@dataclass
class VideoForgery(SubjectVideoResult):
    path: str
    frames_sampled: int
    tracks: list[ForgeryTrack]
    model: str
    threshold: float

    def to_dict(self, include_frames: bool = True) -> dict[str, Any]:
        subject = self.subject
        out: dict[str, Any] = {
            "path": self.path, "frames_sampled": self.frames_sampled, "model": self.model,
            "threshold": round(self.threshold, 6), "status": self.status,
            "is_fake": None if self.status == "unavailable" else self.status == "fake",
            "model_scores": {} if subject is None else {k: round(v, 6) for k, v in subject.model_scores.items()},
            "score": None if self.score is None else round(self.score, 6),
            "subject_track": None if subject is None else subject.track_id,
            "drift": None if subject is None or subject.drift is None else subject.drift.to_dict(),
            "segments": [] if subject is None else [s.to_dict() for s in subject.segments],
            "tracks": [t.to_dict(include_frames) for t in self.tracks],
        }
        if self.reason:
            out["reason"] = self.reason
            out["reason_codes"] = self.reason_codes
        return out


def check_video(checker: Any, path: str | Path, every_seconds: float = 0.2, max_frames: int | None = 100,
                progress: Progress = False, drift: bool = True) -> VideoForgery:
    """Forgery check of every face track in a video (see the module docstring); ``progress`` as in
    :mod:`facetrust.progress` (True: a bar on stderr counting sampled frames)."""
    return scan_video([checker], path, every_seconds, max_frames, progress, drift)[0]


def scan_video(checkers: Sequence[Any], path: str | Path, every_seconds: float = 0.2, max_frames: int | None = 100,
               progress: Progress = False, drift: bool = True) -> list[VideoForgery]:
    """One pass over the video for several checkers: faces are detected, tracked and embedded once
    (with the first checker's analyzer), then scored by each checker. One result per checker."""
    from facetrust.io.video import read_frames, sample_count

    path = Path(path)
    first = checkers[0]
    analyzer = first.analyzer
    tracks: list[list[ForgeryTrack]] = [[] for _ in checkers]
    tracker = FaceTracker()
    samples: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    sampled = 0
    frames = read_frames(path, every_seconds=every_seconds, max_frames=max_frames)
    total = sample_count(path, every_seconds, max_frames) if progress else None
    for frame in track(frames, total, f"forgery {path.name}", progress, unit="frames"):
        sampled += 1
        faces = first.detect(frame.image)
        for face, best in zip(faces, tracker.assign([f.box for f in faces])):
            if best not in samples:
                samples[best] = []
                for checker, found in zip(checkers, tracks):
                    found.append(ForgeryTrack(best, checker.threshold, checker.name))
            for checker, found in zip(checkers, tracks):
                found[best].frames.append(TrackFrame(frame.index, frame.time, face, checker.check_face(frame.image, face)))
            if drift and first.unavailable_reason(face) is None:
                aligned = analyzer.recognizer.align(frame.image, Detection(face.box, face.score, face.landmarks))
                samples[best].append((analyzer.recognizer.embed_aligned([aligned])[0], face.landmarks))
    if drift and samples:
        impostor_distance = 1.0 - analyzer.threshold()
        for track_id, track_samples in samples.items():
            measured = identity_drift([e for e, _ in track_samples], [lm for _, lm in track_samples], impostor_distance)
            for found in tracks:
                found[track_id].drift = measured
    return [VideoForgery(str(path), sampled, found, checker.name, checker.threshold)
            for checker, found in zip(checkers, tracks)]
