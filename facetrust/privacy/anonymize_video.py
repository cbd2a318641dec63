"""Anonymising faces in videos: every frame's faces, with face tracks covering the detector's misses.

Two passes over the video, one frame in memory at a time:

1. every frame goes through the detector, and the faces are linked into tracks
   (:class:`facetrust.tracking.FaceTracker`, IoU linking; only the boxes are kept);
2. the boxes to cover are planned (:func:`plan_cover`) and every frame is written, anonymised.

The cover rule (why: a detector that finds a face on frames 10 and 12 but not 11 must not
let frame 11 show it):

* every detected face is covered, on its own frame;
* inside a track, a gap of at most ``fill`` frames between two detections is covered with
  boxes interpolated linearly between them (the face moved from one to the other);
* at a longer gap and at both ends of a track, the last (first) box is held for ``hold``
  frames after (before) it: a face that enters, leaves or turns away is usually missed for
  a few frames before the detector loses or after it finds it.

``fill`` and ``hold`` default to 0.5 s and 0.25 s of the video's frame rate. Covering too
much costs only blurred background; a face the detector never finds on any frame of a
stretch longer than that stays visible (measured: :func:`evaluate_video_anonymization`).
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import numpy as np

from facetrust.errors import ConfigError, OutputError, VideoError
from facetrust.privacy.anonymize import DEFAULT_MARGIN, anonymize_rgb
from facetrust.progress import Progress, track
from facetrust.tracking import FaceTracker, iou

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer

Box = tuple[float, float, float, float]

DEFAULT_FILL_SECONDS = 0.5
DEFAULT_HOLD_SECONDS = 0.25
#: MPEG-4 Part 2 in an .mp4 container: an encoder every opencv-python(-headless) wheel ships.
FOURCC = "mp4v"
OUTPUT_SUFFIX = ".mp4"


@dataclass
class VideoAnonymization:
    """What :func:`anonymize_video` did to one video."""

    source: str
    target: str
    frames: int
    fps: float
    width: int
    height: int
    tracks: int
    detected_boxes: int  # faces the detector found, summed over frames
    added_boxes: int  # boxes the cover rule added (interpolated or held) where the detector found none
    frames_with_faces: int  # frames with at least one covered box

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VideoInfo:
    frames: int  # the container's count (an estimate for some formats)
    fps: float
    width: int
    height: int


def video_info(path: Path) -> VideoInfo:
    """Frame count, rate and size from the container; :class:`VideoError` when it cannot be opened
    or does not state a frame rate (the output must keep it)."""
    import cv2

    from facetrust.io.video import _quiet_decoders

    _quiet_decoders(cv2)
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoError(f"{path}: cannot open as a video")
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        info = VideoInfo(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), fps,
                         int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError(f"{path}: the container states no frame rate")
    return info


def plan_cover(detections: Sequence[Sequence[Box]], fill: int, hold: int) -> tuple[list[list[Box]], int]:
    """The boxes to cover on each frame, by the module's rule, from each frame's detected boxes;
    also the number of track ids. ``fill`` and ``hold`` are in frames."""
    if fill < 0 or hold < 0:
        raise ConfigError(f"fill and hold must be >= 0 frames, got {fill} and {hold}")
    tracker = FaceTracker()
    tracks: dict[int, dict[int, Box]] = {}
    for index, boxes in enumerate(detections):
        for track_id, box in zip(tracker.assign(boxes), boxes):
            tracks.setdefault(track_id, {})[index] = tuple(float(v) for v in box)  # type: ignore[assignment]
    cover: list[list[Box]] = [[tuple(float(v) for v in b) for b in boxes] for boxes in detections]  # type: ignore[misc]
    last = len(detections) - 1

    def add(index: int, box: Box) -> None:
        if 0 <= index <= last:
            cover[index].append(box)

    for seen in tracks.values():
        frames = sorted(seen)
        for before, after in zip(frames, frames[1:]):
            gap = after - before - 1
            if 0 < gap <= fill:
                a, b = np.asarray(seen[before]), np.asarray(seen[after])
                for step in range(1, gap + 1):
                    add(before + step, tuple(float(v) for v in a + (b - a) * step / (gap + 1)))  # type: ignore[arg-type]
            elif gap > fill:
                for step in range(1, min(hold, gap) + 1):
                    add(before + step, seen[before])
                    add(after - step, seen[after])
        for step in range(1, hold + 1):
            add(frames[0] - step, seen[frames[0]])
            add(frames[-1] + step, seen[frames[-1]])
    return cover, tracker.count


def detected_boxes(rgb: np.ndarray, detectors: Sequence["FaceAnalyzer"]) -> list[Box]:
    """The boxes of the faces any of ``detectors`` finds in ``rgb``; where two detectors find the
    same face (IoU >= 0.5), one box enclosing both (so a face is one track, and is covered wholly)."""
    boxes: list[Box] = []
    for analyzer in detectors:
        for found in analyzer.detect_rgb(rgb):
            same = next((i for i, box in enumerate(boxes) if iou(box, found.box) >= 0.5), None)
            if same is None:
                boxes.append(tuple(float(v) for v in found.box))  # type: ignore[arg-type]
            else:
                a, b = boxes[same], found.box
                boxes[same] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
    return boxes


def video_target(target: Path) -> Path:
    """The anonymised copy's path for a video whose copy the image rule of :mod:`facetrust.io.outputs`
    would put at ``target`` (same relative path): ``.mp4`` kept, any other suffix gets ``.mp4``
    appended (``x.avi`` -> ``x.avi.mp4``, never the same file as ``x.mp4``'s copy)."""
    return target if target.suffix.lower() == OUTPUT_SUFFIX else target.with_name(target.name + OUTPUT_SUFFIX)


def anonymize_video(path: Path, target: Path, analyzer: "FaceAnalyzer", method: str = "blur",
                    margin: float = DEFAULT_MARGIN, fill_seconds: float = DEFAULT_FILL_SECONDS,
                    hold_seconds: float = DEFAULT_HOLD_SECONDS, progress: Progress = False,
                    extra_detectors: Sequence["FaceAnalyzer"] = ()) -> VideoAnonymization:
    """Write ``path`` to ``target`` (MPEG-4, same frame rate and size, no audio) with every face of
    every frame anonymised by the module's cover rule; ``target`` appears only complete (a temporary
    file in its folder, then a rename) and an interrupted run leaves nothing. Faces are those found
    by ``analyzer``'s detector or any of ``extra_detectors`` (a second detector finds faces the
    first never does). ``progress`` as in :mod:`facetrust.progress`, over the two passes (2 x frames)."""
    from facetrust.io.video import read_frames

    path, target = Path(path), Path(target)
    anonymize_rgb(np.zeros((1, 1, 3), np.uint8), [], method, margin)  # bad options fail before any work
    if fill_seconds < 0 or hold_seconds < 0:
        raise ConfigError(f"fill and hold must be >= 0 seconds, got {fill_seconds} and {hold_seconds}")
    if target.exists() and target.resolve() == path.resolve():
        raise OutputError(f"the copy of {path} would replace it; choose another folder")
    info = video_info(path) if path.is_file() else None
    frames_read = read_frames(path, every_seconds=0)  # a missing file raises here, on the first frame
    total = None if info is None or info.frames <= 0 else info.frames
    detected: list[list[Box]] = []
    for frame in track(frames_read, total, f"finding faces in {path.name}", _phase(progress, 0, total),
                       unit="frames"):
        detected.append(detected_boxes(frame.image, [analyzer, *extra_detectors]))
    assert info is not None  # read_frames succeeded, so the file exists and opens
    fill, hold = round(fill_seconds * info.fps), round(hold_seconds * info.fps)
    cover, tracks = plan_cover(detected, fill, hold)
    height, width = _written(path, target, cover, method, margin, info.fps,
                             track(read_frames(path, every_seconds=0), len(cover), f"writing {target.name}",
                                   _phase(progress, len(cover), len(cover)), unit="frames"))
    added = sum(len(c) for c in cover) - sum(len(d) for d in detected)
    return VideoAnonymization(str(path), str(target), len(cover), info.fps, width, height, tracks,
                              sum(len(d) for d in detected), added, sum(bool(c) for c in cover))


def _written(path: Path, target: Path, cover: list[list[Box]], method: str, margin: float, fps: float,
             frames: Iterator[Any]) -> tuple[int, int]:
    import cv2

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=OUTPUT_SUFFIX, dir=target.parent)
        os.close(handle)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None
    writer = None
    size = (0, 0)
    try:
        count = 0
        for frame in frames:
            if writer is None:
                size = frame.image.shape[:2]
                writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*FOURCC), fps, (size[1], size[0]))
                if not writer.isOpened():
                    raise OutputError(f"cannot write {target}: the {FOURCC} encoder did not open")
            boxes = cover[frame.index] if frame.index < len(cover) else []
            writer.write(cv2.cvtColor(anonymize_rgb(frame.image, boxes, method, margin), cv2.COLOR_RGB2BGR))
            count += 1
        if count != len(cover):
            raise VideoError(f"{path}: decoded {count} frames on the second pass, {len(cover)} on the first")
        writer.release()
        writer = None
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        if writer is not None:
            writer.release()
        os.unlink(temporary)
        raise
    return size


