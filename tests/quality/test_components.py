"""Explainable components and the explainable assessor on real photos and their degraded copies."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from facetrust.errors import FaceQualityError
from facetrust.quality.components import measure
from facetrust.quality.explainable import ExplainableQuality
from facetrust.types import Detection

EXAMPLES = "examples"
#: A fixed threshold so these tests exercise the measurements, not the shipped calibration.
ASSESSOR = ExplainableQuality(threshold=50.0)


@pytest.fixture(scope="module")
def obama(analyzer, faces_dir):
    image = analyzer.load(faces_dir / EXAMPLES / "obama.jpg")
    return image, analyzer.detect_rgb(image)[0]


def _gain(image: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * factor, 0, 255).round().astype(np.uint8)


def _eye_px(face: Detection) -> float:
    return float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))


def test_blur_lowers_sharpness_and_score(obama):
    image, face = obama
    # Blur in proportion to the face: sigma = eye distance / k.
    blurred = [image] + [cv2.GaussianBlur(image, (0, 0), _eye_px(face) / k) for k in (40, 20, 8)]
    results = [ASSESSOR.assess(b, face) for b in blurred]
    sharpness = [r.components["sharpness"] for r in results]
    assert sharpness == sorted(sharpness, reverse=True) and sharpness[-1] < sharpness[0] / 10
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True) and scores[-1] < scores[0]
    assert "blurred" in results[-1].reasons and "blurred" not in results[0].reasons


def test_darkening_lowers_brightness_and_score(obama):
    image, face = obama
    results = [ASSESSOR.assess(_gain(image, g), face) for g in (1.0, 0.5, 0.2, 0.06)]
    brightness = [r.components["brightness"] for r in results]
    assert brightness == sorted(brightness, reverse=True)
    assert results[-1].score < results[0].score
    assert "too dark" in results[-1].reasons and "too dark" not in results[0].reasons


def test_overexposure_is_reported(obama):
    image, face = obama
    result = ASSESSOR.assess(_gain(image, 4.0), face)
    assert result.components["bright_fraction"] > 0.5
    assert {"too bright", "overexposed (clipped highlights)"} & set(result.reasons)
    assert result.score < ASSESSOR.assess(image, face).score


def test_resolution_series_of_one_video_frame(analyzer, faces_dir):
    """The same frame at 240p ... 1080p: more pixels between the eyes, never a worse size rating
    (24 px between the eyes already rates fully: dlib-resnet keeps 95% of its matches down to 16 px)."""
    results = []
    for name in ("obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg", "obama-1080p.jpg"):
        image = analyzer.load(faces_dir / EXAMPLES / name)
        results.append(ASSESSOR.assess(image, analyzer.detect_rgb(image)[0]))
    eyes = [r.components["inter_eye_px"] for r in results]
    assert eyes == sorted(eyes) and eyes[0] < 30 < 90 < eyes[-1]
    sizes = [r.component_scores["inter_eye_px"] for r in results]
    assert sizes == sorted(sizes) and sizes[-1] == 100.0


def test_tiny_face_scores_low(obama):
    image, face = obama
    scale = 8.0 / _eye_px(face)  # about 8 px between the eyes: half of dlib-resnet's matches are lost
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    tiny = Detection(tuple(v * scale for v in face.box), face.score, face.landmarks * scale)
    result = ASSESSOR.assess(small, tiny)
    assert result.components["inter_eye_px"] == pytest.approx(8.0, abs=0.5)
    assert "too small" in result.reasons
    assert result.score < 10 and not result.acceptable


def test_face_cut_by_the_image_border(analyzer, faces_dir):
    image = analyzer.load(faces_dir / "tests" / "test_images" / "obama_partial_face.jpg")
    result = ASSESSOR.assess(image, analyzer.detect_rgb(image)[0])
    assert result.components["inside_fraction"] < 0.85
    whole = analyzer.load(faces_dir / EXAMPLES / "obama.jpg")
    assert ASSESSOR.assess(whole, analyzer.detect_rgb(whole)[0]).components["inside_fraction"] == 1.0


def test_mirror_flips_yaw_and_rotation_shows_as_roll(analyzer, obama):
    image, face = obama
    yaw = ASSESSOR.assess(image, face).components["yaw_deg"]
    mirrored = np.ascontiguousarray(image[:, ::-1])
    assert ASSESSOR.assess(mirrored, analyzer.detect_rgb(mirrored)[0]).components["yaw_deg"] == pytest.approx(-yaw, abs=4)
    centre = tuple(float(v) for v in face.landmarks[:2].mean(axis=0))
    rotated = cv2.warpAffine(image, cv2.getRotationMatrix2D(centre, 15, 1.0), image.shape[1::-1])
    roll = ASSESSOR.assess(rotated, analyzer.detect_rgb(rotated)[0]).components["roll_deg"]
    base = ASSESSOR.assess(image, face).components["roll_deg"]
    # OpenCV's positive angle turns the image counter-clockwise: the eye line tilts up to the right.
    assert roll - base == pytest.approx(-15, abs=4)


def test_grayscale_colour_is_unavailable_not_guessed(obama):
    image, face = obama
    grey = np.repeat(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    colour, mono = ASSESSOR.assess(image, face), ASSESSOR.assess(grey, face)
    assert colour.components["colourfulness"] > 10
    assert mono.components["colourfulness"] is None and "colourfulness" not in mono.component_scores
    assert mono.components["sharpness"] == pytest.approx(colour.components["sharpness"], rel=0.05)
    assert mono.to_dict()["components"]["colourfulness"] is None


def test_face_without_landmarks_is_an_error(obama):
    image, face = obama
    with pytest.raises(FaceQualityError, match="landmarks"):
        ASSESSOR.assess(image, Detection(face.box, face.score, None))


def test_face_too_small_to_measure_is_an_error(obama):
    image, face = obama
    centre = face.landmarks.mean(axis=0)
    squeezed = centre + (face.landmarks - centre) * (2.0 / _eye_px(face))  # eyes 2 px apart
    with pytest.raises(FaceQualityError, match="too small"):
        measure(image, face.box, squeezed)


def test_extreme_aspect_ratio_strip_through_the_face(obama):
    """A 20-px-high strip cut through the eyes: too little face inside to measure, score 0, said why."""
    image, face = obama
    top = int(face.landmarks[0][1]) - 10
    strip = np.ascontiguousarray(image[top:top + 20])
    moved = Detection((face.box[0], face.box[1] - top, face.box[2], face.box[3] - top), face.score,
                      face.landmarks - np.float32([0, top]))
    result = ASSESSOR.assess(strip, moved)
    assert result.score == 0.0 and result.components["sharpness"] is None
    assert "face region mostly outside the image" in result.reasons
    assert result.components["inside_fraction"] < 0.3


def test_non_rgb_input_is_an_error(obama):
    image, face = obama
    with pytest.raises(FaceQualityError, match="RGB uint8"):
        ASSESSOR.assess(image.astype(np.float32), face)
