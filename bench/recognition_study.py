"""What raises LFW View-2 accuracy: flip, alignment, fusion members and fusion rules.

One detection per image and detector, one 112x112 ArcFace crop of the face
nearest the centre (as ``facetrust eval lfw`` selects it), then every
recognizer's raw (unnormalised) features of the crop and of its mirror image,
so that with and without flip-sum come from one pass (flip-sum =
normalise(f(crop) + f(mirror)), exactly what ``flip=True`` computes).
Arrays are kept in ``~/.cache/facetrust/study`` (``--store``), never committed.

    nice python bench/recognition_study.py features --detector yunet --images pairs
    nice python bench/recognition_study.py features --detector yunet --images all   # the rest of LFW
    nice python bench/recognition_study.py features --detector retinaface --images pairs --recognizers edgeface-xs reid-0095
    nice python bench/recognition_study.py fill-cache      # then bench_lfw_accuracy.py, calibrate_thresholds.py
    nice python bench/recognition_study.py analyse --dlib --max-members 4 --out bench/results/recognition_study.md
    nice python bench/recognition_study.py identify --detectors yunet retinaface   # after `features --images all`
    nice python bench/recognition_study.py shipped --detectors yunet retinaface \
        --recognizers edgeface-xs fusion:edgeface-xs+reid-0095 fusion:edgeface-xs+reid-0095+w600k-mbf
    nice python bench/recognition_study.py calibrations --detector retinaface \
        --recognizers edgeface-xs reid-0095 w600k-mbf fusion:edgeface-xs+reid-0095   # after `features --images all`
    nice python bench/recognition_study.py calibrations --detector yunet-retinaface --recognizers edgeface-xs
        # without study features: the embeddings `facetrust eval identification` cached

``analyse`` scores all 6,000 View-2 pairs for each configuration and reports
the 10-fold accuracy with the threshold chosen on the 9 other folds. Anything
a fusion rule learns (score means and stds, logistic-regression weights) is
fitted on the 9 training folds of each split only. ``shipped`` scores registered
recognizers exactly as the library does (each member's default flip, a fusion's
shipped weights: nothing is fitted). ``calibrations`` recomputes the shipped
thresholds on another detector's alignment and measures what the shipped ones
give there, next to the spread between two halves of LFW's identities.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT  # noqa: E402

from facetrust.analyzer import FaceAnalyzer, select_face  # noqa: E402
from facetrust.evaluation.embedder import EvalModel  # noqa: E402
from facetrust.evaluation.lfw import read_lfw_pairs  # noqa: E402
from facetrust.evaluation.metrics import summarize_verification  # noqa: E402
from facetrust.recognition import onnx_recognizer, reid_0095  # noqa: E402
from facetrust.zoo.store import NonCommercialLicenseWarning  # noqa: E402

STORE = Path.home() / ".cache" / "facetrust" / "study"
STUDIED = ("edgeface-xs", "edgeface-xxs", "reid-0095", "w600k-mbf")
NON_COMMERCIAL = {"w600k-mbf", "scrfd"}
_BATCH = 64


def image_list(which: str) -> list[Path]:
    if which == "all":
        return sorted(LFW_ROOT.glob("*/*.jpg"))
    pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
    return sorted({p.path_a for p in pairs} | {p.path_b for p in pairs})


def relative(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def make_crops(detector: str, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 112, 112, 3) uint8 ArcFace crops of the centre face and a found-mask."""
    from facetrust.alignment.similarity import align_arcface

    analyzer = FaceAnalyzer(detector=detector, recognizer="edgeface-xs")
    crops = np.zeros((len(paths), 112, 112, 3), dtype=np.uint8)
    found = np.zeros(len(paths), dtype=bool)
    started = time.perf_counter()
    for i, path in enumerate(paths):
        image = analyzer.load(path)
        detections = analyzer.detect_rgb(image)
        if detections:
            chosen = detections[select_face(detections, "center", image.shape)]
            crops[i] = align_arcface(image, chosen.landmarks, 112)
            found[i] = True
        if (i + 1) % 500 == 0:
            print(f"  {detector}: {i + 1}/{len(paths)} crops, {(i + 1) / (time.perf_counter() - started):.1f}/s",
                  flush=True)
    return crops, found


