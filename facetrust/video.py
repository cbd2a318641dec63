"""Analyzing a video: faces in frames sampled at a fixed time interval, linked into tracks."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from facetrust.analyzer import FaceAnalyzer
from facetrust.io.video import read_frames, sample_count
from facetrust.progress import Progress, track
from facetrust.tracking import FaceTracker


def analyze_video(analyzer: FaceAnalyzer, path: Path, every_seconds: float = 1.0, embed: bool = True,
                  max_frames: int | None = None, progress: Progress = False) -> dict[str, Any]:
    """``{"path", "frames": [{"frame", "time", "faces"}], "tracks": [...], "subject_track"}``.

    Each face carries ``"track"``. Per track: frames seen, first and last frame, and for every
    configured check that can aggregate, one result over the track's frames (e.g. liveness: the
    mean P(live) against the threshold). The subject is the track seen in the most frames (ties:
    the earliest). One frame is in memory at a time. ``progress`` as in :mod:`facetrust.progress`.
    """
    tracker = FaceTracker()
    frames = []
    per_track: dict[int, list[dict[str, Any]]] = {}
    total = sample_count(path, every_seconds, max_frames) if progress else None
    frames_read = read_frames(path, every_seconds=every_seconds, max_frames=max_frames)
    for frame in track(frames_read, total, f"analyzing {Path(path).name}", progress, unit="frames"):
        faces = analyzer.analyze_rgb(frame.image, embed=embed)
        records = []
        for face, track_id in zip(faces, tracker.assign([f.box for f in faces])):
            record = {"track": track_id, **face.to_dict(include_embedding=embed)}
            per_track.setdefault(track_id, []).append({"frame": frame.index, **record})
            records.append(record)
        frames.append({"frame": frame.index, "time": round(frame.time, 3), "faces": records})
    tracks = [_track_summary(analyzer, track_id, seen) for track_id, seen in sorted(per_track.items())]
    subject = max(tracks, key=lambda t: (t["frames"], -t["track"]), default=None)
    return {"path": str(path), "frames": frames, "tracks": tracks,
            "subject_track": None if subject is None else subject["track"]}


def _track_summary(analyzer: FaceAnalyzer, track_id: int, seen: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {"track": track_id, "frames": len(seen), "first_frame": seen[0]["frame"],
                               "last_frame": seen[-1]["frame"]}
    for check in analyzer.checks:
        aggregate = getattr(check, "aggregate", None)
        if aggregate is not None:
            summary[check.name] = aggregate([record[check.name] for record in seen])
    return summary
