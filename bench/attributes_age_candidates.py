"""Age candidates for the dlib age model, chosen on UTKFace's calibration half only (docs/attributes.md).

Step 1 (``calibration``): each candidate's age MAE on the calibration half (a fitted one: 5-fold
cross-validated there) and its cost per face. Step 2 (``held-out NAME``): the one candidate picked by
the rule in docs/attributes.md (smallest calibration MAE among those that need no optional runtime),
fitted on the whole calibration half, evaluated once on the test half next to the current default.

    nice python bench/attributes_age_candidates.py calibration
    nice python bench/attributes_age_candidates.py held-out NAME

The per-face class distributions of every chip variant are kept in bench/results/attributes/ (not committed).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from common import RESULTS, ROOT, SHARED

from facetrust.analyzer import FaceAnalyzer
from facetrust.attributes.age import AGES, DlibAge
from facetrust.attributes.dlib_chip_model import RGB_MEAN
from facetrust.attributes.age_range import load_age_range
from facetrust.attributes.evaluation import ADULT_AGE, bootstrap_ci, read_attribute_labels
from facetrust.attributes.inputs import FaceInputs

LABELS = SHARED / "data" / "utkface" / "labels.csv"
DETECTOR = "dlib-hog"
OUT = RESULTS / "attributes"
PADDINGS = (0.1, 0.15, 0.2, 0.25, 0.3)
#: A 68 px chip whose central 64 px are the 64 px chip at padding 0.2: 1.4 * 68 / 64 = 1 + 2 * 0.24375.
SHIFT_SIZE, SHIFT_PADDING = 68, 0.24375
SHIFTS = ((2, 2), (0, 2), (4, 2), (2, 0), (2, 4))  # (x, y) crop offsets; (2, 2) is the centre
FOLDS = 5
COMBINATIONS = {  # which chips' distributions are averaged (each also flipped, except "plain")
    "plain": ["pad0.2"],
    "flip": ["pad0.2", "pad0.2-flip"],
    "scale-jitter": [f"pad{p}{f}" for p in (0.15, 0.2, 0.25) for f in ("", "-flip")],
    "shift-jitter": [f"shift{x},{y}{f}" for x, y in SHIFTS for f in ("", "-flip")],
    "scale-shift-jitter": [f"pad{p}{f}" for p in (0.15, 0.25) for f in ("", "-flip")]
                          + [f"shift{x},{y}{f}" for x, y in SHIFTS for f in ("", "-flip")],
}


def chips(face: FaceInputs) -> dict[str, np.ndarray]:
    """Every chip variant of one face (64x64 RGB uint8)."""
    import dlib

    image = np.ascontiguousarray(face.image)
    out = {f"pad{p}": np.asarray(dlib.get_face_chip(image, face.shape5, size=64, padding=p)) for p in PADDINGS}
    big = np.asarray(dlib.get_face_chip(image, face.shape5, size=SHIFT_SIZE, padding=SHIFT_PADDING))
    out |= {f"shift{x},{y}": big[y:y + 64, x:x + 64] for x, y in SHIFTS}
    return out | {f"{name}-flip": chip[:, ::-1] for name, chip in out.items()}


def run_model(model: DlibAge, chips: np.ndarray) -> np.ndarray:
    """Class probabilities of a stack of chips (the library's normalisation)."""
    images = ((chips.astype(np.float32) - RGB_MEAN) / 256.0).transpose(0, 3, 1, 2)
    return model._session.run(None, {"images": np.ascontiguousarray(images)})[0]


def extract(half: str, only: list[str] | None = None, part: int = 0, parts: int = 1) -> dict[str, np.ndarray]:
    """Class distributions of every chip variant (or of the ``only`` ones, without OMZ) for the colour faces
    of one half, or of every ``parts``-th image from ``part`` (cached in an npz)."""
    path = OUT / f"age_candidates_{half}{f'_{part}of{parts}' if parts > 1 else ''}.npz"
    if path.is_file():
        return dict(np.load(path))
    from facetrust.attributes.omz_age_gender import OmzAge

    model, omz = DlibAge(), (None if only else OmzAge())
    analyzer = FaceAnalyzer(detector=DETECTOR)
    items = [i for i in read_attribute_labels(LABELS, half=half) if i.age is not None][part::parts]
    rows: dict[str, list] = {"files": [], "age": [], "race": [], "gender": [], "omz": []}
    dists: dict[str, list] = {}
    start = time.perf_counter()
    for n, item in enumerate(items, 1):
        image = analyzer.load(item.path)
        faces = analyzer.detect_rgb(image)
        if faces:
            face = FaceInputs(image, faces[0].box)
            if face.too_small is None and not face.grayscale:  # the faces the library answers for
                variants = chips(face)
                variants = {k: v for k, v in variants.items() if only is None or k in only}
                batch = np.stack(list(variants.values()))
                probabilities = run_model(model, batch)
                for name, p in zip(variants, probabilities):
                    dists.setdefault(name, []).append(p.astype(np.float32))
                for key, value in (("files", item.file), ("age", item.age), ("race", item.race or ""),
                                   ("gender", item.gender or ""),
                                   ("omz", float(omz.ages([face])[0]) if omz else np.nan)):
                    rows[key].append(value)
        if n % 250 == 0:
            print(f"  {half}: {n}/{len(items)} images, {n / (time.perf_counter() - start):.1f} img/s", flush=True)
    data = {k: np.array(v) for k, v in rows.items()} | {f"p:{k}": np.stack(v) for k, v in dists.items()}
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **data)
    return data


