"""Face image quality on LFW: error-versus-discard curves (EDC) for every quality method.

    python bench/quality_edc.py --workers 2            # features are cached and resumable

Protocol (docs/quality.md):

* Every image of the 4,281 identities in LFW View-2 ``pairs.txt`` is analysed
  once with dlib-hog + dlib-resnet (largest face; the LFW centre box where no
  face is detected): components, embedding, and for the images of genuine
  pairs the embedding stability.
* The View-2 folds are identity-disjoint. Side A = identities of folds 1-5,
  side B = folds 6-10. The shipped model and all shipped calibration
  (score scales, thresholds) come from side A only; side B is the held-out
  test. A second model fitted on side B scores side A, so that a
  cross-fitted curve over all 3,000 genuine pairs can be drawn as well.
* EDC: genuine pairs, decision threshold = dlib-resnet's calibrated
  threshold at FMR 1e-3, pair quality = min of the two images, FNMR of the
  kept pairs versus the fraction discarded; pAUC up to 20% discard.
* Writes facetrust/quality/calibration/*.json (with --write-calibration),
  bench/results/quality_edc.json, docs/quality_edc.png, and prints the table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS, ROOT  # noqa: E402

from facetrust.analyzer import AnalyzerConfig  # noqa: E402
from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs  # noqa: E402
from facetrust.quality.dataset import FeatureTable, extract_features, remeasure  # noqa: E402
from facetrust.quality.edc import (  # noqa: E402
    DEFAULT_DISCARD_LIMIT, EdcCurve, edc, oracle_edc, pair_quality, random_pauc, recommended_cut,
)
from facetrust.quality.explainable import rate  # noqa: E402
from facetrust.quality.learned import defect_factor, feature_names  # noqa: E402
from facetrust.quality.training import fit_regressor, percentile_grid, sdd_labels  # noqa: E402
from facetrust.recognition.calibration import load_calibration  # noqa: E402

FMR = 1e-3
#: Explainable threshold when the EDC rule finds no cut: one component rated 0.5, i.e. halfway
#: between the values where 95% and where 50% of matching genuine pairs still match.
EXPLAINABLE_FALLBACK = 50.0
#: Version of the shipped learned model; bump when the features or the labels change.
MODEL_VERSION = 2
#: Candidate designs of the learned model: (input groups, regressor kind). Chosen by inner
#: cross-fitting on side A; version 1 shipped "components + embedding".
DESIGNS: dict[str, tuple[tuple[str, ...], str]] = {
    "ridge: components + embedding": (("components", "embedding"), "linear"),
    "ridge: components + detector score": (("components", "detector_score"), "linear"),
    "ridge: components + perturbations": (("components", "perturbations"), "linear"),
    "ridge: components + detector score + perturbations": (("components", "detector_score", "perturbations"), "linear"),
    "ridge: components + detector score + perturbations + embedding":
        (("components", "detector_score", "perturbations", "embedding"), "linear"),
    "MLP: components + detector score + perturbations": (("components", "detector_score", "perturbations"), "mlp"),
}
EXPLAINABLE_RULE = ("50 = one component rated 0.5, halfway between its '95% of matches kept' and '50% kept' values "
                    "in bench/quality_degradation.py (the EDC rule on LFW folds 1-5 justified no cut: LFW has too "
                    "few blurred, dark or tiny faces); see docs/quality.md")
#: Images per identity (of those with two or more) that get perturbation features; see perturbed_images.
PERTURBED_PER_IDENTITY = 20
SIDE_A, SIDE_B = frozenset(range(0, 5)), frozenset(range(5, 10))
CALIBRATION_DIR = ROOT / "facetrust" / "quality" / "calibration"
#: Single components shown on the curves, with the direction in which they mean "better".
COMPONENT_MEASURES = {
    "inter_eye_px": 1, "sharpness": 1, "brightness": 1, "contrast": 1, "illumination_uniformity": 1,
    "yaw_deg": -1, "pitch_deg": -1, "roll_deg": -1,
}


def lfw_features(workers: int) -> tuple[FeatureTable, list, dict[str, int], dict[str, str]]:
    """Features of every image of every pairs.txt identity; (table, pairs, fold of each identity, identity of each image)."""
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    fold_of = {q.parent.name: p.fold for p in pairs for q in (p.path_a, p.path_b)}
    people = sorted(fold_of)
    paths = [p for name in people for p in sorted((LFW_ROOT / name).glob("*.jpg"))]
    config = AnalyzerConfig(fallback_box=LFW_FALLBACK_BOX)
    table = extract_features(paths, config, RESULTS / "quality_features", perturbed_images(pairs, paths), workers=workers)
    # Components are cheap to recompute from the stored faces: always use the current code.
    table = remeasure(table, config.detector)
    identity = {str(p): p.parent.name for p in paths}
    return table, pairs, fold_of, identity


def perturbed_images(pairs: list, paths: list[Path]) -> set[str]:
    """Images whose perturbation features are computed (3 extra embeddings each): every image of a
    genuine pair (the EDC needs them), topped up to PERTURBED_PER_IDENTITY per identity with two or
    more images (training labels need other images of the identity). Single-image identities only
    serve as impostors."""
    genuine = {str(q) for p in pairs if p.same for q in (p.path_a, p.path_b)}
    chosen = set(genuine)
    by_identity: dict[str, list[str]] = {}
    for path in paths:
        by_identity.setdefault(path.parent.name, []).append(str(path))
    for images in by_identity.values():
        if len(images) < 2:
            continue
        others = [p for p in images if p not in genuine]
        room = max(0, PERTURBED_PER_IDENTITY - (len(images) - len(others)))
        chosen.update(others[:room])
    return chosen


def learned_model(table: FeatureTable, identity: dict[str, str], fold_of: dict[str, int], folds: frozenset[int],
                  design: tuple[str, ...], kind: str, labels_by_folds: dict[frozenset[int], np.ndarray]
                  ) -> tuple[dict, np.ndarray, np.ndarray]:
    """Fit on the images of identities in ``folds``; (spec, predictions for every row, training-row mask).

    Labels use every face of the training identities (all take part as genuine or impostor
    partners); the regressor trains on those that have all of the design's inputs. The labels depend
    on the folds only, so they are computed once per fold set into ``labels_by_folds``."""
    ids = np.array([identity[p] for p in table.paths])
    in_folds = table.has_face & np.array([fold_of[i] in folds for i in ids])
    if folds not in labels_by_folds:
        labels_by_folds[folds] = np.full(len(ids), np.nan)
        labels_by_folds[folds][in_folds] = sdd_labels(table.embeddings[in_folds], ids[in_folds])
    labels = labels_by_folds[folds]
    train = in_folds & table.has_inputs(design)
    inputs = table.model_inputs(design)
    fitted = fit_regressor(inputs[train], labels[train], kind=kind)
    return fitted.spec, fitted.predict(inputs), train


def genuine_arrays(table: FeatureTable, pairs: list, folds: frozenset[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(similarity, row of image a, row of image b) of the genuine pairs in ``folds`` (all have a face)."""
    chosen = [p for p in pairs if p.same and p.fold in folds]
    rows_a, rows_b = table.rows([p.path_a for p in chosen]), table.rows([p.path_b for p in chosen])
    similarity = np.einsum("nd,nd->n", table.embeddings[rows_a], table.embeddings[rows_b]).astype(np.float64)
    return similarity, rows_a, rows_b