def raw_features(name: str, crops: np.ndarray) -> np.ndarray:
    """Unnormalised features of each crop, through the recognizer's own align and
    embed path with its L2 normalisation switched off for the call."""
    from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112
    from facetrust.recognition import RECOGNIZERS
    from facetrust.types import Detection

    template = Detection((0.0, 0.0, 112.0, 112.0), 1.0, ARCFACE_TEMPLATE_112.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonCommercialLicenseWarning)
        recognizer = RECOGNIZERS.create(name, flip=False)
    identity = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    saved = onnx_recognizer.l2_normalize, reid_0095.l2_normalize
    onnx_recognizer.l2_normalize = reid_0095.l2_normalize = identity
    try:
        out = []
        for start in range(0, len(crops), _BATCH):
            batch = [recognizer.align(c, template) for c in crops[start : start + _BATCH]]
            out.append(recognizer.embed_aligned(batch))
        return np.concatenate(out)
    finally:
        onnx_recognizer.l2_normalize, reid_0095.l2_normalize = saved


def load_crops(store: Path, detector: str, images: str) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Crops of ``images`` ("pairs" or "all"), made once; the pair images' are taken
    from the crops of all images when those exist, and the other way round."""
    paths = image_list(images)
    for source in dict.fromkeys((images, "all")):
        crop_file = store / f"crops_{detector}_{source}.npz"
        if crop_file.exists():
            saved = np.load(crop_file)
            index = {p: i for i, p in enumerate(saved["paths"])}
            rows = np.array([index[relative(p)] for p in paths])
            return paths, saved["crops"][rows], saved["found"][rows]
    crops = np.zeros((len(paths), 112, 112, 3), dtype=np.uint8)
    found = np.zeros(len(paths), dtype=bool)
    todo = np.ones(len(paths), dtype=bool)
    pair_file = store / f"crops_{detector}_pairs.npz"
    if images == "all" and pair_file.exists():  # detect only the images that are in no pair
        saved = np.load(pair_file)
        index = {relative(p): i for i, p in enumerate(paths)}
        rows = np.array([index[p] for p in saved["paths"]])
        crops[rows], found[rows], todo[rows] = saved["crops"], saved["found"], False
    rest = np.flatnonzero(todo)
    crops[rest], found[rest] = make_crops(detector, [paths[i] for i in rest])
    np.savez(store / f"crops_{detector}_{images}.npz", crops=crops, found=found,
             paths=np.array([relative(p) for p in paths]))
    return paths, crops, found


def cmd_features(args: argparse.Namespace) -> None:
    """Raw features of the crops and, where used, of their mirror images: on all images for a
    recognizer whose default is flip-sum (what `fill-cache` stores), else on the pair images
    only. With ``--images all``, rows already computed for the pair images are reused."""
    store = Path(args.store)
    store.mkdir(parents=True, exist_ok=True)
    paths, crops, found = load_crops(store, args.detector, args.images)
    print(f"{args.detector}: {int(found.sum())} of {len(paths)} images with a face", flush=True)
    pair_images = set(image_list("pairs"))
    names = np.array([relative(p) for p in paths])
    for name in args.recognizers:
        out = store / f"features_{args.detector}_{args.images}_{name}.npz"
        if out.exists():
            continue
        started = time.perf_counter()
        flip_default = _default_flip(name)
        plain = mirrored = None
        done = np.zeros(len(paths), dtype=bool)
        earlier = store / f"features_{args.detector}_pairs_{name}.npz"
        if args.images == "all" and earlier.exists():
            saved = np.load(earlier)
            index = {p: i for i, p in enumerate(names)}
            rows = np.array([index[p] for p in saved["paths"]])
            plain = np.full((len(paths), saved["plain"].shape[1]), np.nan, dtype=np.float32)
            mirrored = plain.copy()
            plain[rows], mirrored[rows], done[rows] = saved["plain"], saved["mirrored"], True
        todo = np.flatnonzero(~done)
        fresh = raw_features(name, crops[todo])
        if plain is None:
            plain = np.full((len(paths), fresh.shape[1]), np.nan, dtype=np.float32)
            mirrored = plain.copy()
        plain[todo] = fresh
        # Mirrored crops: where the recognizer's default flips, and (--mirror pairs, for the flip
        # study) on every pair image; with --mirror default, only where the default flips.
        mirror = np.array([i for i in todo if flip_default or (args.mirror == "pairs" and paths[i] in pair_images)],
                          dtype=int)
        if len(mirror):
            mirrored[mirror] = raw_features(name, np.ascontiguousarray(crops[mirror, :, ::-1]))
        np.savez(out, plain=plain, mirrored=mirrored, found=found, paths=names)
        print(f"  {name}: {len(todo)} crops, {len(mirror)} mirrored, in {time.perf_counter() - started:.0f} s",
              flush=True)


def cmd_fill_cache(args: argparse.Namespace) -> None:
    """Put the recognizers' embeddings, as their default options compute them (flip-sum
    for reid-0095 and mobilefacenet), into the evaluation's embedding cache under the key
    ``facetrust eval`` and ``bench/calibrate_thresholds.py`` use, after checking that the
    library pipeline gives the same vectors on a sample of images."""
    from facetrust.evaluation.cache import CachedEmbedding, EmbeddingCache, content_hash
    from facetrust.evaluation.embedder import EvalModel
    store = Path(args.store)
    for name in args.recognizers:
        data = np.load(feature_file(store, args.detector, name))
        flip = _default_flip(name)
        vectors = unit(data["plain"] + data["mirrored"]) if flip else unit(data["plain"])
        paths = [LFW_ROOT / p for p in data["paths"]]
        sample = [int(i) for i in np.random.default_rng(0).choice(len(paths), args.check, replace=False)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonCommercialLicenseWarning)
            library = FaceAnalyzer(detector=args.detector, recognizer=name).embed([paths[i] for i in sample], "center")
        worst = float(np.abs(library.vectors - vectors[sample]).max())
        if worst > 1e-4:
            raise SystemExit(f"{name}: the study's embeddings differ from the library's by {worst:.2e}; not cached")
        model = EvalModel(args.detector, name)
        rows = {content_hash(p): CachedEmbedding(bool(f), v.astype(np.float32) if f else None, None)
                for p, v, f in zip(paths, vectors, data["found"])}
        with EmbeddingCache() as cache:
            cache.put_many(model.cache_key(), rows)
        print(f"{name}: {len(rows)} embeddings cached (max |difference| to the library pipeline on "
              f"{args.check} images: {worst:.1e})")


def _default_flip(name: str) -> bool:
    """The ``flip`` default of a recognizer's constructor."""
    import inspect

    from facetrust.recognition import RECOGNIZERS

    return bool(inspect.signature(RECOGNIZERS.get_class(name)).parameters["flip"].default)


