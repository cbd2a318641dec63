"""Should the default preset detect with RetinaFace instead of YuNet? Every check, both detectors, one run.

The default detector gives the analyze pipeline's checks their boxes and landmarks, so before
``balanced`` switches to RetinaFace each check is measured on RetinaFace's faces next to YuNet's,
on the data its shipped numbers came from (the rule, fixed before the run: docs/detection.md):

    nice python bench/detector_switch.py boxes      # geometry: ~300 LFW images + the colour photos
    nice python bench/detector_switch.py quality    # explainable quality, EDC on LFW genuine pairs, EdgeFace-XS
    nice python bench/detector_switch.py galleries  # then: YuNet-enrolled templates searched with RetinaFace probes
    nice python bench/detector_switch.py calibration  # shipped thresholds on RetinaFace alignment (needs the study's
                                                      # features --detector retinaface --images all --recognizers edgeface-xs)
    nice python bench/detector_switch.py forgery    # sbi false alarms, UTKFace evaluation split, shipped threshold
    nice python bench/detector_switch.py dfdc       # sbi frame / video AUC on the DFDC samples
    python bench/liveness_eval.py                   # liveness: has a minifasnet + retinaface row

Paired 95% intervals are percentile bootstraps (1,000 resamples, seed 0) of the difference
RetinaFace - YuNet over the same pairs or faces. Results: ``bench/results/detector_switch/*.json``;
per-image features and forgery scores are cached in ``~/.cache/facetrust/detector_switch`` (resumable).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS, SHARED  # noqa: E402

from facetrust.analyzer import FaceAnalyzer, select_face  # noqa: E402

DETECTORS = ("yunet", "retinaface")
RECOGNIZER = "edgeface-xs"
CACHE = Path.home() / ".cache" / "facetrust" / "detector_switch"
OUT = RESULTS / "detector_switch"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
RESAMPLES = 1000


def paired_ci(statistic: Callable[[np.ndarray], float], n: int, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of ``statistic(indices)`` over ``n`` paired items."""
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(RESAMPLES)]
    return [round(float(np.percentile(values, 2.5)), 6), round(float(np.percentile(values, 97.5)), 6)]


