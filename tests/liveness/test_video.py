"""Video liveness: per-frame results linked into tracks, and a video without a face (unavailable)."""
from __future__ import annotations

import json

import numpy as np
import pytest


def test_tracks_aggregate_the_frames_of_a_real_clip(checker, shared):
    clip = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "short_hamilton_clip.mp4"
    video = checker.check_video(clip, every_seconds=1.0, max_frames=3)
    assert video.frames_sampled == 3
    frames_in_tracks = [f.frame for t in video.tracks for f in t.frames]
    assert len(frames_in_tracks) >= 3  # at least one face per sampled frame in this clip
    for track in video.tracks:
        scored = [f.result.score for f in track.frames if f.result.score is not None]
        if scored:
            assert track.score == pytest.approx(np.mean(scored))
            assert track.status == ("live" if track.score >= checker.threshold else "spoof")
        else:  # e.g. the close-up at 2 s, whose face fills the frame height: unknown, not "spoof"
            assert track.score is None and track.status == "unavailable" and track.is_live is None
    assert any(t.score is not None for t in video.tracks)
    subject = video.subject
    assert len(subject.frames) == max(len(t.frames) for t in video.tracks)
    assert (video.status, video.is_live, video.score) == (subject.status, subject.is_live, subject.score)
    record = json.loads(json.dumps(video.to_dict()))
    assert record["subject_track"] == subject.track_id and record["frames_sampled"] == 3
    assert all(0 <= f["score"] <= 1 for t in record["tracks"] for f in t["per_frame"] if f["score"] is not None)


def test_video_without_a_face_is_unavailable_with_the_reason(checker, faceless_video):
    video = checker.check_video(faceless_video, every_seconds=0)
    assert video.frames_sampled == 5 and video.tracks == [] and video.subject is None
    assert video.status == "unavailable" and video.is_live is None and video.score is None
    assert video.reason == "no face in any of the 5 sampled frames"
    record = json.loads(json.dumps(video.to_dict()))
    assert record["status"] == "unavailable" and record["is_live"] is None and record["score"] is None
    assert record["subject_track"] is None and record["reason"] == video.reason


def test_frame_stream_links_one_face_into_one_track(checker, spoof_dir):
    from facetrust.io.video import VideoFrame
    from facetrust.liveness.video import check_frames

    image = checker.analyzer.load(spoof_dir / "silent_face" / "image_T1.jpg")
    video = check_frames(checker, (VideoFrame(i, i / 10, image) for i in range(3)), "camera")
    assert video.frames_sampled == 3 and len(video.tracks) == 1
    track = video.subject
    assert [f.frame for f in track.frames] == [0, 1, 2]
    assert track.status == "live" and track.to_dict(include_frames=False)["frames_live"] == 3
