"""Linking the faces of sampled video frames into tracks (one per person on screen).

Greedy IoU linking: each face of a frame (largest first) joins the open track whose
latest box overlaps it most, if that overlap is at least ``min_iou``; otherwise it
starts a new track. Each track takes at most one face per frame. Sampled frames are
close in time (≤ 1 s apart by default), so boxes of one person overlap from frame to
frame; a person who leaves and comes back gets a new track.
"""
from __future__ import annotations

from typing import Any, Sequence

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


def per_frame_records(frames: Sequence[Any]) -> list[dict[str, Any]]:
    """JSON rows of a track's frames: frame index, time, box and the frame's result.

    ``frames`` hold ``frame``, ``time``, ``face`` and a ``result`` with ``to_dict()``
    (the liveness and forgery video tracks)."""
    return [{"frame": f.frame, "time": round(f.time, 3), "box": [round(v, 1) for v in f.face.box],
             **f.result.to_dict()} for f in frames]


def unavailable_reasons(frames: Sequence[Any]) -> list[str]:
    """The distinct reasons why frames of a track got no score."""
    return sorted({f.result.reason for f in frames if f.result.reason})
