"""Video anonymisation on a real clip (the first frames of the face_recognition project's Hamilton clip,
cut at test time): same rate, size and frame count, faces hidden, missed frames covered by the tracks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from facetrust.cli.main import app
from facetrust.errors import ConfigError, VideoError
from facetrust.privacy.anonymize_video import (anonymize_video, evaluate_video_anonymization, plan_cover,
                                               score_auc, video_info)

FRAMES = 36


@pytest.fixture(scope="module")
def clip(shared: Path, tmp_path_factory) -> Path:
    import cv2

    from facetrust.io.video import read_frames

    source = shared / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "short_hamilton_clip.mp4"
    target = tmp_path_factory.mktemp("clip") / "hamilton.mp4"
    frames = [f.image for f in read_frames(source, every_seconds=0, max_frames=FRAMES)]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), video_info(source).fps,
                             (frames[0].shape[1], frames[0].shape[0]))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return target


@pytest.fixture(scope="module")
def retinaface():
    from facetrust import FaceAnalyzer

    return FaceAnalyzer(detector="retinaface")


def test_anonymised_video_keeps_rate_size_and_frames_and_no_face_stays_recognisable(clip, analyzer, retinaface,
                                                                                    tmp_path):
    calls = []
    # YuNet alone never finds a background face of frames 22-35 that RetinaFace finds: both anonymise.
    done = anonymize_video(clip, tmp_path / "out.mp4", analyzer, "blur", progress=lambda d, t: calls.append((d, t)),
                           extra_detectors=[retinaface])
    source, written = video_info(clip), video_info(tmp_path / "out.mp4")
    assert (written.frames, written.width, written.height) == (FRAMES, source.width, source.height)
    assert written.fps == pytest.approx(source.fps, abs=0.01)
    assert done.frames == FRAMES and done.detected_boxes > 0 and done.tracks > 0
    assert calls[-1] == (2 * FRAMES, 2 * FRAMES) and len(calls) == 2 * FRAMES
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary file left

    anonymize_video(clip, tmp_path / "mask.mp4", analyzer, "mask", extra_detectors=[retinaface])
    checkers = {"yunet": analyzer, "retinaface": retinaface}
    embeddings: dict = {}
    seen: dict = {}
    result = evaluate_video_anonymization(clip, {"blur": tmp_path / "out.mp4", "mask": tmp_path / "mask.mp4"},
                                          analyzer, checkers, embeddings=embeddings, faces_seen=seen)
    assert result["frames"] == FRAMES
    for name in checkers:  # one (frame, box) row per face, in the order of every output's embeddings
        faces = np.concatenate(seen[name])
        assert faces.shape == (result["outputs"]["blur"][name]["faces_compared"], 5)
        for label in ("original", "blur", "mask"):
            assert len(np.concatenate(embeddings[label, name])) == len(faces)
        assert np.all(np.diff(faces[:, 0]) >= 0) and faces[:, 0].max() < FRAMES
        assert np.all(faces[:, 3] > faces[:, 1]) and np.all(faces[:, 4] > faces[:, 2])
    for name in checkers:
        blurred, masked = result["outputs"]["blur"][name], result["outputs"]["mask"][name]
        assert blurred["faces_compared"] > 0 and blurred["frames_with_face_visible"] == 0, (name, blurred)
        # The mask removes every pixel of the region, so what still matches under it comes from the
        # context (here: near-black faces of a dark audience whose crops match each other); blur must
        # leak nothing beyond that.
        assert blurred["faces_reidentified"] <= masked["faces_reidentified"], (name, blurred, masked)
    assert result["outputs"]["blur"]["yunet"]["faces_reidentified"] == 0
    # The impostor control: each anonymised face against the originals of the other faces of its frame
    # (RetinaFace finds a second person on frames 22-35), counted over the same pairs for every output.
    assert result["original_impostors"]["retinaface"]["compared"] > 0
    for name in checkers:
        compared = result["original_impostors"][name]["compared"]
        for label in ("blur", "mask"):
            entry = result["outputs"][label][name]
            assert entry["impostors_compared"] == compared, (name, label, entry)
            assert 0 <= entry["impostors_matched"] <= compared
            assert entry["mated_vs_impostor_auc"] is None or 0.0 <= entry["mated_vs_impostor_auc"] <= 1.0


def test_score_auc_counts_ties_half():
    assert score_auc([0.9, 0.5], [0.1, 0.5]) == pytest.approx(0.875)
    assert score_auc([0.2], [0.3, 0.4]) == 0.0 and score_auc([], [0.1]) is None


def test_a_face_missed_on_frames_inside_a_track_is_still_covered(clip, analyzer):
    from facetrust.io.video import read_frames

    detected = [[d.box for d in analyzer.detect_rgb(f.image)] for f in read_frames(clip, every_seconds=0, max_frames=12)]
    assert all(detected[i] for i in range(3, 9)), "the clip's first frames show a face on each frame"
    face = max(detected[5], key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
    missed = [list(boxes) for boxes in detected]
    for index in (5, 6):  # the detector "misses" the face on two frames
        missed[index] = [b for b in missed[index] if b != max(missed[index], key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))]
    cover, _ = plan_cover(missed, fill=2, hold=0)
    before, after = np.asarray(max(detected[4], key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))), \
        np.asarray(max(detected[7], key=lambda b: (b[2] - b[0]) * (b[3] - b[1])))
    for index, step in ((5, 1), (6, 2)):
        expected = before + (after - before) * step / 3
        assert any(np.allclose(box, expected) for box in cover[index]), index
        assert any(np.abs(np.asarray(box) - np.asarray(face)).max() < 0.5 * (face[2] - face[0]) for box in cover[index])
    bare, _ = plan_cover(missed, fill=1, hold=0)  # a gap longer than fill is not interpolated …
    assert len(bare[5]) == len(missed[5]) and len(bare[6]) == len(missed[6])
    held, _ = plan_cover(missed, fill=1, hold=1)  # … but each side's box is held for `hold` frames
    assert len(held[5]) == len(missed[5]) + 1 and len(held[6]) == len(missed[6]) + 1
    with pytest.raises(ConfigError):
        plan_cover(missed, fill=-1, hold=0)


def test_cli_anonymises_a_video_and_refuses_a_broken_one_in_one_line(clip, shared, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["anonymize", str(clip), "--out", str(tmp_path / "out"), "--method", "pixelate", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    target = tmp_path / "out" / "hamilton.mp4"
    assert list(report["written"]) == [str(target)] and report["videos"][str(target)]["frames"] == FRAMES
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video, whatever its name says\n" * 200)
    bad = runner.invoke(app, ["anonymize", str(broken), "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1, bad.output
    assert "broken.mp4" in bad.output
    assert list((tmp_path / "bad").iterdir()) == []
    with pytest.raises(VideoError):
        anonymize_video(broken, tmp_path / "x.mp4", None)  # type: ignore[arg-type]
