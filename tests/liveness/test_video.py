"""Video liveness: per-frame results linked into tracks, and a video without a face."""
from __future__ import annotations

import json

import numpy as np
import pytest

from facetrust.errors import FaceNotFoundError


def test_tracks_aggregate_the_frames_of_a_real_clip(checker, shared):
    clip = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "short_hamilton_clip.mp4"
    video = checker.check_video(clip, every_seconds=1.0, max_frames=3)
    assert video.frames_sampled == 3
    frames_in_tracks = [f.frame for t in video.tracks for f in t.frames]
    assert len(frames_in_tracks) >= 3  # at least one face per sampled frame in this clip
    subject = video.subject
    assert len(subject.frames) == max(len(t.frames) for t in video.tracks)
    scored = [f.result.score for f in subject.frames if f.result.score is not None]
    assert subject.score == pytest.approx(np.mean(scored))
    assert subject.status == ("live" if subject.score >= checker.threshold else "spoof")
    record = json.loads(json.dumps(video.to_dict()))
    assert record["subject_track"] == subject.track_id and record["frames_sampled"] == 3
    assert all(0 <= f["score"] <= 1 for t in record["tracks"] for f in t["per_frame"] if f["score"] is not None)


def test_video_without_a_face_raises(checker, tmp_path):
    import cv2
    from skimage import data

    frame = cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR)
    path = tmp_path / "coffee.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (frame.shape[1], frame.shape[0]))
    for _ in range(5):
        writer.write(frame)
    writer.release()
    with pytest.raises(FaceNotFoundError, match="no face in any of the 5 sampled frames"):
        checker.check_video(path, every_seconds=0)


def test_frame_stream_links_one_face_into_one_track(checker, spoof_dir):
    from facetrust.io.video import VideoFrame
    from facetrust.liveness.video import check_frames

    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    video = check_frames(checker, (VideoFrame(i, i / 10, image) for i in range(3)), "camera")
    assert video.frames_sampled == 3 and len(video.tracks) == 1
    track = video.subject
    assert [f.frame for f in track.frames] == [0, 1, 2]
    assert track.status == "live" and track.to_dict(include_frames=False)["frames_live"] == 3