def curve_for(per_image: np.ndarray, similarity: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray,
              threshold: float) -> EdcCurve:
    quality = pair_quality(per_image[rows_a], per_image[rows_b])
    # An image without the measure (e.g. stability not computed) must not survive discarding.
    return edc(similarity, np.where(np.isfinite(quality), quality, -np.inf), threshold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kind", choices=["linear", "mlp"], default=None,
                        help="only consider designs with this regressor kind (default: all of DESIGNS)")
    parser.add_argument("--write-calibration", action="store_true", help="write facetrust/quality/calibration/*.json")
    args = parser.parse_args()
    started = time.time()
    table, pairs, fold_of, identity = lfw_features(args.workers)
    threshold = load_calibration("dlib-resnet").threshold_at(FMR)
    print(f"{len(table.paths)} images, {int(table.detected.sum())} with a detected face, "
          f"{int((table.has_face & ~table.detected).sum())} on the fallback box ({time.time() - started:.0f} s)")

    rated = [rate(table.component_dict(i), "explainable", 0.0) if table.has_face[i] else None
             for i in range(len(table.paths))]
    explainable = np.array([0.0 if r is None else r.score for r in rated])
    # The learned score as the assessor gives it: capped where a component shows a clear defect.
    defect = np.array([0.0 if r is None else defect_factor(r) for r in rated])
    print(f"learned scores capped by a clear defect: {int(np.sum(defect < 1))} of {len(defect)} images")
    stability = table.stability

    # Design (input groups, regressor kind): inner cross-fitting over the 5 folds of side A (fit on 4,
    # score the 5th). Side B plays no part in the choice.
    designs = {name: design for name, design in DESIGNS.items() if args.kind in (None, design[1])}
    inner: dict[str, np.ndarray] = {}
    labels: dict[frozenset[int], np.ndarray] = {}
    for name, (groups, kind) in designs.items():
        predicted = np.full(len(table.paths), np.nan)
        for fold in sorted(SIDE_A):
            _, scores, _ = learned_model(table, identity, fold_of, SIDE_A - {fold}, groups, kind, labels)
            in_fold = np.array([fold_of[identity[p]] == fold for p in table.paths])
            predicted[in_fold] = scores[in_fold]
        inner[name] = predicted
    similarity_a, rows_a_a, rows_b_a = genuine_arrays(table, pairs, SIDE_A)
    inner_pauc = {k: curve_for(v, similarity_a, rows_a_a, rows_b_a, threshold).pauc() for k, v in inner.items()}
    chosen = min(inner_pauc, key=inner_pauc.get)
    groups, kind = designs[chosen]
    side_a_random = random_pauc(float(np.mean(similarity_a < threshold)))
    print("inner cross-fitted pAUC on side A (random discard %.5f):" % side_a_random)
    for name, value in sorted(inner_pauc.items(), key=lambda item: item[1]):
        print(f"  {name}: {value:.5f} ({value / side_a_random - 1:+.1%})")
    print("->", chosen)

    spec_a, learned_a, train_a = learned_model(table, identity, fold_of, SIDE_A, groups, kind, labels)
    _, learned_b, _ = learned_model(table, identity, fold_of, SIDE_B, groups, kind, labels)
    on_side_b = np.array([fold_of[identity[p]] in SIDE_B for p in table.paths])
    learned_cross = np.where(on_side_b, learned_a, learned_b)  # every image scored by the model that never saw it

    # Score scales (percentiles of side-A faces) and thresholds (EDC rule on side A).
    side_a_faces = train_a
    stability_grid = percentile_grid(stability[side_a_faces])
    learned_grid = percentile_grid(inner[chosen][side_a_faces])
    from facetrust.quality.calibration import QualityCalibration

    def scaled(values: np.ndarray, grid: list[float]) -> np.ndarray:
        return np.asarray(QualityCalibration("x", None, 0.0, "", tuple(grid)).scale(values))

    scores = {
        "explainable": explainable,
        "stability": np.where(np.isfinite(stability), scaled(np.nan_to_num(stability, nan=-1.0), stability_grid), np.nan),
        "learned": scaled(learned_a, learned_grid) * defect,
    }
    side_a_scores = {**scores, "learned": scaled(inner[chosen], learned_grid) * defect}  # threshold from out-of-fold scores
    thresholds = {}
    for method, values in side_a_scores.items():
        cut, discarded = recommended_cut(curve_for(values, similarity_a, rows_a_a, rows_b_a, threshold))
        thresholds[method] = {"threshold": round(max(cut, 0.0), 2), "side_a_pairs_discarded": round(discarded, 4),
                              "edc_rule_threshold": round(max(cut, 0.0), 2)}
    if thresholds["explainable"]["side_a_pairs_discarded"] == 0.0:
        # LFW has too few image defects for the EDC rule to justify any explainable cut;
        # fall back to the degradation study's meaning of the ramps (see EXPLAINABLE_RULE).
        thresholds["explainable"]["threshold"] = EXPLAINABLE_FALLBACK
    print("thresholds (from side A):", thresholds)

    results = {"fmr": FMR, "threshold": threshold, "design": chosen, "inputs": list(groups), "kind": kind,
               "inner_pauc": inner_pauc, "inner_random_pauc": side_a_random, "thresholds": thresholds,
               "images": len(table.paths), "detected": int(table.detected.sum()), "tables": {}}
    similarity_b, rows_a_b, rows_b_b = genuine_arrays(table, pairs, SIDE_B)
    similarity_all, rows_a_all, rows_b_all = genuine_arrays(table, pairs, SIDE_A | SIDE_B)
    evaluations = {
        "test (folds 6-10, shipped calibration)": (similarity_b, rows_a_b, rows_b_b, scores),
        "cross-fitted (folds 1-10)": (similarity_all, rows_a_all, rows_b_all,
                                      {**scores, "learned": scaled(learned_cross, learned_grid) * defect}),
    }
    curves_to_plot = {}
    for title, (similarity, rows_a, rows_b, measures) in evaluations.items():
        all_measures = {**measures, **{f"component: {k}": sign * table.component(k)
                                       for k, sign in COMPONENT_MEASURES.items()}}
        rows = {}
        for name, values in all_measures.items():
            curve = curve_for(values, similarity, rows_a, rows_b, threshold)
            rows[name] = {"pauc": curve.pauc(), "fnmr_at_10": curve.fnmr_at(0.1), "fnmr_at_20": curve.fnmr_at(0.2)}
            curves_to_plot.setdefault(title, {})[name] = curve
        start = float(np.mean(similarity < threshold))
        oracle = oracle_edc(similarity, threshold)
        rows["random discard (expected)"] = {"pauc": random_pauc(start), "fnmr_at_10": start, "fnmr_at_20": start}
        rows["oracle"] = {"pauc": oracle.pauc(), "fnmr_at_10": oracle.fnmr_at(0.1), "fnmr_at_20": oracle.fnmr_at(0.2)}
        curves_to_plot[title]["oracle"] = oracle
        for row in rows.values():
            row["vs_random"] = row["pauc"] / random_pauc(start) - 1.0
        results["tables"][title] = {"genuine_pairs": len(similarity), "fnmr0": start, "rows": rows}
        if title.startswith("test"):
            for method, entry in thresholds.items():
                quality = pair_quality(measures[method][rows_a], measures[method][rows_b])
                kept = quality >= entry["threshold"]
                entry["test_pairs_discarded"] = round(float(1 - kept.mean()), 4)
                entry["test_fnmr_kept"] = round(float(np.mean(similarity[kept] < threshold)), 4)
        _print_table(title, results["tables"][title])

    print("at the recommended thresholds, on the test folds:", json.dumps(thresholds, indent=1))
    results["seconds"] = round(time.time() - started, 1)
    (RESULTS / "quality_edc.json").write_text(json.dumps(results, indent=1) + "\n")
    _plot(curves_to_plot, results, ROOT / "docs" / "quality_edc.png")
    if args.write_calibration:
        _write_calibration(spec_a, groups, kind, learned_grid, stability_grid, thresholds, table, identity, fold_of)
    print(f"done in {time.time() - started:.0f} s")


