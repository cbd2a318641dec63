"""Where do image defects start to break recognition? The study behind the explainable ramps.

    python bench/quality_degradation.py --pairs 120

Takes genuine LFW pairs from the training folds 1-5 that dlib-resnet matches
at FMR 1e-3, degrades image A step by step (blur, downscaling, darkening,
over-exposure, contrast loss, one-sided shadow, cutting by the image border),
and records for each step the measured component and whether the pair still
matches (same detector box, scaled; landmarks re-predicted on the degraded
image, as the pipeline does). For each component it reports the value where
the match rate falls to 95% and to 50%: the "good" and "bad" ends of the
explainable assessor's ramps (docs/quality.md).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS  # noqa: E402

from facetrust.analyzer import FaceAnalyzer  # noqa: E402
from facetrust.evaluation.lfw import read_lfw_pairs  # noqa: E402
from facetrust.quality.components import measure  # noqa: E402
from facetrust.recognition.calibration import load_calibration  # noqa: E402
from facetrust.types import Detection  # noqa: E402

Degrade = Callable[[np.ndarray, Detection, float], tuple[np.ndarray, Detection]]


def blur(image: np.ndarray, face: Detection, sigma: float) -> tuple[np.ndarray, Detection]:
    return (cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0 else image), face


def shrink(image: np.ndarray, face: Detection, target_eye_px: float) -> tuple[np.ndarray, Detection]:
    eye_px = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
    scale = min(1.0, target_eye_px / eye_px)
    size = (max(16, round(image.shape[1] * scale)), max(16, round(image.shape[0] * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    sx, sy = size[0] / image.shape[1], size[1] / image.shape[0]
    box = (face.box[0] * sx, face.box[1] * sy, face.box[2] * sx, face.box[3] * sy)
    return small, Detection(box, face.score, face.landmarks * np.float32([sx, sy]))


def gain(image: np.ndarray, face: Detection, factor: float) -> tuple[np.ndarray, Detection]:
    return np.clip(image.astype(np.float32) * factor, 0, 255).round().astype(np.uint8), face


def contrast(image: np.ndarray, face: Detection, factor: float) -> tuple[np.ndarray, Detection]:
    mean = image.astype(np.float32).mean()
    return np.clip(mean + (image.astype(np.float32) - mean) * factor, 0, 255).round().astype(np.uint8), face


def side_shadow(image: np.ndarray, face: Detection, darkest: float) -> tuple[np.ndarray, Detection]:
    """Darken the image's left half towards ``darkest`` x, smoothly across the face centre."""
    centre = (face.box[0] + face.box[2]) / 2
    width = face.box[2] - face.box[0]
    x = np.arange(image.shape[1], dtype=np.float32)
    ramp = np.clip((x - (centre - width / 4)) / (width / 2), 0, 1)
    factor = darkest + (1 - darkest) * ramp
    return np.clip(image.astype(np.float32) * factor[None, :, None], 0, 255).round().astype(np.uint8), face


def cut(image: np.ndarray, face: Detection, keep: float) -> tuple[np.ndarray, Detection]:
    """Cut the image at the right so that only ``keep`` of the face box's width remains inside."""
    right = int(round(face.box[0] + keep * (face.box[2] - face.box[0])))
    return np.ascontiguousarray(image[:, : max(16, min(image.shape[1], right))]), face


STUDIES: dict[str, tuple[str, Degrade, list[float]]] = {
    "blur (Gaussian sigma, px)": ("sharpness", blur, [0, 0.75, 1.5, 2.25, 3, 4, 5, 6.5]),
    "downscale (target eye distance, px)": ("inter_eye_px", shrink, [100, 30, 24, 19, 15, 12, 9, 7]),
    "darken (gain)": ("brightness", gain, [1, 0.6, 0.4, 0.25, 0.16, 0.1, 0.06, 0.04]),
    "over-expose (gain)": ("brightness", gain, [1, 1.4, 1.8, 2.3, 2.9, 3.6, 4.5]),
    "contrast (factor)": ("contrast", contrast, [1, 0.6, 0.4, 0.25, 0.16, 0.1, 0.06]),
    "one-sided shadow (darkest gain)": ("illumination_uniformity", side_shadow, [1, 0.7, 0.5, 0.35, 0.22, 0.12, 0.06]),
    "cut by the border (box fraction kept)": ("inside_fraction", cut, [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]),
}


def crossing(values: list[float], rates: list[float], level: float) -> float | None:
    """Component value where the match rate first falls to ``level`` (linear between steps); None if never."""
    for i, rate in enumerate(rates):
        if rate <= level:
            if i == 0:
                return float(values[0])
            t = (rates[i - 1] - level) / (rates[i - 1] - rate)
            return float(values[i - 1] + t * (values[i] - values[i - 1]))
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=120, help="matching genuine training pairs to degrade")
    args = parser.parse_args()
    started = time.time()
    analyzer = FaceAnalyzer()
    threshold = load_calibration("dlib-resnet").threshold_at(1e-3)
    rng = np.random.default_rng(0)
    candidates = [p for p in read_lfw_pairs(LFW_PAIRS, LFW_ROOT) if p.same and p.fold < 5]
    rng.shuffle(candidates)
    chosen = []
    for pair in candidates:
        image_a, image_b = analyzer.load(pair.path_a), analyzer.load(pair.path_b)
        faces_a, faces_b = analyzer.detect_rgb(image_a), analyzer.detect_rgb(image_b)
        if not faces_a or not faces_b:
            continue
        reference = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(image_b, faces_b[0])])[0]
        original = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(image_a, faces_a[0])])[0]
        if float(original @ reference) >= threshold:
            chosen.append((image_a, faces_a[0], reference))
        if len(chosen) == args.pairs:
            break
    print(f"{len(chosen)} matching genuine pairs from folds 1-5 (threshold {threshold:.4f} at FMR 1e-3)")
    report = {}
    for title, (component, degrade, levels) in STUDIES.items():
        medians, rates = [], []
        for level in levels:
            values, matches = [], []
            for image, face, reference in chosen:
                degraded, moved = degrade(image, face, level)
                value = measure(degraded, moved.box, moved.landmarks)[component]
                embedding = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(degraded, moved)])[0]
                values.append(np.nan if value is None else value)
                matches.append(float(embedding @ reference) >= threshold)
            medians.append(float(np.nanmedian(values)))
            rates.append(float(np.mean(matches)))
        good, bad = crossing(medians, rates, 0.95), crossing(medians, rates, 0.5)
        report[title] = {"component": component, "levels": levels, "median_component": medians,
                         "match_rate": rates, "good_at_95": good, "bad_at_50": bad}
        print(f"\n{title} -> {component}: good (95% still match) {good}, bad (50%) {bad}")
        print("| level | median " + component + " | match rate |\n|---|---|---|")
        for level, median, rate in zip(levels, medians, rates):
            print(f"| {level} | {median:.3f} | {rate:.3f} |")
    (RESULTS / "quality_degradation.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\ndone in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