def _phase(progress: Progress, offset: int, total: int | None) -> Progress:
    """Progress for one pass: a callable sees (done, total) over both passes (2 x frames)."""
    if not callable(progress):
        return progress
    both = None if total is None else 2 * total
    return lambda done, _total: progress(offset + done, both)


def evaluate_video_anonymization(original: Path, anonymised: Mapping[str, Path], analyzer: "FaceAnalyzer",
                                 checkers: Mapping[str, "FaceAnalyzer"], fmr: float = 1e-3,
                                 min_iou: float = 0.3, every: int = 1,
                                 embeddings: dict[tuple[str, str], list[np.ndarray]] | None = None,
                                 faces_seen: dict[str, list[np.ndarray]] | None = None) -> dict[str, Any]:
    """What anonymisation achieved on one video, per output (``{label: path}``, e.g. one per method)
    and per checking detector (``{name: analyzer}``; use the anonymiser's own and at least one other).

    Reads the original and every output frame by frame, in step. Per checker: frames where it finds a
    face in the original; frames where it finds a face in the output (any face), and where such a face
    overlaps (IoU >= ``min_iou``) a face it found in the original — a face that stayed visible (the miss
    rate: such frames over the frames with a face); and re-identification: each face it found in the
    original, embedded by ``analyzer``'s recognizer at its landmarks in the original and in the output
    (the attacker knows where the face was), matching at the ``fmr`` threshold.

    Why the impostor control: the original and anonymised crops of one face share every pixel
    outside the covered region (hair, shoulders, background), and a threshold calibrated on
    portraits may not hold on dark, small video crops; so the same statistic is counted for each
    anonymised face against the originals of the *other* faces of its frame (other people, same
    scene, light and encoding; faces overlapping it by IoU >= ``min_iou`` excluded). Re-identification
    means more matches to one's own original than to others' (``impostor_rate``, and the AUC of the
    mated against those impostor scores: 0.5 = no more than the scene gives); ``original_impostors``
    counts the same for the unanonymised faces (the threshold's false-match rate on this video).
    ``embeddings``: a dict filled with the embeddings per (output label or ``"original"``, checker), for
    comparisons across videos; ``faces_seen``: filled per checker with one row (frame index, box x1, y1,
    x2, y2) per face, in the order of the embeddings (to pair faces by frame, e.g. to calibrate a threshold
    on the video's own impostor pairs). ``every``: check every n-th frame only (all frames are decoded, to
    keep the streams in step)."""
    from facetrust.io.video import read_frames

    threshold = analyzer.threshold(fmr)
    recognizer = analyzer.recognizer
    streams = {label: read_frames(p, every_seconds=0) for label, p in anonymised.items()}
    counts = {(label, name): {"frames_with_face_found": 0, "frames_with_face_visible": 0,
                              "faces_compared": 0, "faces_reidentified": 0, "impostors_compared": 0,
                              "impostors_matched": 0}
              for label in anonymised for name in checkers}
    scores: dict[tuple[str, str], tuple[list[float], list[float]]] = {key: ([], []) for key in counts}
    original_impostors = {name: {"compared": 0, "matched": 0} for name in checkers}
    with_face = dict.fromkeys(checkers, 0)
    frames = 0
    for frame in read_frames(original, every_seconds=0):
        outputs = {label: next(stream, None) for label, stream in streams.items()}
        if any(out is None for out in outputs.values()):
            raise VideoError(f"an anonymised copy of {original} has fewer frames than the original")
        if frame.index % every:
            continue
        frames += 1
        for name, checker in checkers.items():
            faces = checker.detect_rgb(frame.image)
            with_face[name] += bool(faces)
            aligned = [d for d in faces if d.landmarks is not None]
            originals = recognizer.embed_aligned([recognizer.align(frame.image, d) for d in aligned]) if aligned else []
            others = np.array([[j != k and iou(a.box, b.box) < min_iou for k, b in enumerate(aligned)]
                               for j, a in enumerate(aligned)], dtype=bool).reshape(len(aligned), len(aligned))
            if aligned:
                original_impostors[name]["compared"] += int(others.sum())
                original_impostors[name]["matched"] += int(np.sum((originals @ originals.T)[others] >= threshold))
                if embeddings is not None:
                    embeddings.setdefault(("original", name), []).append(np.asarray(originals))
                if faces_seen is not None:
                    faces_seen.setdefault(name, []).append(np.array([(frame.index, *d.box) for d in aligned], float))
            for label, out in outputs.items():
                entry = counts[label, name]
                found = checker.detect_rgb(out.image)  # type: ignore[union-attr]
                entry["frames_with_face_found"] += bool(found)
                entry["frames_with_face_visible"] += any(iou(f.box, d.box) >= min_iou for f in found for d in faces)
                if aligned:
                    hidden = recognizer.embed_aligned([recognizer.align(out.image, d) for d in aligned])  # type: ignore[union-attr]
                    mated, impostor = np.sum(originals * hidden, axis=1), (hidden @ originals.T)[others]
                    entry["faces_compared"] += len(aligned)
                    entry["faces_reidentified"] += int(np.sum(mated >= threshold))
                    entry["impostors_compared"] += len(impostor)
                    entry["impostors_matched"] += int(np.sum(impostor >= threshold))
                    scores[label, name][0].extend(mated.tolist())
                    scores[label, name][1].extend(impostor.tolist())
                    if embeddings is not None:
                        embeddings.setdefault((label, name), []).append(np.asarray(hidden))
    for label, stream in streams.items():
        if next(stream, None) is not None:
            raise VideoError(f"{anonymised[label]} has more frames than {original}")
    result: dict[str, Any] = {"video": str(original), "frames": frames, "every": every, "fmr": fmr, "threshold": threshold,
                              "frames_with_face_original": with_face, "outputs": {}}
    for name, entry in original_impostors.items():
        entry["rate"] = entry["matched"] / entry["compared"] if entry["compared"] else None
    result["original_impostors"] = original_impostors
    for (label, name), entry in counts.items():
        entry["miss_rate"] = entry["frames_with_face_visible"] / with_face[name] if with_face[name] else None
        entry["reidentification_rate"] = (entry["faces_reidentified"] / entry["faces_compared"]
                                          if entry["faces_compared"] else None)
        entry["impostor_rate"] = (entry["impostors_matched"] / entry["impostors_compared"]
                                  if entry["impostors_compared"] else None)
        entry["mated_vs_impostor_auc"] = score_auc(*scores[label, name])
        result["outputs"].setdefault(label, {})[name] = entry
    return result


def score_auc(mated: Sequence[float], impostor: Sequence[float]) -> float | None:
    """P(a mated score > an impostor score), ties counted half (Mann-Whitney); None without both kinds."""
    if not len(mated) or not len(impostor):
        return None
    ordered = np.sort(np.asarray(impostor, dtype=float))
    mated_array = np.asarray(mated, dtype=float)
    below = np.searchsorted(ordered, mated_array, side="left")
    equal = np.searchsorted(ordered, mated_array, side="right") - below
    return float((below + 0.5 * equal).sum() / (len(mated_array) * len(ordered)))