# ---------------------------------------------------------------------------- analysis


def feature_file(store: Path, detector: str, name: str) -> Path | None:
    """The features of a detector + recognizer on all LFW images, else on the pair images."""
    for images in ("all", "pairs"):
        path = store / f"features_{detector}_{images}_{name}.npz"
        if path.exists():
            return path
    return None


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


class Study:
    def __init__(self, store: Path) -> None:
        self.store = store
        self.pairs = read_lfw_pairs(LFW_PAIRS, LFW_ROOT)
        self.same = np.array([p.same for p in self.pairs])
        self.folds = np.array([p.fold for p in self.pairs])
        self._scores: dict[str, np.ndarray] = {}

    def scores(self, detector: str, name: str, flip: bool) -> np.ndarray:
        key = f"{detector}/{name}/{int(flip)}"
        if name == "dlib-resnet" and key not in self._scores:
            self._scores[key] = self.cached_scores(EvalModel("dlib-hog", "dlib-resnet"))
        if key not in self._scores:
            data = np.load(feature_file(self.store, detector, name))
            if not data["found"].all():
                raise SystemExit(f"{key}: images without a face; not handled by this study")
            vectors = unit(data["plain"] + data["mirrored"]) if flip else unit(data["plain"])
            index = {p: i for i, p in enumerate(data["paths"])}
            a = np.array([index[relative(p.path_a)] for p in self.pairs])
            b = np.array([index[relative(p.path_b)] for p in self.pairs])
            if not np.isfinite(vectors[np.concatenate([a, b])]).all():
                raise SystemExit(f"{key}: no mirrored features (made with `features --mirror default`)")
            self._scores[key] = np.einsum("ij,ij->i", vectors[a], vectors[b])
        return self._scores[key]


    def cached_scores(self, model: EvalModel) -> np.ndarray:
        """Pair scores from the evaluation's embedding cache (detected face, else the centre-crop
        fallback, as ``facetrust eval lfw`` scores them)."""
        from facetrust.evaluation.cache import EmbeddingCache, content_hash

        paths = sorted({p.path_a for p in self.pairs} | {p.path_b for p in self.pairs})
        hashes = {p: content_hash(p) for p in paths}
        with EmbeddingCache() as cache:
            found = cache.get_many(model.cache_key(), hashes.values())
        if len(found) != len(paths) or any(e.best() is None for e in found.values()):
            raise SystemExit(f"{model.label}: not every pair image is in the embedding cache")
        vector = {p: found[h].best() for p, h in hashes.items()}
        return np.array([float(vector[p.path_a] @ vector[p.path_b]) for p in self.pairs])


