"""The SBI trainer end to end on two real photos for a few seconds (needs the [train] extra)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")


def test_train_and_export_round_trip(faces_dir: Path, tmp_path: Path) -> None:
    from facetrust.forensics.training.data import FaceSet, build_face_set
    from facetrust.forensics.training.train_sbi import export, make_batch, split_by_source, train

    files = [faces_dir / "examples" / "obama.jpg", faces_dir / "examples" / "biden.jpg",
             faces_dir / "examples" / "two_people.jpg"]
    faces = build_face_set(files, 96, 0.3, 32)
    assert len(faces.crops) == 4 and faces.colour.all()
    faces.save(tmp_path / "faces.npz")
    faces = FaceSet.load(tmp_path / "faces.npz")
    inputs, labels, masks = make_batch(faces, np.arange(2), np.random.default_rng(0))
    assert inputs["rgb"].shape == (4, 3, 96, 96) and list(labels) == [0, 1, 0, 1] and masks.shape == (4, 24, 24)
    assert masks[0].max() == 0 and masks[1].max() > 0
    train_idx, val_idx = split_by_source(faces, seed=0)
    assert len(train_idx) + len(val_idx) == 4
    torch.set_num_threads(1)
    net, stats = train(faces, np.arange(4), seconds=3.0, batch_pairs=2, lr=1e-3, seed=0)
    assert stats["steps"] >= 1
    assert export(net, tmp_path / "model.onnx") < 1e-4  # onnxruntime reproduces torch


def test_luminance_net_sees_no_colour(faces_dir: Path) -> None:
    from facetrust.forensics.sbi_inputs import model_inputs
    from facetrust.forensics.training.model import SBINet
    from facetrust.io.image import load_image

    crop = load_image(faces_dir / "examples" / "obama.jpg")[:96, :96]
    luma = crop.astype(np.float64) @ [0.299, 0.587, 0.114]
    gray = np.repeat(luma[..., None], 3, axis=2)
    # the network input is normalised per channel identically, so feeding float grays is exact
    colour_feed, gray_feed = model_inputs(crop[None]), model_inputs(crop[None])
    gray_feed["rgb"] = ((gray.transpose(2, 0, 1)[None] / 255.0 - 0.5) / 0.25).astype(np.float32)
    torch.manual_seed(0)
    net = SBINet(luminance=True).eval()
    with torch.no_grad():
        a = net(torch.from_numpy(colour_feed["rgb"]), torch.from_numpy(colour_feed["spectrum"]))
        b = net(torch.from_numpy(gray_feed["rgb"]), torch.from_numpy(gray_feed["spectrum"]))
    assert torch.allclose(a[0], b[0], atol=1e-5) and torch.allclose(a[1], b[1], atol=1e-5)
    colour_net = SBINet(luminance=False).eval()
    with torch.no_grad():
        assert not torch.allclose(colour_net(torch.from_numpy(colour_feed["rgb"]), torch.from_numpy(colour_feed["spectrum"]))[1],
                                  colour_net(torch.from_numpy(gray_feed["rgb"]), torch.from_numpy(gray_feed["spectrum"]))[1])


def test_fine_tuning_starts_exactly_from_the_packaged_model() -> None:
    import onnxruntime as ort

    from facetrust.forensics.sbi import model_path
    from facetrust.forensics.training.model import ExportedSBINet, SBINet
    from facetrust.forensics.training.train_sbi import init_from_onnx

    net = SBINet(luminance=True)
    init_from_onnx(net, model_path())
    rgb, spectrum = torch.randn(2, 3, 96, 96), torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        want = [t.numpy() for t in ExportedSBINet(net).eval()(rgb, spectrum)]
    got = ort.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"]).run(
        None, {"rgb": rgb.numpy(), "spectrum": spectrum.numpy()})
    assert max(float(np.abs(g - w).max()) for g, w in zip(got, want)) < 1e-5


def test_clip_blending_loss_log_and_checkpoint(faces_dir: Path, tmp_path: Path) -> None:
    import csv

    from facetrust.forensics.training.data import FaceSet, build_face_set
    from facetrust.forensics.training.train_sbi import CLIP_LENGTH, clip_starts, make_batch, train

    built = build_face_set([faces_dir / "examples" / "obama.jpg", faces_dir / "examples" / "biden.jpg"], 96, 0.3, 32)
    # the same two faces as if they were frames of one video: clips need consecutive crops of one source
    crops, points = np.repeat(built.crops, 3, axis=0), np.repeat(built.landmarks, 3, axis=0)
    faces = FaceSet(crops, points, np.array([f"clip.mp4#{i}" for i in range(6)]), np.ones(6, bool))
    assert list(clip_starts(faces, np.arange(6))) == [0, 1, 2]
    assert list(clip_starts(faces, np.array([0, 1, 2, 4, 5]))) == []  # frame 3 missing: no run of 4
    inputs, labels, masks = make_batch(faces, np.array([], int), np.random.default_rng(0),
                                       [np.arange(CLIP_LENGTH)], colour_probability=1.0)
    assert list(labels) == [0, 1] * CLIP_LENGTH and inputs["rgb"].shape[0] == 2 * CLIP_LENGTH
    torch.set_num_threads(1)
    _, stats = train(faces, np.arange(6), seconds=3.0, batch_pairs=4, lr=1e-3, seed=0, clip_share=1.0,
                     colour_probability=0.5, log_path=tmp_path / "loss.csv", checkpoint_path=tmp_path / "w.pt")
    with (tmp_path / "loss.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == stats["steps"] >= 1 and stats["clip_pairs_per_batch"] == 4
    assert all(float(r["loss"]) == pytest.approx(float(r["loss_score"]) + float(r["loss_mask"]), abs=2e-5) for r in rows)
    assert (tmp_path / "w.pt").is_file()


def test_shift_augment_moves_real_and_blended_crops_with_their_masks(faces_dir: Path) -> None:
    from facetrust.forensics.training.data import build_face_set
    from facetrust.forensics.training.train_sbi import make_batch, shift

    faces = build_face_set([faces_dir / "examples" / "obama.jpg"], 96, 0.3, 32)
    crop = faces.crops[0]
    mask = np.zeros(crop.shape[:2], np.float32)
    mask[40:60, 30:50] = 1.0
    moved, moved_mask = shift(crop, mask, 3, -2)  # 3 right, 2 up
    np.testing.assert_array_equal(moved[:-2, 3:], crop[2:, :-3])
    np.testing.assert_array_equal(moved_mask[:-2, 3:], mask[2:, :-3])
    assert moved_mask[38:58, 33:53].sum() == 400.0  # the blended region moved with the face
    assert shift(crop, mask, 0, 0)[0] is crop
    # with the augmentation on, the same draw gives other inputs than without it
    plain, _, _ = make_batch(faces, np.zeros(1, int), np.random.default_rng(3))
    shifted, labels, masks = make_batch(faces, np.zeros(1, int), np.random.default_rng(3), shift_pixels=4)
    assert shifted["rgb"].shape == plain["rgb"].shape and list(labels) == [0, 1] and masks[0].max() == 0
    assert not np.array_equal(shifted["rgb"], plain["rgb"])


@pytest.mark.parametrize("pixels", ["-1", "24", "x"])
def test_shift_augment_out_of_range_is_one_usage_line(pixels: str, tmp_path: Path, capsys) -> None:
    from facetrust.forensics.training.train_sbi import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "m.onnx"), "--shift-augment", pixels])
    assert exit_info.value.code == 2
    assert "--shift-augment" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()
