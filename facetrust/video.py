"""Analyzing a video: faces in frames sampled at a fixed time interval."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from facetrust.analyzer import FaceAnalyzer
from facetrust.io.video import read_frames


def analyze_video(analyzer: FaceAnalyzer, path: Path, every_seconds: float = 1.0, embed: bool = True,
                  max_frames: int | None = None) -> dict[str, Any]:
    """``{"path", "frames": [{"frame", "time", "faces"}]}``; one frame in memory at a time."""
    frames = []
    for frame in read_frames(path, every_seconds=every_seconds, max_frames=max_frames):
        faces = analyzer.analyze_rgb(frame.image, embed=embed)
        frames.append({"frame": frame.index, "time": round(frame.time, 3),
                       "faces": [f.to_dict(include_embedding=embed) for f in faces]})
    return {"path": str(path), "frames": frames}
