"""Video cues on real frames: a blink, live vs rigid-planar motion, and the head-turn challenge."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.io.video import VideoFrame, read_frames
from facetrust.liveness.motion import (detect_blinks, estimate_yaw, eye_aspect_ratio, judge_turn_challenge,
                                       landmarks68, synthetic_planar_frames, video_cues)


@pytest.fixture(scope="module")
def analyzer(shared):
    from facetrust.analyzer import FaceAnalyzer

    return FaceAnalyzer(detector="yunet")


@pytest.fixture(scope="module")
def clip_frames(shared) -> list[VideoFrame]:
    """Frames 60-104 (2.0-3.5 s) of a DFDC clip: the 800x1080 part around the seated woman, halved.

    She blinks at 2.47-2.77 s (checked by eye: frame 75 has both eyes shut).
    """
    path = shared / "data" / "deepfake" / "aaronchong888" / "videos" / "abqwwspghj.mp4"
    frames = []
    for frame in read_frames(path, every_seconds=0, max_frames=105):
        if frame.index >= 60:
            part = frame.image[:, 600:1400]  # a smaller picture keeps the test fast
            frames.append(VideoFrame(frame.index, frame.time, cv2.resize(part, (400, 540), interpolation=cv2.INTER_AREA)))
    return frames


@pytest.fixture(scope="module")
def real_cues(clip_frames, analyzer):
    return video_cues(clip_frames, analyzer).subject


def test_eye_aspect_ratio_computed_by_hand():
    # Corners 6 px apart; lids 2 and 1 px apart: (2 + 1) / (2 * 6) = 0.25.
    eye = np.array([(0, 0), (2, -1), (4, -0.5), (6, 0), (4, 0.5), (2, 1)])
    assert eye_aspect_ratio(eye) == pytest.approx(0.25)
    with pytest.raises(ValueError):
        eye_aspect_ratio(np.zeros((6, 2)))


def test_blinks_need_open_eyes_around_a_short_closed_run():
    t = np.arange(12) / 30
    ear = [0.3, 0.3, 0.3, 0.1, 0.12, 0.3, 0.3, 0.18, 0.3, 0.3, 0.3, 0.1]  # a blink, one noisy sample, the end
    blinks = detect_blinks(t, ear)
    assert [(b.start, b.end, b.min_ear) for b in blinks] == [(pytest.approx(0.1), pytest.approx(4 / 30), 0.1)]


def test_a_real_blink_is_found(real_cues):
    assert len(real_cues.frames) == 45
    # At the clip's full 960x540 the bench finds 2.47-2.77 s; here the eyes reopen a frame or two sooner.
    (blink,) = real_cues.blinks
    assert blink.start == pytest.approx(2.47, abs=0.04) and 2.6 < blink.end < 2.8 and blink.min_ear < 0.25


def test_real_face_motion_is_less_planar_than_a_held_up_photo(real_cues, clip_frames, analyzer, tmp_path):
    # The held-up photo: the clip's first frame as a swaying plane, through the same kind of codec.
    path = tmp_path / "planar.mp4"
    frames = synthetic_planar_frames(clip_frames[0].image, 30, tilt_degrees=10, shift=0.02)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (400, 540))
    for frame in frames:
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    photo = video_cues(read_frames(path, every_seconds=0), analyzer).subject
    assert len(photo.moving_pairs) >= 10 and len(real_cues.moving_pairs) >= 5
    assert photo.blinks == []
    assert real_cues.planar_residual > 2 * photo.planar_residual


def test_challenge_judge_on_synthesised_yaw_sequences():
    t = np.arange(0, 3, 0.1)
    turn = 30 * np.sin(2 * np.pi * t / 3)  # frontal, left (+30), back through frontal, right (-30)
    passed = judge_turn_challenge(t, turn)
    assert passed.passed and 0.3 < passed.left_time < passed.right_time < 3
    assert not judge_turn_challenge(t, -turn).passed  # right first
    assert judge_turn_challenge(t, -turn, mirrored=True).passed  # a mirrored preview swaps the sides
    assert "did not start" in judge_turn_challenge(t, turn + 25).reason
    assert "no turn to the left" in judge_turn_challenge(t, 0.5 * turn).reason
    slow = np.arange(0, 18, 0.1)
    assert "more than" in judge_turn_challenge(slow, 30 * np.sin(2 * np.pi * slow / 18)).reason
    cut = np.where(t < 1.5, 0.0, np.where(t < 2.0, 30.0, -30.0))  # two still pictures swapped in
    assert "a cut" in judge_turn_challenge(t, cut).reason
    gap = np.r_[t[:5], t[15:]]
    assert "face lost" in judge_turn_challenge(gap, np.r_[turn[:5], turn[15:]]).reason


def test_challenge_on_real_faces(shared, analyzer):
    # Real head poses: a frontal face, then a face turned one way and its mirror image (turned the other way).
    examples = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples"
    frontal, turned = analyzer.load(examples / "obama.jpg"), analyzer.load(examples / "obama2.jpg")

    def yaw(image: np.ndarray) -> float:
        return estimate_yaw(landmarks68(image, analyzer.detect(image)[0].box), image.shape[1], image.shape[0])

    yaws = [yaw(frontal), yaw(np.ascontiguousarray(turned[:, ::-1])), yaw(turned)]
    assert abs(yaws[0]) < 5 and yaws[1] > 20 and yaws[2] < -20
    assert judge_turn_challenge([0.0, 0.4, 0.8], yaws).passed
    # A held-up photo turned as a rigid plane by up to 30 degrees does not turn the head in it.
    small = cv2.resize(frontal, (455, 568), interpolation=cv2.INTER_AREA)
    frames = synthetic_planar_frames(small, 30, tilt_degrees=30, shift=0.0)
    photo = video_cues(frames, analyzer).subject
    assert not photo.challenge().passed
    assert max(abs(f.yaw) for f in photo.frames) < 20
