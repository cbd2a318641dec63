"""Pseudo-fake synthesis on real faces: self-blended images, video-level blending, face swap."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="module")
def aligned_faces(sbi_checker, astronaut, grace_hopper_path):
    """(crop, landmarks in crop coordinates) of two real faces, as the trainer stores them."""
    import cv2

    from facetrust.forensics.crop import aligned_crop
    from facetrust.io.image import load_image

    faces = []
    for image in (astronaut, load_image(grace_hopper_path)):
        face = sbi_checker.detect(image)[0]
        crop, crop_to_image = aligned_crop(image, face.landmarks, 96, 0.3)
        image_to_crop = cv2.invertAffineTransform(crop_to_image)
        faces.append((crop, face.landmarks @ image_to_crop[:, :2].T + image_to_crop[:, 2]))
    return faces


def test_face_mask_covers_the_inner_face_not_the_corners(aligned_faces) -> None:
    from facetrust.forensics.synthesis import face_mask

    crop, points = aligned_faces[0]
    hard = face_mask(crop.shape[:2], points)
    soft = face_mask(crop.shape[:2], points, np.random.default_rng(0))
    for mask in (hard, soft):
        assert mask.dtype == np.float32 and mask.min() >= 0 and mask.max() <= 1
        nose = np.round(points[2]).astype(int)
        assert mask[nose[1], nose[0]] > 0.5
        assert mask[0, 0] == 0 and mask[-1, -1] == 0


def test_self_blend_changes_only_what_the_mask_or_target_jitter_allows(aligned_faces) -> None:
    from facetrust.forensics.synthesis import self_blend

    crop, points = aligned_faces[0]
    blend = self_blend(crop, points, np.random.default_rng(3))
    assert blend.image.shape == crop.shape and blend.image.dtype == np.uint8
    assert blend.mask.max() > 0
    changed = np.abs(blend.image.astype(int) - crop.astype(int)).max(axis=2) > 0
    assert changed[blend.mask > 0.5].mean() > 0.5  # the pasted region differs from the original
    again = self_blend(crop, points, np.random.default_rng(3))
    np.testing.assert_array_equal(blend.image, again.image)  # deterministic per seed


def test_gray_faces_stay_gray(aligned_faces) -> None:
    from facetrust.forensics.synthesis import is_gray, self_blend

    crop, points = aligned_faces[1]
    gray = np.repeat(crop.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert is_gray(gray) and not is_gray(aligned_faces[0][0])
    for seed in range(5):
        assert is_gray(self_blend(gray, points, np.random.default_rng(seed)).image)


def test_blend_clip_consistent_versus_flickering(aligned_faces) -> None:
    from facetrust.forensics.synthesis import blend_clip

    crop, points = aligned_faces[0]
    frames, landmarks = [crop] * 3, [points] * 3
    steady = blend_clip(frames, landmarks, seed=7, consistent=True)
    flicker = blend_clip(frames, landmarks, seed=7, consistent=False)
    assert all(np.array_equal(steady[0].image, b.image) for b in steady)
    assert not np.array_equal(flicker[0].image, flicker[1].image)


def test_swap_face_keeps_the_target_outside_the_mask(aligned_faces) -> None:
    from facetrust.forensics.synthesis import swap_face

    (target, target_points), (source, source_points) = aligned_faces
    swapped = swap_face(target, target_points, source, source_points)
    outside = swapped.mask == 0
    np.testing.assert_array_equal(swapped.image[outside], target[outside])
    inside = swapped.mask > 0.99
    assert np.abs(swapped.image[inside].astype(int) - target[inside].astype(int)).mean() > 5
