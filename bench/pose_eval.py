"""Head-pose estimators without pose labels (docs/pose.md): what can be measured exactly, and agreement.

No pose-labelled data set is in ../shared, so yaw and pitch accuracy against ground truth cannot be
measured here (AFLW2000-3D or BIWI Kinect Head Pose would do it). What is measured, on N seeded
UTKFace colour faces and N seeded LFW-a faces (each padded by 40% with replicated borders so that
rotation does not cut the face; faces and landmarks from YuNet, re-detected on every variant):

* **roll under in-plane rotation**: the image rotated by a known angle a about the face centre
  (a in +-10, +-20, +-30 degrees) must change the roll by exactly a: error = roll(rotated) -
  roll(original) - a;
* **flip symmetry**: a horizontal flip must negate yaw and roll and keep pitch;
* **agreement** between the independent estimators on the original images (Pearson r and mean
  absolute difference per angle);
* **small faces**: the image shrunk (INTER_AREA) so that the box is W px wide, box and landmarks
  scaled (not re-detected): change of each angle from the full-size estimate, and the distance of
  the 106 points' eye centres from the (scaled) detector eyes in inter-eye distances.

    nice python bench/pose_eval.py [--n 200]
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
from common import LFW_ROOT, RESULTS, SHARED

from facetrust.analyzer import FaceAnalyzer
from facetrust.pose import LANDMARK_MODELS, POSE_ESTIMATORS, landmarks106, pose_adas
from facetrust.pose.landmarks106 import FIVE_POINTS
from facetrust.types import Detection

ANGLES = (-30, -20, -10, 10, 20, 30)
WIDTHS = (12, 16, 20, 24, 32, 48)
ESTIMATORS = ("pose-adas", "pose-106", "pose-5pt")
DETECTOR = "yunet"


def sample_files(n: int) -> list[tuple[str, Path]]:
    with (SHARED / "data" / "utkface" / "labels.csv").open() as stream:
        utk = [SHARED / "data" / "utkface" / row["file"] for row in csv.DictReader(stream)]
    lfw = sorted(LFW_ROOT.glob("*/*.jpg"))
    rng = random.Random(7)
    return [("utkface", p) for p in rng.sample(utk, n)] + [("lfw", p) for p in rng.sample(lfw, n)]


def pad(image: np.ndarray) -> np.ndarray:
    border = int(0.4 * max(image.shape[:2]))
    return cv2.copyMakeBorder(image, border, border, border, border, cv2.BORDER_REPLICATE)


def rotate(image: np.ndarray, centre: tuple[float, float], degrees: float) -> np.ndarray:
    """``degrees`` clockwise as displayed (cv2's positive angle is counter-clockwise)."""
    matrix = cv2.getRotationMatrix2D(centre, -degrees, 1.0)
    return cv2.warpAffine(image, matrix, (image.shape[1], image.shape[0]), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def largest(faces: list) -> object | None:
    return max(faces, key=lambda f: f.area) if faces else None


def angles(estimator, image: np.ndarray, face) -> tuple[float, float, float]:
    pose = estimator.estimate(image, face)
    return pose.yaw, pose.pitch, pose.roll


def measure_face(analyzer, estimators, landmarks, image: np.ndarray) -> dict | None:
    face = largest(analyzer.detect_rgb(image))
    if face is None:
        return None
    out: dict = {"original": {n: angles(e, image, face) for n, e in estimators.items()}}
    flipped = image[:, ::-1].copy()
    face_f = largest(analyzer.detect_rgb(flipped))
    out["flip"] = None if face_f is None else {n: angles(e, flipped, face_f) for n, e in estimators.items()}
    centre = ((face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2)
    out["rotation"] = {}
    for angle in ANGLES:
        rotated = rotate(image, centre, angle)
        face_r = largest(analyzer.detect_rgb(rotated))
        out["rotation"][angle] = None if face_r is None else {n: angles(e, rotated, face_r)
                                                               for n, e in estimators.items()}
    points = landmarks.locate(image, face.box)
    eye = np.linalg.norm(face.landmarks[1] - face.landmarks[0])
    out["eye_error"] = float(max(np.linalg.norm(points[FIVE_POINTS[i]] - face.landmarks[i]) for i in (0, 1)) / eye)
    out["five_error"] = [float(np.linalg.norm(points[FIVE_POINTS[i]] - face.landmarks[i]) / eye) for i in range(5)]
    out["box_width"] = float(face.box[2] - face.box[0])
    out["small"] = {}
    for width in WIDTHS:
        scale = width / (face.box[2] - face.box[0])
        if scale >= 1:
            continue
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        # Coordinates scale with the pixel grid: a point at pixel centre x maps to (x + 0.5) * s - 0.5.
        box = tuple(float(v) * scale for v in face.box)
        detection = Detection(box, face.score, (face.landmarks.astype(np.float64) + 0.5) * scale - 0.5)
        row = {}
        for name, estimator in estimators.items():
            try:
                row[name] = angles(estimator, small, detection)
            except Exception as exc:  # the size limits of the estimators: record, do not stop
                row[name] = str(exc)
        try:
            p = landmarks.locate(small, box)
            eye_s = np.linalg.norm(detection.landmarks[1] - detection.landmarks[0])
            row["eye_error"] = float(max(np.linalg.norm(p[FIVE_POINTS[i]] - detection.landmarks[i]) for i in (0, 1))
                                     / eye_s)
        except Exception as exc:
            row["eye_error"] = str(exc)
        out["small"][width] = row
    return out


def summarise(records: list[dict]) -> dict:
    summary: dict = {"faces": len(records)}
    for name in ESTIMATORS:
        s: dict = {}
        errors = [r["rotation"][a][name][2] - r["original"][name][2] - a
                  for r in records for a in ANGLES if r["rotation"][a] is not None]
        errors = np.abs(np.array(errors))
        signed = np.array([r["rotation"][a][name][2] - r["original"][name][2] - a
                           for r in records for a in ANGLES if r["rotation"][a] is not None])
        s["roll_rotation"] = {"n": int(len(errors)), "mae": float(errors.mean()), "p95": float(np.percentile(errors, 95)),
                              "p99": float(np.percentile(errors, 99)), "max": float(errors.max()),
                              "bias": float(signed.mean())}
        gain = {}
        for a in ANGLES:
            d = [r["rotation"][a][name][2] - r["original"][name][2] for r in records if r["rotation"][a] is not None]
            gain[a] = float(np.mean(d))
        s["roll_change_by_angle"] = gain
        flips = [(r["original"][name], r["flip"][name]) for r in records if r["flip"] is not None]
        o, f = np.array([x[0] for x in flips]), np.array([x[1] for x in flips])
        yaw_sum = np.abs(o[:, 0] + f[:, 0])
        s["flip"] = {"n": len(flips), "yaw_abs_sum_mean": float(yaw_sum.mean()),
                     "yaw_abs_sum_p95": float(np.percentile(yaw_sum, 95)),
                     # Share of faces turned by 10 degrees or more whose mirrored yaw has the opposite sign.
                     "yaw_sign_flips_over_10deg": float(np.mean((np.sign(o[:, 0]) != np.sign(f[:, 0]))[
                         np.abs(o[:, 0]) >= 10])) if np.any(np.abs(o[:, 0]) >= 10) else None,
                     "roll_abs_sum_mean": float(np.abs(o[:, 2] + f[:, 2]).mean()),
                     "pitch_abs_diff_mean": float(np.abs(o[:, 1] - f[:, 1]).mean())}
        small = {}
        for width in WIDTHS:
            rows = [(r["original"][name], r["small"][width][name]) for r in records if width in r["small"]]
            ok = [(a, b) for a, b in rows if not isinstance(b, str)]
            entry = {"n": len(rows), "failed": len(rows) - len(ok)}
            if ok:
                diff = np.abs(np.array([a for a, _ in ok]) - np.array([b for _, b in ok]))
                entry.update({k: float(diff[:, i].mean()) for i, k in enumerate(("yaw_mad", "pitch_mad", "roll_mad"))})
            small[width] = entry
        s["small_faces"] = small
        summary[name] = s
    agreement = {}
    for i, a in enumerate(ESTIMATORS):
        for b in ESTIMATORS[i + 1:]:
            x = np.array([r["original"][a] for r in records])
            y = np.array([r["original"][b] for r in records])
            agreement[f"{a} vs {b}"] = {k: {"r": float(np.corrcoef(x[:, j], y[:, j])[0, 1]),
                                            "mean_abs_diff": float(np.abs(x[:, j] - y[:, j]).mean())}
                                        for j, k in enumerate(("yaw", "pitch", "roll"))}
    summary["agreement"] = agreement
    spread = {name: {k: float(np.std([r["original"][name][j] for r in records])) for j, k in
                     enumerate(("yaw", "pitch", "roll"))} for name in ESTIMATORS}
    summary["spread_sd"] = spread
    # How often each estimator's angles reach the explainable quality ramps (|yaw| 60, |pitch| 45, |roll| 45).
    summary["beyond_quality_ramps"] = {name: float(np.mean([abs(r["original"][name][0]) > 60 or abs(r["original"][name][1]) > 45
                                                             or abs(r["original"][name][2]) > 45 for r in records]))
                                       for name in ESTIMATORS}
    x = np.array([r["original"]["pose-5pt"] for r in records])
    y = np.array([r["original"]["pose-adas"] for r in records])
    # Least-squares slope of pose-adas on pose-5pt: whether the two read the same angle scale.
    summary["adas_on_5pt_slope"] = {k: float(np.polyfit(x[:, j], y[:, j], 1)[0]) for j, k in
                                    enumerate(("yaw", "pitch", "roll"))}
    eye = np.array([r["eye_error"] for r in records])
    summary["landmarks106_eye_error"] = {"mean": float(eye.mean()), "p95": float(np.percentile(eye, 95)),
                                         "p99": float(np.percentile(eye, 99)), "max": float(eye.max()),
                                         "per_point_median": np.median([r["five_error"] for r in records], 0).tolist()}
    small_eye = {}
    for width in WIDTHS:
        values = [r["small"][width]["eye_error"] for r in records if width in r["small"]]
        ok = np.array([v for v in values if not isinstance(v, str)])
        small_eye[width] = {"n": len(values), "failed": len(values) - len(ok),
                            "p95": float(np.percentile(ok, 95)) if len(ok) else None}
    summary["landmarks106_eye_error_small"] = small_eye
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="faces per data set (UTKFace, LFW-a)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*non-commercial.*")
    # The small-face study measures where the estimators' size limits belong: lift them here.
    pose_adas.MIN_FACE_PX = landmarks106.MIN_FACE_PX = 1
    analyzer = FaceAnalyzer(detector=DETECTOR)
    estimators = {"pose-adas": POSE_ESTIMATORS.create("pose-adas"), "pose-106": POSE_ESTIMATORS.create("pose-106"),
                  "pose-5pt": POSE_ESTIMATORS.create("pose-5pt", detector=DETECTOR)}
    landmarks = LANDMARK_MODELS.create("landmarks106")
    records: dict[str, list[dict]] = {"utkface": [], "lfw": []}
    files = sample_files(args.n)
    start = time.monotonic()
    try:
        for count, (dataset, path) in enumerate(files, 1):
            record = measure_face(analyzer, estimators, landmarks, pad(analyzer.load(path)))
            if record is not None:
                records[dataset].append(record)
            if count % 50 == 0 or count == len(files):
                print(f"{count}/{len(files)} images, {count / (time.monotonic() - start):.1f}/s", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {sum(map(len, records.values()))} faces: summarising those")
    summary = {name: summarise(rows) for name, rows in records.items() if rows}
    summary["all"] = summarise(records["utkface"] + records["lfw"])
    summary["images"] = len(files)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "pose_eval.json"
    out.write_text(json.dumps(summary, indent=1))
    (RESULTS / "pose_eval_faces.json").write_text(json.dumps(records))
    print(json.dumps(summary["all"], indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
