"""Group-balanced sampling of the SBI training faces and the aligned-112 training crops."""
from __future__ import annotations

import numpy as np
import pytest


def test_default_weights_are_half_colour_half_gray() -> None:
    from facetrust.forensics.training.sampling import sampling_weights

    colour = np.array([True] * 3 + [False] * 7)
    weights = sampling_weights(colour)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[colour].sum() == pytest.approx(0.5) and np.allclose(weights[:3], 1 / 6)


def test_balanced_weights_give_each_race_then_each_age_band_an_equal_share() -> None:
    from facetrust.forensics.training.sampling import sampling_weights

    # 6 White adults, 2 White infants, 1 Asian infant, 1 Asian adult, 2 ungrouped colour faces, 4 gray faces
    groups = np.array(["white/20-39"] * 6 + ["white/0-2"] * 2 + ["asian/0-2", "asian/20-39", "", ""] + [""] * 4,
                      dtype=object)
    colour = np.array([True] * 12 + [False] * 4)
    weights = sampling_weights(colour, groups)
    assert weights.sum() == pytest.approx(1.0) and weights[~colour].sum() == pytest.approx(0.5)
    assert weights[10:12].sum() == pytest.approx(0.5 * 2 / 12)  # ungrouped colour faces keep their count share
    grouped = 0.5 * 10 / 12
    white, asian = groups == "white/20-39", np.isin(groups, ["asian/0-2", "asian/20-39"])
    assert weights[white | (groups == "white/0-2")].sum() == pytest.approx(grouped / 2) == weights[asian].sum()
    assert weights[groups == "white/0-2"].sum() == pytest.approx(grouped / 4) == weights[white].sum()
    assert weights[8] > weights[6] > weights[0]  # the rarest cell's face is drawn most often


def test_aligned_crops_take_their_share_of_each_group() -> None:
    from facetrust.forensics.training.sampling import sampling_weights

    groups = np.array(["white/20-39"] * 4 + ["asian/0-2"] * 2, dtype=object)
    aligned = np.array([False, False, False, True, False, False])  # the Asian cell has no aligned crops
    weights = sampling_weights(np.ones(6, bool), groups, aligned, aligned_share=0.4)
    assert weights[3] == pytest.approx(0.4 * 0.5) and weights[:3].sum() == pytest.approx(0.6 * 0.5)
    assert weights[4:].sum() == pytest.approx(0.5)
    with pytest.raises(ValueError):
        sampling_weights(np.ones(6, bool), None, aligned, aligned_share=0.4)


def test_utkface_groups_by_file_name_including_aligned_crops(utkface) -> None:
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.training.sampling import age_band, is_aligned112, utkface_groups

    face = read_utkface(utkface, "train")[0]
    sources = [str(face.path), f"{face.path}#aligned112", "/elsewhere/lfw/x.jpg", "clip.mp4#12"]
    want = f"{face.race}/{age_band(face.age)}"
    assert list(utkface_groups(sources, utkface)) == [want, want, "", ""]
    assert list(is_aligned112(sources)) == [False, True, False, False]
    assert [age_band(a) for a in (0, 2, 3, 19, 20, 59, 60, 110)] == ["0-2", "0-2", "3-19", "3-19", "20-39",
                                                                     "40-59", "60+", "60+"]


def test_aligned112_training_crops_follow_the_evaluation_path(utkface) -> None:
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.crop import aligned_crop
    from facetrust.forensics.faces import detect_faces
    from facetrust.forensics.false_alarms import crop_form
    from facetrust.forensics.training.data import build_aligned112_set
    from facetrust.io.image import load_image

    files = [face.path for face in read_utkface(utkface, "train", per_race=1)]
    faces = build_aligned112_set(files, 96, 0.3)
    assert faces.crops.shape[1:] == (96, 96, 3) and len(faces.crops) == len(files)
    assert all(s.endswith("#aligned112") for s in faces.sources)
    # the same crop as the false-alarm evaluation's aligned112 form, re-detected, then cut by the SBI crop
    analyzer = FaceAnalyzer(detector="yunet")
    stored, _ = crop_form(load_image(files[0]), "aligned112", analyzer)
    crop, _ = aligned_crop(stored, detect_faces(analyzer, stored, crop_fallback=True)[0].landmarks, 96, 0.3)
    assert np.array_equal(crop, faces.crops[0])
    # landmarks in crop coordinates: the eyes lie left and right of the centre, above the mouth
    points = faces.landmarks[0]
    assert points[0, 0] < 48 < points[1, 0] and points[:2, 1].mean() < points[3:, 1].mean()
