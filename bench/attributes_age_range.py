"""Choices fitted on UTKFace's calibration half, and their check on the test half (docs/attributes.md).

The halves: ``LabelledImage.half`` (sha256 of the labels CSV's file name, even = calibration).
Fitted on the calibration half only:

1. the OMZ age model's crop: the detector box scaled by 1.0, 1.2 or 1.4 (smallest age MAE);
2. the conformal 80% range of ``age-plain`` and ``age-omz`` (``facetrust.attributes.age_range.fit_age_range``), written
   to ``facetrust/models/attributes/age_range.json``;
3. for the record, two blends of the dlib and OMZ ages: the plain mean, and a least-squares
   a * dlib + b * omz + c (MAE of both printed for the test half; neither ships).

The default age model is the one with the smallest age MAE on the test half (rule fixed before
the run). The per-group tables come from ``facetrust eval attributes --half test``.

    nice python bench/attributes_age_range.py

Predictions are cached (~/.cache/facetrust/attribute_predictions.sqlite).
"""
from __future__ import annotations

import json

import numpy as np

from common import ROOT, SHARED

from facetrust.analyzer import FaceAnalyzer
from facetrust.attributes.age_range import CALIBRATION_FILE, LEVEL, age_range_record, fit_age_range
from facetrust.attributes.evaluation import (_model_settings, predict_all, predict_model,
                                             read_attribute_labels)
from facetrust.attributes.omz_age_gender import OmzAge
from facetrust.forensics.cache import ScoreCache
from facetrust.io.sqlite_cache import cache_file, content_hash

LABELS = SHARED / "data" / "utkface" / "labels.csv"
DETECTOR = "dlib-hog"
SCALES = (1.0, 1.2, 1.4)
#: The default ``age`` (a map fitted on this half) has its range fitted on the map's out-of-fold estimates
#: by ``bench/attributes_age_candidates.py ship``; this script fits the others and keeps that entry.
AGE_MODELS = ("age-plain", "age-omz")
TARGET = ROOT / "facetrust" / "models" / "attributes" / CALIBRATION_FILE


def omz_scale_mae(items, cache) -> dict[float, float]:
    """Age MAE of the OMZ model per box scale, one detection per image for all scales."""
    models = {scale: OmzAge(box_scale=scale) for scale in SCALES}
    settings = {scale: _model_settings("age-omz", model, DETECTOR) for scale, model in models.items()}
    analyzer = FaceAnalyzer(detector=DETECTOR)
    errors: dict[float, list[float]] = {scale: [] for scale in SCALES}
    for n, item in enumerate(items, 1):
        digest = content_hash(item.path)
        records = {scale: cache.get(f"{digest}|{value}") for scale, value in settings.items()}
        if any(r is None for r in records.values()):
            image = analyzer.load(item.path)
            faces = analyzer.detect_rgb(image)
            for scale, record in records.items():
                if record is None:
                    records[scale] = predict_model(image, faces, models[scale])
                    cache.put(f"{digest}|{settings[scale]}", records[scale])
        # Only faces every scale judged, so the scales are compared on the same faces.
        if item.age is not None and all("age" in r for r in records.values()):
            for scale, record in records.items():
                errors[scale].append(abs(record["age"]["value"] - item.age))
        if n % 500 == 0:
            print(f"  scales: {n}/{len(items)}", flush=True)
    return {scale: round(float(np.mean(e)), 3) for scale, e in errors.items()}


def age_pairs(items, cache, model: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    predictions = predict_all(items, DETECTOR, cache, progress=False, models={"age": model, "gender": "gender"})
    keep = [(i.age, p["age"]["value"], i.file) for i, p in zip(items, predictions) if i.age is not None and "age" in p]
    true, estimate, files = zip(*keep)
    return np.array(true, float), np.array(estimate, float), list(files)


def main() -> None:
    calibration = read_attribute_labels(LABELS, half="calibration")
    test = read_attribute_labels(LABELS, half="test")
    print(f"UTKFace: {len(calibration)} calibration, {len(test)} test images")
    with ScoreCache(cache_file("attribute_predictions.sqlite")) as cache:
        print("OMZ age MAE per box scale (calibration half):", omz_scale_mae(calibration, cache))
        fits, pairs = {}, {}
        for model in AGE_MODELS:
            true, estimate, files = age_pairs(calibration, cache, model)
            fit, widths = fit_age_range(true, estimate, LEVEL)
            fits[model] = age_range_record(
                fit, fitted_on=f"UTKFace crop_part1, calibration half ({DETECTOR}, largest face)",
                faces=len(true), mean_width_per_offset=widths)
            print(f"{model}: calibration MAE {np.abs(estimate - true).mean():.3f}; range {fits[model]}")
            pairs[model] = {"calibration": (true, estimate, files), "test": age_pairs(test, cache, model)}
    TARGET.write_text(json.dumps(json.loads(TARGET.read_text(encoding="utf-8")) | fits, indent=1) + "\n",
                      encoding="utf-8")
    print(f"wrote {TARGET}")
    for split in ("calibration", "test"):
        by_file = [dict(zip(pairs[m][split][2], zip(pairs[m][split][0], pairs[m][split][1]))) for m in AGE_MODELS]
        common = sorted(set(by_file[0]) & set(by_file[1]))
        true = np.array([by_file[0][f][0] for f in common])
        dlib, omz = (np.array([b[f][1] for f in common]) for b in by_file)
        print(f"{split} half, {len(common)} faces both models judged: MAE dlib {np.abs(dlib - true).mean():.3f}, "
              f"omz {np.abs(omz - true).mean():.3f}, mean of the two {np.abs((dlib + omz) / 2 - true).mean():.3f}")
        if split == "calibration":
            coef = np.linalg.lstsq(np.column_stack([dlib, omz, np.ones_like(dlib)]), true, rcond=None)[0]
            print(f"  least-squares blend fitted here: {coef.round(4).tolist()}")
        else:
            blend = np.column_stack([dlib, omz, np.ones_like(dlib)]) @ coef
            print(f"  least-squares blend: MAE {np.abs(blend - true).mean():.3f}, "
                  f"adults {np.abs(blend - true)[true >= 18].mean():.3f} "
                  f"(dlib adults {np.abs(dlib - true)[true >= 18].mean():.3f})")


if __name__ == "__main__":
    main()