def save(name: str, result: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {OUT / f'{name}.json'}")


# ---------------------------------------------------------------- boxes

def iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def boxes(args: argparse.Namespace) -> None:
    lfw = sorted(LFW_ROOT.glob("*/*.jpg"))[:: args.lfw_step]
    colour = sorted(p for p in (SHARED / "data" / "faces").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    analyzers = {d: FaceAnalyzer(detector=d, recognizer=RECOGNIZER) for d in DETECTORS}
    result: dict[str, Any] = {}
    for name, paths in (("lfw", lfw), ("colour photos", colour)):
        rows, unmatched = [], {d: 0 for d in DETECTORS}
        for path in paths:
            image = analyzers["yunet"].load(path)
            found = {d: analyzers[d].detect_rgb(image) for d in DETECTORS}
            used: set[int] = set()
            for y in found["yunet"]:
                yb = np.asarray(y.box, float)
                candidates = [(iou(yb, np.asarray(r.box, float)), i) for i, r in enumerate(found["retinaface"])
                              if i not in used]
                best, index = max(candidates, default=(0.0, -1))
                if best < 0.3:
                    unmatched["yunet"] += 1
                    continue
                used.add(index)
                r = found["retinaface"][index]
                rb = np.asarray(r.box, float)
                yl, rl = np.asarray(y.landmarks, float), np.asarray(r.landmarks, float)
                eyes = float(np.linalg.norm(yl[1] - yl[0]))
                yw, yh, rw, rh = yb[2] - yb[0], yb[3] - yb[1], rb[2] - rb[0], rb[3] - rb[1]
                rows.append({"iou": best, "width_ratio": rw / yw, "height_ratio": rh / yh,
                             "scale_ratio": float(np.sqrt(rw * rh / (yw * yh))),
                             "centre_dx": ((rb[0] + rb[2]) - (yb[0] + yb[2])) / 2 / yw,
                             "centre_dy": ((rb[1] + rb[3]) - (yb[1] + yb[3])) / 2 / yh,
                             "landmarks_mean": float(np.linalg.norm(rl - yl, axis=1).mean() / eyes),
                             **{f"landmark_{k}": float(np.linalg.norm(rl[k] - yl[k]) / eyes) for k in range(5)},
                             "yunet_side": float(min(yw, yh))})
            unmatched["retinaface"] += len(found["retinaface"]) - len(used)
        keys = [k for k in rows[0] if k != "yunet_side"] if rows else []
        result[name] = {"images": len(paths), "matched_faces": len(rows), "unmatched": unmatched,
                        "summary": {k: {q: round(float(np.percentile([r[k] for r in rows], p)), 4)
                                        for q, p in (("p10", 10), ("median", 50), ("p90", 90))}
                                    | {"mean": round(float(np.mean([r[k] for r in rows])), 4)} for k in keys}}
        print(f"\n{name}: {len(paths)} images, {len(rows)} matched faces, unmatched {unmatched}")
        print("| measure | p10 | median | p90 | mean |\n|---|---|---|---|---|")
        for key, s in result[name]["summary"].items():
            print(f"| {key} | {s['p10']} | {s['median']} | {s['p90']} | {s['mean']} |")
    save("boxes", result)


# ---------------------------------------------------------------- quality

def quality_features(detector: str, paths: list[Path]) -> dict[str, np.ndarray]:
    """Per image: explainable quality score and the EdgeFace-XS embedding of the centre face (as eval lfw)."""
    from facetrust.quality.explainable import ExplainableQuality

    store = CACHE / f"quality_{detector}.npz"
    if store.is_file():
        cached = np.load(store)
        if len(cached["score"]) == len(paths):
            return dict(cached)
    analyzer = FaceAnalyzer(detector=detector, recognizer=RECOGNIZER)
    assessor = ExplainableQuality(detector=detector)
    score = np.zeros(len(paths))
    embedding = np.zeros((len(paths), 512), np.float32)
    found = np.zeros(len(paths), bool)
    started = time.perf_counter()
    for i, path in enumerate(paths):
        image = analyzer.load(path)
        detections = analyzer.detect_rgb(image)
        if detections:  # only the chosen face is embedded (LFW images often hold several)
            face = detections[select_face(detections, "center", image.shape)]
            score[i] = assessor.assess(image, face).score
            embedding[i] = analyzer.recognizer.embed_aligned([analyzer.recognizer.align(image, face)])[0]
            found[i] = True
        if (i + 1) % 500 == 0:
            print(f"  {detector}: {i + 1}/{len(paths)}, {(i + 1) / (time.perf_counter() - started):.1f} images/s",
                  flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(store, score=score, embedding=embedding, found=found)
    return {"score": score, "embedding": embedding, "found": found}


def quality(args: argparse.Namespace) -> None:
    from facetrust.evaluation.lfw import read_lfw_pairs
    from facetrust.quality.calibration import load_quality_calibration
    from facetrust.quality.edc import edc, pair_quality

    genuine = [p for p in read_lfw_pairs(LFW_PAIRS, LFW_ROOT) if p.same]
    paths = sorted({p.path_a for p in genuine} | {p.path_b for p in genuine})
    index = {p: i for i, p in enumerate(paths)}
    a = np.array([index[p.path_a] for p in genuine])
    b = np.array([index[p.path_b] for p in genuine])
    threshold = FaceAnalyzer(detector="yunet", recognizer=RECOGNIZER).threshold(1e-3)
    cut = load_quality_calibration("explainable").threshold
    per: dict[str, dict[str, np.ndarray]] = {}
    for detector in DETECTORS:
        features = quality_features(detector, paths)
        found_both = features["found"][a] & features["found"][b]
        cosine = np.where(found_both, np.sum(features["embedding"][a] * features["embedding"][b], axis=1), -1.0)
        per[detector] = {"cosine": cosine, "quality": pair_quality(features["score"][a], features["score"][b]),
                         "face_quality": features["score"], "found": features["found"]}

    def pauc(detector: str, rows: np.ndarray) -> float:
        return edc(per[detector]["cosine"][rows], per[detector]["quality"][rows], threshold).pauc()

    everything = np.arange(len(genuine))
    result: dict[str, Any] = {"pairs": len(genuine), "images": len(paths), "recognizer": RECOGNIZER,
                              "threshold_fmr_1e-3": threshold, "explainable_threshold": cut, "detectors": {}}
    for detector in DETECTORS:
        curve = edc(per[detector]["cosine"], per[detector]["quality"], threshold)
        result["detectors"][detector] = {
            "images_without_face": int((~per[detector]["found"]).sum()),
            "fnmr": round(curve.start, 5), "pauc_0_20": round(curve.pauc(), 6),
            "pauc_vs_random": round(curve.pauc() / (curve.start * 0.2) - 1, 4),
            "fnmr_at_10pct": round(curve.fnmr_at(0.1), 5), "fnmr_at_20pct": round(curve.fnmr_at(0.2), 5),
            "faces_below_threshold": round(float(np.mean(per[detector]["face_quality"] < cut)), 4),
            "pairs_below_threshold": round(float(np.mean(per[detector]["quality"] < cut)), 4),
            "median_face_quality": round(float(np.median(per[detector]["face_quality"])), 2)}
    result["pauc_difference"] = round(pauc("retinaface", everything) - pauc("yunet", everything), 6)
    result["pauc_difference_ci95"] = paired_ci(lambda rows: pauc("retinaface", rows) - pauc("yunet", rows),
                                               len(genuine))
    moved = np.abs(per["retinaface"]["face_quality"] - per["yunet"]["face_quality"])
    result["face_quality_abs_change_median_p90"] = [round(float(np.median(moved)), 2),
                                                    round(float(np.percentile(moved, 90)), 2)]
    print(json.dumps(result, indent=1))
    save("quality", result)


def galleries(args: argparse.Namespace) -> None:
    """Galleries enrolled before the switch hold YuNet-aligned EdgeFace-XS templates and are then
    searched with RetinaFace-aligned probes: FMR and FNMR at the shipped thresholds for each
    (enrolment, probe) alignment, on the quality run's features (genuine View-2 pairs; impostors:
    every ordered pair of those images of two different people)."""
    from facetrust.evaluation.lfw import read_lfw_pairs
    from facetrust.recognition.calibration import load_calibration

    genuine = [p for p in read_lfw_pairs(LFW_PAIRS, LFW_ROOT) if p.same]
    paths = sorted({p.path_a for p in genuine} | {p.path_b for p in genuine})
    index = {p: i for i, p in enumerate(paths)}
    a = np.array([index[p.path_a] for p in genuine])
    b = np.array([index[p.path_b] for p in genuine])
    _, person = np.unique([p.parent.name for p in paths], return_inverse=True)
    features = {d: quality_features(d, paths) for d in DETECTORS}
    calibration = load_calibration(RECOGNIZER)
    fmrs = (1e-4, 1e-3)
    thresholds = {f: calibration.threshold_at(f) for f in fmrs}
    result: dict[str, Any] = {"recognizer": RECOGNIZER, "calibrated_on": calibration.detector, "images": len(paths),
                              "genuine_pairs": len(genuine), "thresholds": thresholds, "combinations": {}}
    print(f"| enrolled with | probed with | genuine scores | impostor scores | "
          + " | ".join(f"FMR @ {f:g} thr. | FNMR @ {f:g} thr." for f in fmrs) + " |")
    print("|---|---|---|---|" + "---|---|" * len(fmrs))
    for enrolled, probe in (("yunet", "yunet"), ("retinaface", "retinaface"), ("yunet", "retinaface")):
        g, q = features[enrolled], features[probe]
        both = g["found"][a] & q["found"][b]
        # both directions: either image of a pair may be the enrolled one
        scores = np.concatenate([np.sum(g["embedding"][a] * q["embedding"][b], axis=1)[both],
                                 np.sum(g["embedding"][b] * q["embedding"][a], axis=1)[both]])
        rows = np.flatnonzero(g["found"])
        cols = np.flatnonzero(q["found"])
        counts = {f: 0 for f in fmrs}
        impostors = 0
        for start in range(0, len(rows), 512):
            block = rows[start : start + 512]
            matrix = g["embedding"][block] @ q["embedding"][cols].T
            other = person[block][:, None] != person[cols][None, :]
            impostors += int(other.sum())
            for f in fmrs:
                counts[f] += int(((matrix >= thresholds[f]) & other).sum())
        entry = {"genuine_scores": int(len(scores)), "impostor_scores": impostors,
                 **{f"fmr_at_{f:g}": counts[f] / impostors for f in fmrs},
                 **{f"fnmr_at_{f:g}": float(np.mean(scores < thresholds[f])) for f in fmrs}}
        result["combinations"][f"{enrolled}->{probe}"] = entry
        print(f"| {enrolled} | {probe} | {len(scores):,} | {impostors:,} | " + " | ".join(
            f"{entry[f'fmr_at_{f:g}']:.2e} | {100 * entry[f'fnmr_at_{f:g}']:.2f}%" for f in fmrs) + " |")
    save("galleries", result)


def calibration(args: argparse.Namespace) -> None:
    """The shipped EdgeFace-XS thresholds (calibrated on YuNet alignment) on RetinaFace alignment:
    all 13,233 LFW images, every cross-identity pair, from the features that
    ``bench/recognition_study.py features --detector retinaface --images all --recognizers edgeface-xs``
    keeps in its store: the FMR and FNMR they give, and the thresholds recomputed there."""
    from facetrust.recognition.calibration import calibrate_scores, load_calibration, pair_scores

    data = np.load(Path(args.store) / f"features_retinaface_all_{RECOGNIZER}.npz")
    if not data["found"].all():
        raise SystemExit("images without a face in the study's features")
    vectors = (data["plain"] / np.linalg.norm(data["plain"], axis=1, keepdims=True)).astype(np.float32)
    _, labels = np.unique([p.split("/")[0] for p in data["paths"]], return_inverse=True)
    impostor, genuine = pair_scores(vectors, labels)
    recomputed = calibrate_scores(impostor, genuine)
    shipped = load_calibration(RECOGNIZER)
    ordered = np.sort(impostor)
    rows = []
    print(f"{len(impostor):,} impostor / {len(genuine):,} genuine pairs on RetinaFace alignment; impostor mean "
          f"{recomputed['impostor_mean']:.4f} std {recomputed['impostor_std']:.4f} (shipped, {shipped.detector}: "
          f"{shipped.impostor_mean:.4f} / {shipped.impostor_std:.4f})")
    print("| FMR | shipped threshold | FMR there on RetinaFace | FNMR there (on YuNet) | recomputed threshold |")
    print("|---|---|---|---|---|")
    for fmr, threshold, fnmr in zip(shipped.fmr, shipped.threshold, shipped.fnmr):
        achieved = float(1 - np.searchsorted(ordered, threshold, side="left") / len(ordered))
        own = recomputed["threshold"][recomputed["fmr"].index(fmr)]
        rows.append({"fmr": fmr, "shipped_threshold": threshold, "fmr_on_retinaface": achieved,
                     "fnmr_on_retinaface": float(np.mean(genuine < threshold)), "fnmr_shipped": fnmr,
                     "recomputed_threshold": own})
        print(f"| {fmr:g} | {threshold:.4f} | {achieved:.3g} | {rows[-1]['fnmr_on_retinaface']:.4f} ({fnmr:.4f}) "
              f"| {own:.4f} |")
    save("calibration", {"impostor_pairs": int(len(impostor)), "genuine_pairs": int(len(genuine)),
                         "recomputed": recomputed, "rows": rows})


# ---------------------------------------------------------------- forgery

def forgery(args: argparse.Namespace) -> None:
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.colour_faces import read_utkface
    from facetrust.forensics.false_alarms import (CROP_FORMS, build_checkers, false_alarm_rates, score_colour_faces,
                                                  shipped_threshold)

    faces = read_utkface(SHARED / "data" / "utkface", "evaluation", args.per_race)
    threshold = shipped_threshold("sbi")
    rows: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    result: dict[str, Any] = {"model": "sbi", "threshold": threshold, "faces": len(faces), "per_race": args.per_race}
    CACHE.mkdir(parents=True, exist_ok=True)
    with ScoreCache(CACHE / "forgery_scores.sqlite") as cache:
        for detector in DETECTORS:
            checkers, versions = build_checkers(["sbi"], face_detector=detector)
            started = time.process_time()
            scored = score_colour_faces(faces, checkers, versions, cache, progress=True)
            result.setdefault("cpu_seconds", {})[detector] = round(time.process_time() - started, 1)
            rows[detector] = {(r["file"], r["form"]): r for r in scored}
            result.setdefault("shipped_view", {})[detector] = {
                form: false_alarm_rates([r for r in scored if r["form"] == form], "sbi", threshold)
                for form in CROP_FORMS}
    paired: dict[str, Any] = {}
    for form in CROP_FORMS:
        keys = [k for k in rows["yunet"] if k[1] == form and rows["yunet"][k]["sbi"] is not None
                and rows["retinaface"][k]["sbi"] is not None]
        alarms = {d: np.array([rows[d][k]["sbi"] >= threshold for k in keys], float) for d in DETECTORS}
        groups = {"overall": np.ones(len(keys), bool)}
        for column in ("gender", "race"):
            for value in sorted({rows["yunet"][k][column] for k in keys}):
                groups[f"{column} {value}"] = np.array([rows["yunet"][k][column] == value for k in keys])
        paired[form] = {}
        for group, mask in groups.items():
            y, r = alarms["yunet"][mask], alarms["retinaface"][mask]
            diff = r - y
            paired[form][group] = {"n": int(mask.sum()), "yunet": round(float(y.mean()), 4),
                                   "retinaface": round(float(r.mean()), 4),
                                   "difference": round(float(diff.mean()), 4),
                                   "ci95": paired_ci(lambda i: float(diff[i].mean()), len(diff)),
                                   "only_yunet_flags": int(((y == 1) & (r == 0)).sum()),
                                   "only_retinaface_flags": int(((y == 0) & (r == 1)).sum())}
        scores = {d: np.array([rows[d][k]["sbi"] for k in keys]) for d in DETECTORS}
        paired[form]["score_correlation"] = round(float(np.corrcoef(scores["yunet"], scores["retinaface"])[0, 1]), 4)
        paired[form]["decided_by_one_only"] = {
            d: sum(1 for k, row in rows[d].items() if k[1] == form and row["sbi"] is not None
                   and rows[other][k]["sbi"] is None)
            for d, other in (("yunet", "retinaface"), ("retinaface", "yunet"))}
    result["paired"] = paired
    for form in CROP_FORMS:
        print(f"\n**{form}** (faces both decided; paired difference RetinaFace - YuNet, 95% bootstrap)\n")
        print("| group | n | YuNet FPR | RetinaFace FPR | difference [95% CI] | flagged by one only (Y / R) |")
        print("|---|---|---|---|---|---|")
        for group, s in paired[form].items():
            if isinstance(s, dict) and "n" in s:
                print(f"| {group} | {s['n']} | {100 * s['yunet']:.1f}% | {100 * s['retinaface']:.1f}% | "
                      f"{100 * s['difference']:+.1f} pp [{100 * s['ci95'][0]:+.1f}, {100 * s['ci95'][1]:+.1f}] | "
                      f"{s['only_yunet_flags']} / {s['only_retinaface_flags']} |")
        print(f"score correlation {paired[form]['score_correlation']}; decided by one only "
              f"{paired[form]['decided_by_one_only']}")
    save("forgery" if args.per_race is None else f"forgery_per_race_{args.per_race}", result)


def dfdc(args: argparse.Namespace) -> None:
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.evaluation import evaluate_forgery, read_forgery_labels

    labels = SHARED / "data" / "deepfake" / "labels.csv"
    items, _ = read_forgery_labels(labels, None, r"^([a-z]+)-", False, "kind")
    result: dict[str, Any] = {}
    CACHE.mkdir(parents=True, exist_ok=True)
    with ScoreCache(CACHE / "dfdc_scores.sqlite") as cache:
        for detector in DETECTORS:
            started = time.process_time()
            report, _ = evaluate_forgery(items, ["sbi"], [], cache, 0.2, 100, crop_fallback=True,
                                         face_detector=detector, progress=True)
            metrics = report["metrics"]["sbi"]
            result[detector] = {"frame": metrics["frame"], "video": metrics["video"],
                                "per_kind": report["per_method_frame_level"]["sbi"],
                                "cpu_seconds": round(time.process_time() - started, 1)}
    print(json.dumps(result, indent=1, default=str))
    save("dfdc", result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    box = sub.add_parser("boxes")
    box.add_argument("--lfw-step", type=int, default=44, help="every Nth LFW image (44: 301 images)")
    sub.add_parser("quality")
    sub.add_parser("galleries", help="after quality: YuNet-enrolled galleries searched with RetinaFace probes")
    cal = sub.add_parser("calibration", help="the shipped thresholds on RetinaFace alignment, all of LFW")
    cal.add_argument("--store", default=str(Path.home() / ".cache" / "facetrust" / "study"),
                     help="bench/recognition_study.py's feature store")
    fake = sub.add_parser("forgery")
    fake.add_argument("--per-race", type=int, default=None, help="at most N faces per race (default: all 1,902)")
    sub.add_parser("dfdc")
    args = parser.parse_args()
    {"boxes": boxes, "quality": quality, "galleries": galleries, "calibration": calibration, "forgery": forgery, "dfdc": dfdc}[args.command](args)


if __name__ == "__main__":
    main()