def _print_table(title: str, table: dict) -> None:
    print(f"\n{title}: {table['genuine_pairs']} genuine pairs, FNMR {table['fnmr0']:.4f} at FMR {FMR:g}")
    print(f"| measure | pAUC-EDC (0-{DEFAULT_DISCARD_LIMIT:.0%}) | vs random | FNMR @10% | FNMR @20% |")
    print("|---|---|---|---|---|")
    for name, row in sorted(table["rows"].items(), key=lambda item: item[1]["pauc"]):
        print(f"| {name} | {row['pauc']:.5f} | {row['vs_random']:+.1%} | {row['fnmr_at_10']:.4f} | {row['fnmr_at_20']:.4f} |")


def _plot(curves: dict[str, dict[str, EdcCurve]], results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(7 * len(curves), 5), squeeze=False)
    for axis, (title, by_name) in zip(axes[0], curves.items()):
        start = results["tables"][title]["fnmr0"]
        axis.axhline(start, color="grey", linestyle="--", label="random discard (expected)")
        for name, curve in by_name.items():
            main = not name.startswith("component")
            oracle = name == "oracle"
            axis.step(curve.discard, curve.fnmr, where="post", label=name,
                      linewidth=2.0 if main else 0.8, alpha=1.0 if main else 0.6,
                      linestyle=":" if oracle else "-", color="black" if oracle else None)
        axis.set_xlim(0, 0.3)
        axis.set_ylim(0, start * 1.3)
        axis.set_xlabel("fraction of genuine comparisons discarded (lowest pair quality first)")
        axis.set_ylabel(f"FNMR at FMR {FMR:g} (dlib-resnet)")
        axis.set_title(title, fontsize=10)
        axis.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