def median_age(p: np.ndarray) -> np.ndarray:
    """The distribution's median, each class k spread evenly over [k - 0.5, k + 0.5] (clipped at 0)."""
    cdf = np.cumsum(p, axis=1)
    k = (cdf < 0.5).sum(axis=1)
    below = np.where(k > 0, cdf[np.arange(len(p)), np.maximum(k - 1, 0)], 0.0)
    return np.maximum(0.0, k - 0.5 + (0.5 - below) / p[np.arange(len(p)), k])


def distribution(data: dict[str, np.ndarray], combination: str) -> np.ndarray:
    p = np.mean([data[f"p:{name}"].astype(np.float64) for name in COMBINATIONS[combination]], axis=0)
    return p / p.sum(axis=1, keepdims=True)


def unfitted(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Age estimates of the candidates that fit nothing."""
    out = {}
    for combination in COMBINATIONS:
        p = distribution(data, combination)
        out[f"{combination}-mean"] = p @ AGES
        out[f"{combination}-median"] = median_age(p)
    for pad in PADDINGS:
        if pad != 0.2:
            out[f"pad{pad}-mean"] = data[f"p:pad{pad}"].astype(np.float64) @ AGES
    return out


def fit_monotone_map(estimate: np.ndarray, true: np.ndarray, bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Knots (x, y) of a non-decreasing piecewise-linear map: x the median estimate and y the median true
    age of each of ``bins`` equal-count bins of the estimate, y made non-decreasing by pooling adjacent
    violators (the pooled bin's median)."""
    order = np.argsort(estimate, kind="stable")
    groups = [list(g) for g in np.array_split(order, bins)]
    blocks: list[list[int]] = []
    for group in groups:
        blocks.append(group)
        while len(blocks) > 1 and np.median(true[blocks[-2]]) > np.median(true[blocks[-1]]):
            last = blocks.pop()
            blocks[-1] = blocks[-1] + last
    x = np.array([np.median(estimate[b]) for b in blocks])
    y = np.array([np.median(true[b]) for b in blocks])
    return x, y


def fit_blend(columns: np.ndarray, true: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(np.column_stack([columns, np.ones(len(true))]), true, rcond=None)[0]


def cross_validated(estimate: np.ndarray, true: np.ndarray, fit, apply) -> np.ndarray:
    """Out-of-fold predictions over :data:`FOLDS` seeded folds."""
    fold = np.random.default_rng(0).permutation(len(true)) % FOLDS
    out = np.empty(len(true))
    for k in range(FOLDS):
        params = fit(estimate[fold != k], true[fold != k])
        out[fold == k] = apply(params, estimate[fold == k])
    return out


def apply_map(knots, estimate):
    return np.interp(estimate, *knots)


def apply_blend(coef, columns):
    return np.column_stack([columns, np.ones(len(columns))]) @ coef


def fitted_candidates(data: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Out-of-fold estimates of the fitted candidates (map on each combination's mean; blends with OMZ)."""
    true, out = data["age"].astype(float), {}
    for combination in COMBINATIONS:
        x = base[f"{combination}-mean"]
        for bins in (10, 20, 40):
            out[f"{combination}-mean+map{bins}"] = cross_validated(
                x, true, lambda e, t, b=bins: fit_monotone_map(e, t, b), apply_map)
        out[f"{combination}-mean+omz-blend"] = cross_validated(
            np.column_stack([x, data["omz"]]), true, fit_blend, apply_blend)
    return out


def cost_ms(data_half: str, faces: int = 200) -> dict[str, float]:
    """Chip extraction + inference per face, one face per batch, for each combination (the detector
    and dlib's 5 landmarks, shared by every candidate, excluded); the monotone map adds nothing measurable."""
    model = DlibAge()
    analyzer = FaceAnalyzer(detector=DETECTOR)
    items = [i for i in read_attribute_labels(LABELS, half=data_half) if i.age is not None][:faces * 2]
    inputs = []
    for item in items:
        image = analyzer.load(item.path)
        found = analyzer.detect_rgb(image)
        if found:
            face = FaceInputs(image, found[0].box)
            _ = face.shape5
            inputs.append(face)
        if len(inputs) == faces:
            break
    import dlib

    out = {}
    for combination, names in COMBINATIONS.items():
        start = time.perf_counter()
        for face in inputs:
            image = np.ascontiguousarray(face.image)
            batch = []
            for name in names:
                base = name.removesuffix("-flip")
                if base.startswith("pad"):
                    chip = np.asarray(dlib.get_face_chip(image, face.shape5, size=64, padding=float(base[3:])))
                else:
                    x, y = (int(v) for v in base[5:].split(","))
                    big = np.asarray(dlib.get_face_chip(image, face.shape5, size=SHIFT_SIZE, padding=SHIFT_PADDING))
                    chip = big[y:y + 64, x:x + 64]
                batch.append(chip[:, ::-1] if name.endswith("-flip") else chip)
            run_model(model, np.stack(batch))
        out[combination] = round((time.perf_counter() - start) / len(inputs) * 1000, 2)
    return out


def needs_openvino(name: str) -> bool:
    return "omz" in name


def calibration() -> None:
    data = extract("calibration")
    true = data["age"].astype(float)
    estimates = unfitted(data) | fitted_candidates(data, unfitted(data))
    print(f"calibration half: {len(true)} faces")
    for name, estimate in sorted(estimates.items(), key=lambda kv: np.abs(kv[1] - true).mean()):
        error = np.abs(estimate - true)
        print(f"  {name:42s} MAE {error.mean():.3f}  adults {error[true >= 18].mean():.3f}  "
              f"CS@5 {(error <= 5).mean():.3f}{'  (needs openvino: option only)' if needs_openvino(name) else ''}")
    eligible = {n: np.abs(e - true).mean() for n, e in estimates.items() if not needs_openvino(n)}
    print("picked by the rule:", min(eligible, key=eligible.get))
    print("cost per face (ms, chips + inference, 200 faces):", cost_ms("calibration"))


def held_out(name: str) -> None:
    calibration_data = extract("calibration")
    # Only the chips of the picked candidate and of the current default, in two processes (run first
    # with ``held-out-part NAME K``, K = 0, 1), merged here.
    test_parts = [extract("test", needed_chips(name), k, 2) for k in range(2)]
    test = {key: np.concatenate([t[key] for t in test_parts]) for key in test_parts[0]}
    true = test["age"].astype(float)
    mean_age = {c: distribution(test, c) @ AGES for c in COMBINATIONS
                if all(f"p:{chip}" in test for chip in COMBINATIONS[c])}
    current = mean_age["plain"]
    if "+map" in name:
        base, bins = name.split("+map")
        knots = fit_monotone_map(unfitted(calibration_data)[base], calibration_data["age"].astype(float), int(bins))
        estimate = apply_map(knots, mean_age[base.removesuffix("-mean")])
        print("map knots (fitted on the whole calibration half):", np.round(knots, 3).tolist())
    else:
        estimate = mean_age[name.removesuffix("-mean")]
    groups = {"race": test["race"], "gender": test["gender"],
              "band": np.where(true >= ADULT_AGE, "adult", "child")}
    ranges = {"current default (plain-mean)": load_age_range("age-plain"), name: load_age_range("age")}
    for label, values in (("current default (plain-mean)", current), (name, estimate)):
        error = np.abs(values - true)
        low, high = ranges[label].bounds(values)
        covered = ((true >= low) & (true <= high)).astype(float)
        print(f"  80% range: coverage {covered.mean():.3f} {bootstrap_ci(covered)}, mean width {(high - low).mean():.1f}; "
              + "; ".join(f"{g} {covered[labels == g].mean():.3f} {bootstrap_ci(covered[labels == g])}"
                          for labels in groups.values() for g in sorted(set(labels))))
        print(f"test half, {len(true)} faces: {label}: MAE {error.mean():.3f} {bootstrap_ci(error)} "
              f"adults {error[true >= ADULT_AGE].mean():.3f} CS@5 {(error <= 5).mean():.3f} "
              f"signed {(values - true).mean():+.3f}")
        for kind, labels in groups.items():
            per = {g: error[labels == g] for g in sorted(set(labels))}
            print(f"  by {kind}: " + "; ".join(f"{g} {e.mean():.2f} {bootstrap_ci(e)} CS@5 {(e <= 5).mean():.3f} "
                                               f"(n={len(e)})" for g, e in per.items()))
            means = {g: e.mean() for g, e in per.items() if len(e) >= 30}
            print(f"  max/min {kind}: {max(means.values()) / min(means.values()):.2f} "
                  f"({max(means, key=means.get)} / {min(means, key=means.get)})")


def needed_chips(name: str) -> list[str]:
    combination = next(c for c in sorted(COMBINATIONS, key=len, reverse=True) if name.startswith(c))
    return sorted(set(COMBINATIONS[combination]) | set(COMBINATIONS["plain"]))


def ship(name: str) -> None:
    """Write the picked candidate's files into the package, from the calibration half only: its monotone
    map (``age-map-v1.json``, fitted on the whole half) and the ``age`` entry of age_range.json, the
    conformal range fitted on the map's out-of-fold estimates (so that the range sees the map's errors
    on faces it was not fitted on)."""
    import json

    from facetrust.attributes.age_range import LEVEL, age_range_record, fit_age_range

    base, bins = name.split("+map")
    data = extract("calibration")
    true, estimate = data["age"].astype(float), unfitted(data)[base]
    folder = ROOT / "facetrust" / "models" / "attributes"
    x, y = fit_monotone_map(estimate, true, int(bins))
    (folder / "age-map-v1.json").write_text(json.dumps(
        {"x": np.round(x, 4).tolist(), "y": np.round(y, 4).tolist(), "of": f"the expected age of {base}",
         "fitted_on": f"UTKFace crop_part1, calibration half ({DETECTOR}, largest face), {len(true)} faces",
         "bins": int(bins)}, indent=1) + "\n", encoding="utf-8")
    out_of_fold = cross_validated(estimate, true, lambda e, t: fit_monotone_map(e, t, int(bins)), apply_map)
    fit, widths = fit_age_range(true, out_of_fold, LEVEL)
    fits = json.loads((folder / "age_range.json").read_text(encoding="utf-8"))
    fits = {"age": age_range_record(fit, fitted_on=f"UTKFace crop_part1, calibration half ({DETECTOR}, largest "
                                    "face), out-of-fold estimates of the map", faces=len(true),
                                    mean_width_per_offset=widths),
            "age-plain": fits.get("age-plain", fits["age"])} | {k: v for k, v in fits.items() if k not in ("age", "age-plain")}
    (folder / "age_range.json").write_text(json.dumps(fits, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: out-of-fold calibration MAE {np.abs(out_of_fold - true).mean():.3f}; range {fits['age']}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["calibration"]:
        calibration()
    elif sys.argv[1:2] == ["held-out-part"] and len(sys.argv) == 4:
        extract("test", needed_chips(sys.argv[2]), int(sys.argv[3]), 2)
    elif sys.argv[1:2] == ["ship"] and len(sys.argv) == 3:
        ship(sys.argv[2])
    elif sys.argv[1:2] == ["held-out"] and len(sys.argv) == 3:
        held_out(sys.argv[2])
    else:
        sys.exit("usage: attributes_age_candidates.py calibration | held-out NAME | ship NAME")