def fuse_per_fold(columns: list[np.ndarray], same: np.ndarray, folds: np.ndarray, rule: str) -> np.ndarray:
    """Fused score of each test fold, with whatever the rule learns fitted on the other folds."""
    matrix = np.stack(columns, axis=1)
    if rule == "sum":
        return matrix.mean(axis=1)
    fused = np.empty(len(matrix))
    for fold in np.unique(folds):
        test, train = folds == fold, folds != fold
        mean, std = matrix[train].mean(axis=0), matrix[train].std(axis=0)
        z = (matrix - mean) / std
        if rule == "znorm":
            fused[test] = z[test].sum(axis=1)
        elif rule == "impostor-z":  # z-normalise with the training folds' impostor scores
            imp = matrix[train & ~same]
            fused[test] = ((matrix[test] - imp.mean(axis=0)) / imp.std(axis=0)).sum(axis=1)
        elif rule == "logistic":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1.0, max_iter=1000).fit(z[train], same[train])
            fused[test] = z[test] @ model.coef_[0]
        else:
            raise ValueError(rule)
    return fused


def describe(label: str, scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> str:
    summary = summarize_verification(scores, same, folds)
    tar = summary.tar_at_far[1e-3]
    errors = int(round((1 - summary.accuracy_mean) * len(scores)))
    return (f"| {label} | {100 * summary.accuracy_mean:.2f} ± {100 * summary.accuracy_std:.2f} | "
            f"{100 * tar:.2f} | {summary.auc:.5f} | {errors} |")


def cmd_analyse(args: argparse.Namespace) -> None:
    store = Path(args.store)
    study = Study(store)
    detectors = [d for d in ("yunet", "retinaface", "scrfd") if feature_file(store, d, "edgeface-xs")]
    lines = ["| configuration | accuracy % ± std (10-fold) | TAR@FAR=1e-3 % | AUC | errors (of 6,000) |",
             "|---|---|---|---|---|"]

    def available(detector: str) -> list[str]:
        return [n for n in STUDIED if feature_file(store, detector, n)]

    for detector in detectors:
        for name in available(detector):
            for flip in (False, True):
                lines.append(describe(f"{detector} {name}{' flip' if flip else ''}",
                                      study.scores(detector, name, flip), study.same, study.folds))
    # Landmark alignment from several detectors: average of the members' scores over detectors.
    for name in available("yunet"):
        dets = [d for d in detectors if name in available(d)]
        if len(dets) > 1:
            for flip in (False, True):
                cols = [study.scores(d, name, flip) for d in dets]
                lines.append(describe(f"{'+'.join(dets)} (score mean) {name}{' flip' if flip else ''}",
                                      np.mean(cols, axis=0), study.same, study.folds))
    for detector in detectors:
        names = available(detector) + (["dlib-resnet"] if args.dlib and detector == "yunet" else [])
        for size in range(2, args.max_members + 1):
            for members in itertools.combinations(names, size):
                for flip in (False, True):
                    cols = [study.scores(detector, n, flip or n == "reid-0095") for n in members]
                    for rule in args.rules:
                        licence = "non-commercial" if NON_COMMERCIAL & set(members) | ({detector} & NON_COMMERCIAL) else "permissive"
                        label = (f"{detector} fusion:{'+'.join(members)}{' flip' if flip else ''} [{rule}] "
                                 f"({licence})")
                        lines.append(describe(label, fuse_per_fold(cols, study.same, study.folds, rule),
                                              study.same, study.folds))
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


def cmd_identify(args: argparse.Namespace) -> None:
    """1:N on all of LFW with the evaluation's own split (seed 0) and metrics, one row per
    detector whose crops of all images were made, for each recognizer without flip."""
    from facetrust.evaluation.identification import split_identities
    from facetrust.evaluation.metrics import cmc, dir_at_fpir

    store = Path(args.store)
    split = split_identities(LFW_ROOT, seed=0)
    print("| alignment | recognizer | rank-1 % | DIR@FPIR=1e-2 % (threshold) | DIR@FPIR=1e-1 % (threshold) |")
    print("|---|---|---|---|---|")
    for detector in args.detectors:
        for name in args.recognizers:
            path = store / f"features_{detector}_all_{name}.npz"
            if not path.exists():
                continue
            saved = np.load(path)
            vectors = unit(saved["plain"])
            index = {p: i for i, p in enumerate(saved["paths"])}

            def rows(items: list[tuple[Path, str]]) -> tuple[np.ndarray, list[str]]:
                return vectors[[index[relative(p)] for p, _ in items]], [who for _, who in items]

            gallery, gallery_ids = rows(split.gallery)
            mated, mated_ids = rows(split.mated)
            nonmated, _ = rows(split.nonmated)
            similarity = mated @ gallery.T
            cells = [f"{100 * cmc(similarity, mated_ids, gallery_ids, max_rank=1)[0]:.2f}"]
            for fpir in (1e-2, 1e-1):
                rate, threshold = dir_at_fpir(similarity, mated_ids, gallery_ids, nonmated @ gallery.T, fpir)
                cells.append(f"{100 * rate:.2f} ({threshold:.4f})")
            print(f"| {detector} | {name} | {' | '.join(cells)} |", flush=True)


def shipped_scores(study: Study, detector: str, recognizer: str) -> np.ndarray:
    """Pair scores of a registered recognizer as the library computes them: each member with
    its default flip, a fusion as the weighted sum of its members' cosines with its shipped
    weights (facetrust.recognition.fusion)."""
    from facetrust.recognition import RECOGNIZERS

    weights = RECOGNIZERS.get_class(recognizer).weights() if recognizer.startswith("fusion:") else {recognizer: 1.0}
    return sum(w * study.scores(detector, m, _default_flip(m)) for m, w in weights.items())


def cmd_shipped(args: argparse.Namespace) -> None:
    study = Study(Path(args.store))
    lines = ["| alignment | recognizer (shipped definition) | accuracy % ± std (10-fold) | TAR@FAR=1e-3 % | AUC | "
             "errors (of 6,000) |", "|---|---|---|---|---|---|"]
    for detector in args.detectors:
        for recognizer in args.recognizers:
            lines.append(describe(f"{detector} | {recognizer}", shipped_scores(study, detector, recognizer),
                                  study.same, study.folds))
            print(lines[-1], flush=True)
    if args.out:
        Path(args.out).write_text("\n".join(lines) + "\n")


def all_vectors(store: Path, detector: str, recognizer: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of all LFW images as the library computes them (a fusion's composed with
    its shipped weights) and each image's identity."""
    from facetrust.recognition import RECOGNIZERS

    if recognizer.startswith("fusion:"):
        parts = [all_vectors(store, detector, m) for m in RECOGNIZERS.get_class(recognizer).members]
        scales = RECOGNIZERS.get_class(recognizer).scales
        return np.concatenate([v * np.float32(s) for (v, _), s in zip(parts, scales)], axis=1), parts[0][1]
    path = store / f"features_{detector}_all_{recognizer}.npz"
    if not path.exists():
        return cached_vectors(detector, recognizer)
    data = np.load(path)
    if not data["found"].all():
        raise SystemExit(f"{detector} + {recognizer}: images without a face; not handled by this study")
    vectors = unit(data["plain"] + data["mirrored"]) if _default_flip(recognizer) else unit(data["plain"])
    return vectors.astype(np.float32), np.array([p.split("/")[0] for p in data["paths"]])


def cached_vectors(detector: str, recognizer: str) -> tuple[np.ndarray, np.ndarray]:
    """Unit embeddings of all LFW images from the evaluation's embedding cache, as
    ``facetrust eval identification`` stored them (the library pipeline itself), and each
    image's identity; the images must all be there, each with a detected face."""
    from facetrust.evaluation.cache import EmbeddingCache, content_hash

    paths = image_list("all")
    hashes = [content_hash(p) for p in paths]
    with EmbeddingCache() as cache:
        found = cache.get_many(EvalModel(detector, recognizer).cache_key(), hashes)
    if not all(h in found and found[h].detected for h in hashes):
        raise SystemExit(f"{detector} + {recognizer}: not every LFW image has a detected face in the evaluation "
                         "cache (run `facetrust eval identification --root <lfw>` first)")
    vectors = np.stack([found[h].vector for h in hashes]).astype(np.float32)
    return vectors, np.array([p.parent.name for p in paths])


def achieved_fmr(impostor: np.ndarray, thresholds: list[float]) -> list[float]:
    ordered = np.sort(impostor)
    return [float(1 - np.searchsorted(ordered, t, side="left") / len(ordered)) if np.isfinite(t) else np.nan
            for t in thresholds]


def cmd_calibrations(args: argparse.Namespace) -> None:
    """For each recognizer: its shipped calibration against one recomputed on ``--detector``'s
    alignment (all LFW images, all pairs, bench/calibrate_thresholds.py's rule), the FMR and
    FNMR the shipped thresholds give on that alignment, and, as the yardstick of what a
    calibration on LFW can resolve, the FMR that thresholds calibrated on a random half of the
    identities give on the other half (``--detector``'s alignment, ``--splits`` random halves)."""
    import json

    from facetrust.recognition import load_calibration
    from facetrust.recognition.calibration import calibrate_scores, calibration_filename, pair_scores

    store = Path(args.store)
    for recognizer in args.recognizers:
        shipped = load_calibration(recognizer)
        started = time.perf_counter()
        vectors, labels = all_vectors(store, args.detector, recognizer)
        _, ids = np.unique(labels, return_inverse=True)
        impostor, genuine = pair_scores(vectors, ids)
        record = {"recognizer": recognizer, "detector": args.detector,
                  "dataset": f"LFW-a, {len(vectors)} images (recognition_study.py calibrations)",
                  **calibrate_scores(impostor, genuine)}
        out = store / f"calibration_{args.detector}_{calibration_filename(recognizer)}"
        out.write_text(json.dumps(record, indent=1) + "\n")
        fmrs = [f for f in shipped.fmr if f in record["fmr"]]
        at_shipped = [shipped.threshold[shipped.fmr.index(f)] for f in fmrs]
        got = achieved_fmr(impostor, at_shipped)
        fnmr = [float(np.mean(genuine < t)) for t in at_shipped]
        # The yardstick: calibrate on half of the identities, apply to the other half (same alignment):
        # how far a threshold read off LFW moves with the people it was read on.
        people = np.unique(labels)
        spread: list[list[float]] = []
        for seed in range(args.splits):
            half = set(np.random.default_rng(seed).permutation(people)[: len(people) // 2])
            in_half = np.array([p in half for p in labels])
            halves = []
            for rows in (in_half, ~in_half):
                _, half_ids = np.unique(labels[rows], return_inverse=True)
                halves.append(pair_scores(vectors[rows], half_ids))
            fitted = calibrate_scores(*halves[0])
            thresholds = [fitted["threshold"][fitted["fmr"].index(f)] if f in fitted["fmr"] else np.nan for f in fmrs]
            spread.append(achieved_fmr(halves[1][0], thresholds))
        print(f"\n{recognizer}: {args.detector} alignment, {len(impostor):,} impostor / {len(genuine):,} genuine pairs "
              f"(impostor mean {record['impostor_mean']:.4f} std {record['impostor_std']:.4f}; shipped "
              f"{shipped.detector}: {shipped.impostor_mean:.4f} / {shipped.impostor_std:.4f}); "
              f"{time.perf_counter() - started:.0f} s")
        print(f"| FMR | shipped threshold ({shipped.detector}) | recomputed ({args.detector}) | FMR on {args.detector} "
              f"at the shipped threshold | FNMR there (shipped: on {shipped.detector}) | FMR across identity halves "
              f"({args.splits} splits, {args.detector}) |")
        print("|---|---|---|---|---|---|")
        for i, f in enumerate(fmrs):
            across = [s[i] for s in spread if np.isfinite(s[i])]
            span = f"{min(across):.2g} … {max(across):.2g}" if across else "–"
            print(f"| {f:g} | {at_shipped[i]:.4f} | {record['threshold'][record['fmr'].index(f)]:.4f} | {got[i]:.3g} | "
                  f"{fnmr[i]:.4f} ({shipped.fnmr[shipped.fmr.index(f)]:.4f}) | {span} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", default=str(STORE))
    sub = parser.add_subparsers(dest="command", required=True)
    features = sub.add_parser("features")
    features.add_argument("--images", choices=["pairs", "all"], default="pairs",
                          help="the 7,701 View-2 pair images, or all 13,233 LFW images")
    features.add_argument("--detector", default="yunet")
    features.add_argument("--recognizers", nargs="+", default=list(STUDIED))
    features.add_argument("--mirror", choices=["pairs", "default"], default="pairs",
                          help="mirrored crops of every pair image (the flip study), or only where the "
                               "recognizer's default flips (enough for `shipped`, `fill-cache`, `calibrations`)")
    analyse = sub.add_parser("analyse")
    analyse.add_argument("--rules", nargs="+", default=["sum", "znorm", "impostor-z", "logistic"])
    analyse.add_argument("--out")
    analyse.add_argument("--dlib", action="store_true",
                         help="add dlib-resnet (dlib-hog alignment, from the embedding cache) as a fusion member")
    analyse.add_argument("--max-members", type=int, default=3)
    identify = sub.add_parser("identify")
    identify.add_argument("--detectors", nargs="+", default=["yunet", "retinaface", "scrfd"])
    identify.add_argument("--recognizers", nargs="+", default=list(STUDIED))
    shipped = sub.add_parser("shipped", help="registered recognizers as the library scores them")
    shipped.add_argument("--detectors", nargs="+", default=["yunet", "retinaface"])
    shipped.add_argument("--recognizers", nargs="+", required=True)
    shipped.add_argument("--out")
    calibrations = sub.add_parser("calibrations", help="shipped thresholds against ones recomputed on another alignment")
    calibrations.add_argument("--detector", default="retinaface")
    calibrations.add_argument("--recognizers", nargs="+", required=True)
    calibrations.add_argument("--splits", type=int, default=3)
    fill = sub.add_parser("fill-cache")
    fill.add_argument("--detector", default="yunet")
    fill.add_argument("--recognizers", nargs="+", default=list(STUDIED))
    fill.add_argument("--check", type=int, default=40, help="images embedded by the library pipeline to compare")
    args = parser.parse_args()
    {"features": cmd_features, "analyse": cmd_analyse, "identify": cmd_identify,
     "fill-cache": cmd_fill_cache, "shipped": cmd_shipped, "calibrations": cmd_calibrations}[args.command](args)


if __name__ == "__main__":
    main()