def _write_calibration(spec: dict, groups: tuple[str, ...], kind: str, learned_grid: list[float], stability_grid: list[float],
                       thresholds: dict, table: FeatureTable, identity: dict[str, str], fold_of: dict[str, int]) -> None:
    rule = ("EDC rule on LFW View-2 folds 1-5 (identities disjoint from the test folds 6-10): the highest score "
            "at which the genuine pairs discarded below it (at most 20%) have at least twice the starting FNMR "
            "(dlib-resnet, FMR 1e-3); see docs/quality.md")
    source = "bench/quality_edc.py --write-calibration"
    training_ids = sorted({identity[p] for p in table.paths if fold_of[identity[p]] in SIDE_A})
    train_images = sum(1 for p, face in zip(table.paths, table.has_face) if face and fold_of[identity[p]] in SIDE_A)
    records = {
        "explainable": {"method": "explainable", "threshold": thresholds["explainable"]["threshold"],
                        "threshold_rule": rule if thresholds["explainable"]["side_a_pairs_discarded"] else EXPLAINABLE_RULE,
                        "written_by": source},
        "stability-dlib-resnet": {"method": "stability", "recognizer": "dlib-resnet",
                                  "threshold": thresholds["stability"]["threshold"], "threshold_rule": rule,
                                  "raw_quantiles": stability_grid, "written_by": source},
        "learned-dlib-resnet": {"method": "learned", "version": MODEL_VERSION, "recognizer": "dlib-resnet",
                                "detector": "dlib-hog", "inputs": list(groups),
                                "features": feature_names(groups),
                                "threshold": thresholds["learned"]["threshold"], "threshold_rule": rule,
                                "raw_quantiles": learned_grid, "model": spec, "kind": kind,
                                "labels": "SDD-FIQA: 1-Wasserstein distance between genuine and impostor cosine "
                                          "similarity distributions, training identities only",
                                "training_identities": training_ids, "training_images": int(train_images),
                                "written_by": source},
    }
    for name, record in records.items():
        path = CALIBRATION_DIR / f"{name}.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(record, indent=1) + "\n")
        temporary.replace(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
