"""Video forgery checks: bad files, no face, a real clip, and identity drift on a face-swapped clip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facetrust.errors import ImageNotFoundError, VideoError


def _write_clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def test_zero_length_undecodable_and_missing_videos_raise_typed_errors(sbi_checker, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    for path in (empty, garbage):
        with pytest.raises(VideoError):
            sbi_checker.check_video(path, max_frames=3)
    with pytest.raises(ImageNotFoundError):
        sbi_checker.check_video(tmp_path / "missing.mp4")


def test_video_without_faces_is_unavailable(sbi_checker, tmp_path: Path) -> None:
    from skimage import data

    coffee = data.coffee()
    clip = _write_clip(tmp_path / "coffee.avi", [np.roll(coffee, 8 * i, axis=1) for i in range(4)])
    video = sbi_checker.check_video(clip, every_seconds=0.0, max_frames=4)
    assert video.frames_sampled == 4 and video.tracks == []
    assert video.status == "unavailable" and video.score is None
    out = video.to_dict()
    assert out["status"] == "unavailable" and "no face" in out["reason"] and out["segments"] == []


def test_real_clip_gets_tracks_per_frame_scores_and_drift(sbi_checker, hamilton_clip: Path) -> None:
    video = sbi_checker.check_video(hamilton_clip, every_seconds=0.2, max_frames=5)
    assert video.frames_sampled == 5
    subject = video.subject
    assert subject is not None and len(subject.frames) >= 3
    frames = [f.frame for f in subject.frames]
    assert frames == sorted(frames)
    out = video.to_dict()
    assert out["subject_track"] == subject.track_id and isinstance(out["segments"], list)
    scored = [f for f in out["tracks"][subject.track_id]["per_frame"] if f["score"] is not None]
    assert scored and all(0.0 <= f["score"] <= 1.0 for f in scored)
    if out["score"] is not None:
        assert out["score"] == pytest.approx(np.mean([f["score"] for f in scored]), abs=1e-5)
        # per-model scores (as liveness reports them): per frame, per track and for the video
        assert all(f["model_scores"] == {"sbi": f["score"]} for f in scored)
        assert out["model_scores"]["sbi"] == pytest.approx(out["score"], abs=1e-5)


@pytest.fixture(scope="module")
def single_face_clips(sbi_checker, hamilton_clip: Path, faces_dir: Path, tmp_path_factory) -> tuple[Path, Path]:
    """12 consecutive frames cropped around the clip's main face, and the same frames with Obama's
    face pasted on per frame (landmark-aligned with 1.5 px of random misalignment, as a
    per-frame face replacement leaves)."""
    from facetrust.forensics.synthesis import swap_face
    from facetrust.io.video import read_frames

    frames = [f.image for f in read_frames(hamilton_clip, every_seconds=0.0, max_frames=12)]
    x1, y1, x2, y2 = sbi_checker.detect(frames[0])[0].box
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1)
    top, left = int(max(0, cy - half)), int(max(0, cx - half))
    crops = [np.ascontiguousarray(f[top: int(cy + half), left: int(cx + half)]) for f in frames]
    source = sbi_checker.analyzer.load(faces_dir / "examples" / "obama.jpg")
    source_points = sbi_checker.detect(source)[0].landmarks
    rng = np.random.default_rng(0)
    swapped = [swap_face(crop, sbi_checker.detect(crop)[0].landmarks, source, source_points, rng, jitter=1.5).image
               for crop in crops]
    folder = tmp_path_factory.mktemp("clips")
    return _write_clip(folder / "real.avi", crops, 30), _write_clip(folder / "swapped.avi", swapped, 30)


def test_identity_drift_rises_on_a_per_frame_face_swap(sbi_checker, single_face_clips) -> None:
    real_clip, swapped_clip = single_face_clips
    real = sbi_checker.check_video(real_clip, every_seconds=0.0, max_frames=12)
    swapped = sbi_checker.check_video(swapped_clip, every_seconds=0.0, max_frames=12)
    real_drift, swapped_drift = real.subject.drift, swapped.subject.drift
    assert real_drift.score is not None and swapped_drift.score is not None
    assert swapped_drift.identity > real_drift.identity
    assert swapped_drift.score > real_drift.score
