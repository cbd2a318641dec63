"""Throughput and accuracy of facetrust vs the ``face_recognition`` package, same dlib models, same run.

Both tools do the same job on the same fixed LFW-a image set: decode the file,
find every face with dlib's HOG detector, fit dlib's 5-point shape predictor,
cut dlib's 150x150 face chip and compute the 128-d ResNet descriptor of every
face. The image set is every image referenced by the pairs of the first
``--folds`` folds of ``lfw_pairs.txt`` (fold 1 = 600 pairs), so verification
accuracy is measured on whole pairs as well.

    pip install --no-deps face_recognition==1.3.0 && pip install Click   # the peer, without dlib sources
    python bench/bench_analyze.py                      # fold 1, facetrust with 2 workers and with 1
    python bench/bench_analyze.py --folds 2 --workers 2 --stage-images 200
    python bench/bench_analyze.py --images 60 --stage-images 20      # quick smoke run

Rows:

* ``face_recognition`` — per image ``load_image_file`` → ``face_locations(img)``
  (HOG, upsample 1) → ``face_encodings(img, known_face_locations=locs)``
  (5-point model, ``num_jitters=1``, which in dlib means no jitter); one
  process, as that package has no parallelism. Model loading (at import) is
  outside the timed region.
* ``facetrust`` — ``analyze_paths(paths, AnalyzerConfig(), embed=True,
  workers=W)`` for W = ``--workers`` and W = 1. The timed region includes
  building the analyzer (W = 1) or the worker pool and each worker's models
  (W > 1), so these rows are conservative.

Per-stage milliseconds (mean per image, over the first ``--stage-images``
images, one process) come from a separate pass that calls each stage alone:
facetrust through the analyzer's parts (load, ``detector.detect``,
``add_landmarks``, ``recognizer.align``, ``recognizer.embed_aligned``);
face_recognition through the exact calls ``face_encodings`` makes
(``_raw_face_landmarks`` then ``face_encoder.compute_face_descriptor`` per
face, which aligns and embeds in one call, so its align time is inside embed).

Accuracy uses the largest face of each image for both tools. "fixed" is each
tool's documented rule: face_recognition's ``tolerance=0.6`` on euclidean
distance; facetrust's calibrated cosine threshold at FMR 1e-3
(``FaceAnalyzer().threshold(1e-3)``, needs
``facetrust/recognition/calibration/dlib-resnet.json``). "best" is the
single threshold that maximises accuracy on these same pairs (optimistic, not
cross-validated). A pair where the tool found no face in either image counts
as an error for that tool.

The table goes to stdout and, as markdown, to ``bench/results/bench_analyze.md``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS  # noqa: E402

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer  # noqa: E402
from facetrust.detection.landmarks import add_landmarks  # noqa: E402
from facetrust.errors import FacetrustError  # noqa: E402
from facetrust.parallel import analyze_paths, progress_map  # noqa: E402

#: face_recognition's documented default tolerance (euclidean distance).
FR_TOLERANCE = 0.6
#: FMR at which facetrust's calibrated threshold is taken.
FACETRUST_FMR = 1e-3
STAGES = ("load", "detect", "landmarks", "align", "embed")


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool


@dataclass
class Run:
    """One timed pass over the image set: largest-face embedding per image (None = no face)."""

    tool: str
    workers: int
    seconds: float
    embeddings: list[np.ndarray | None]
    stages_ms: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def images(self) -> int:
        return len(self.embeddings)

    @property
    def rate(self) -> float:
        return self.images / self.seconds

    @property
    def no_face(self) -> int:
        return sum(e is None for e in self.embeddings)


@dataclass(frozen=True)
class Accuracy:
    pairs: int
    failed_pairs: int  # pairs with no face in at least one image
    fixed: float | None  # None: the tool has no fixed threshold here
    best: float
    best_threshold: float


# -- image set ------------------------------------------------------------------
def read_pairs(path: Path, folds: int) -> list[Pair]:
    """Pairs of the first ``folds`` folds of an LFW ``pairs.txt`` (header: folds, pairs per class)."""
    lines = path.read_text().split("\n")
    total_folds, per_class = (int(v) for v in lines[0].split())
    if not 1 <= folds <= total_folds:
        raise SystemExit(f"--folds must lie in 1..{total_folds}")

    def image(name: str, index: str) -> Path:
        return LFW_ROOT / name / f"{name}_{int(index):04d}.jpg"

    pairs: list[Pair] = []
    for row in lines[1 : 1 + folds * 2 * per_class]:
        cols = row.split()
        if len(cols) == 3:
            pairs.append(Pair(image(cols[0], cols[1]), image(cols[0], cols[2]), True))
        elif len(cols) == 4:
            pairs.append(Pair(image(cols[0], cols[1]), image(cols[2], cols[3]), False))
        else:
            raise SystemExit(f"{path}: malformed pair line {row!r}")
    return pairs


def unique_images(pairs: Iterable[Pair]) -> list[Path]:
    """Every image of the pairs once, in first-reference order (deterministic)."""
    return list(dict.fromkeys(p for pair in pairs for p in (pair.a, pair.b)))


# -- the peer -------------------------------------------------------------------
def import_face_recognition() -> ModuleType:
    """Import face_recognition, turning its known install problems into clear instructions."""
    try:
        import face_recognition_models  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "pkg_resources":
            raise SystemExit(
                "face_recognition_models imports pkg_resources, which setuptools>=82 no longer ships.\n"
                "Fix:  pip install 'setuptools<82'"
            ) from None
        raise SystemExit(
            "face_recognition is not installed. Install it without pulling dlib's sources:\n"
            "  pip install --no-deps face_recognition==1.3.0 face_recognition_models && pip install Click"
        ) from None
    try:
        import face_recognition
    except ModuleNotFoundError as exc:
        raise SystemExit(
            f"cannot import face_recognition ({exc}). Install it without pulling dlib's sources:\n"
            "  pip install --no-deps face_recognition==1.3.0 && pip install Click"
        ) from None
    return face_recognition


def largest(locations: Sequence[tuple[int, int, int, int]]) -> int:
    """Index of the largest (top, right, bottom, left) box."""
    areas = [(r - l) * (b - t) for t, r, b, l in locations]
    return int(np.argmax(areas))


def run_face_recognition(fr: ModuleType, paths: Sequence[Path]) -> Run:
    # One untimed call so first-use costs inside dlib don't land on image 1.
    warm = fr.load_image_file(paths[0])
    fr.face_encodings(warm, known_face_locations=fr.face_locations(warm))
    embeddings: list[np.ndarray | None] = []
    start = time.perf_counter()
    for path in paths:
        image = fr.load_image_file(path)
        locations = fr.face_locations(image)
        encodings = fr.face_encodings(image, known_face_locations=locations)
        embeddings.append(encodings[largest(locations)] if encodings else None)
    return Run("face_recognition 1.3.0", 1, time.perf_counter() - start, embeddings)


def stages_face_recognition(fr: ModuleType, paths: Sequence[Path]) -> dict[str, float]:
    """The calls ``face_encodings`` makes, timed one by one (align happens inside embed)."""
    api = fr.api
    totals = dict.fromkeys(STAGES, 0.0)
    for path in paths:
        t0 = time.perf_counter()
        image = fr.load_image_file(path)
        t1 = time.perf_counter()
        locations = fr.face_locations(image)
        t2 = time.perf_counter()
        shapes = api._raw_face_landmarks(image, locations, "small")
        t3 = time.perf_counter()
        [np.array(api.face_encoder.compute_face_descriptor(image, shape, 1)) for shape in shapes]
        t4 = time.perf_counter()
        for stage, seconds in zip(("load", "detect", "landmarks", "embed"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[stage] += seconds
    out = {stage: 1000.0 * totals[stage] / len(paths) for stage in STAGES}
    out["align"] = float("nan")  # inside compute_face_descriptor
    return out


# -- facetrust ------------------------------------------------------------------
def run_facetrust(paths: Sequence[Path], workers: int, progress: bool) -> Run:
    embeddings: list[np.ndarray | None] = []
    errors = 0
    start = time.perf_counter()
    results = analyze_paths(paths, AnalyzerConfig(), embed=True, workers=workers)
    for result in progress_map(results, len(paths), f"facetrust x{workers}", enabled=progress):
        errors += result.error is not None
        embeddings.append(result.faces[0].embedding if result.faces else None)
    run = Run("facetrust " + importlib.metadata.version("facetrust"), workers, time.perf_counter() - start, embeddings)
    if errors:
        run.notes.append(f"{errors} image(s) failed to load")
    return run


def stages_facetrust(paths: Sequence[Path]) -> tuple[dict[str, float], int]:
    """Each stage of ``FaceAnalyzer.analyze_rgb`` timed alone; also counts upsample fallbacks."""
    analyzer = FaceAnalyzer(AnalyzerConfig())
    detector, recognizer = analyzer.detector, analyzer.recognizer
    warm = analyzer.load(paths[0])
    analyzer.analyze_rgb(warm)
    totals = dict.fromkeys(STAGES, 0.0)
    fallbacks = 0
    for path in paths:
        t0 = time.perf_counter()
        image = analyzer.load(path)
        t1 = time.perf_counter()
        detections = detector.detect(image)
        t2 = time.perf_counter()
        detections = [add_landmarks(image, d) for d in detections]
        t3 = time.perf_counter()
        crops = [recognizer.align(image, d) for d in detections]
        t4 = time.perf_counter()
        if crops:
            recognizer.embed_aligned(crops)
        t5 = time.perf_counter()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            totals[stage] += seconds
        # Untimed: did the adaptive detector need its upsample=1 second pass?
        fallbacks += not detector._run(image, 0)
    return {stage: 1000.0 * totals[stage] / len(paths) for stage in STAGES}, fallbacks


# -- accuracy -------------------------------------------------------------------
def accuracy(
    run: Run,
    index: dict[Path, int],
    pairs: Sequence[Pair],
    score: Callable[[np.ndarray, np.ndarray], float],
    fixed_threshold: float | None,
    higher_is_same: bool,
) -> Accuracy:
    """Accuracy at the tool's fixed threshold and at the best threshold for these pairs."""
    scores, labels = [], []
    for pair in pairs:
        a, b = run.embeddings[index[pair.a]], run.embeddings[index[pair.b]]
        if a is not None and b is not None:
            scores.append(score(a, b))
            labels.append(pair.same)
    s = np.array(scores) if higher_is_same else -np.array(scores)
    y = np.array(labels, dtype=bool)
    fixed: float | None = None
    if fixed_threshold is not None:
        fixed_t = fixed_threshold if higher_is_same else -fixed_threshold
        fixed = int(np.sum((s >= fixed_t) == y)) / len(pairs)
    # Best threshold: try every midpoint between sorted scores (and both ends).
    candidates = np.unique(s)
    cuts = np.concatenate([[-np.inf], (candidates[:-1] + candidates[1:]) / 2, [np.inf]]) if len(s) else np.array([0.0])
    correct = np.array([np.sum((s >= c) == y) for c in cuts])
    best = int(np.argmax(correct))
    best_t = float(cuts[best]) if higher_is_same else -float(cuts[best])
    return Accuracy(len(pairs), len(pairs) - len(s), fixed, int(correct[best]) / len(pairs), best_t)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))


# -- report ---------------------------------------------------------------------
def fmt_ms(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:.1f}"


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def table(runs: Sequence[Run], accuracies: Sequence[Accuracy], baseline: Run) -> str:
    header = (
        "| tool | workers | images | seconds | images/s | vs face_recognition "
        "| load ms | detect ms | landmarks ms | align ms | embed ms | stages total ms "
        "| no face | pairs (no face) | acc. fixed thr. | acc. best thr. |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for run, acc in zip(runs, accuracies):
        st = run.stages_ms
        stage_cells = [fmt_ms(st[s]) if st else "—" for s in STAGES]
        total = fmt_ms(sum(v for v in st.values() if not np.isnan(v))) if st else "—"
        lines.append(
            f"| {run.tool} | {run.workers} | {run.images} | {run.seconds:.1f} | {run.rate:.1f} "
            f"| {run.rate / baseline.rate:.2f}x | " + " | ".join(stage_cells) + f" | {total} "
            f"| {run.no_face} | {acc.pairs} ({acc.failed_pairs}) | {fmt_pct(acc.fixed)} | {fmt_pct(acc.best)} |"
        )
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=1, help="use the pairs of the first K folds (default 1)")
    parser.add_argument(
        "--images",
        type=int,
        default=None,
        help="keep only the first N images (quick runs; accuracy then uses the pairs they cover)",
    )
    parser.add_argument("--workers", type=int, default=2, help="facetrust worker processes (default 2)")
    parser.add_argument("--stage-images", type=int, default=100, help="images in the per-stage pass (default 100)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar for the facetrust runs")
    args = parser.parse_args()

    fr = import_face_recognition()
    pairs = read_pairs(LFW_PAIRS, args.folds)
    paths = unique_images(pairs)
    if args.images is not None:
        paths = paths[: args.images]
        kept = set(paths)
        pairs = [p for p in pairs if p.a in kept and p.b in kept]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise SystemExit(f"{len(missing)} image(s) of the pairs are missing, e.g. {missing[0]}")
    for path in paths:  # warm the page cache so no tool pays for cold disk reads
        path.read_bytes()
    index = {p: i for i, p in enumerate(paths)}
    stage_paths = paths[: args.stage_images]
    try:
        threshold: float | None = FaceAnalyzer().threshold(FACETRUST_FMR)
    except FacetrustError:
        threshold = None

    versions = {
        "facetrust": importlib.metadata.version("facetrust"),
        "face_recognition": importlib.metadata.version("face_recognition"),
        "dlib": importlib.metadata.version("dlib-bin"),
    }
    print(
        f"{len(paths)} images / {len(pairs)} pairs (LFW folds 1..{args.folds}); "
        f"{os.cpu_count()} CPUs ({cpu_model()}); " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        file=sys.stderr,
    )

    print("face_recognition ...", file=sys.stderr)
    baseline = run_face_recognition(fr, paths)
    baseline.stages_ms = stages_face_recognition(fr, stage_paths)
    runs = [baseline]
    for workers in dict.fromkeys([args.workers, 1]):
        print(f"facetrust, {workers} worker(s) ...", file=sys.stderr)
        runs.append(run_facetrust(paths, workers, args.progress))
    ft_stages, fallbacks = stages_facetrust(stage_paths)
    single = next(r for r in runs[1:] if r.workers == 1)
    single.stages_ms = ft_stages

    accuracies = [accuracy(baseline, index, pairs, euclidean, FR_TOLERANCE, higher_is_same=False)]
    for run in runs[1:]:
        accuracies.append(accuracy(run, index, pairs, cosine, threshold, higher_is_same=True))

    # Do both tools embed the same face the same way? cos of the two (L2-normalised) embeddings per image.
    agreement = [
        float(np.dot(a / np.linalg.norm(a), b))
        for a, b in zip(baseline.embeddings, runs[1].embeddings)
        if a is not None and b is not None
    ]
    fixed_rule = (
        f"{threshold:.4f} (calibrated, FMR {FACETRUST_FMR:g})" if threshold is not None else "n/a (no calibration file)"
    )
    notes = [
        (
            f"Image set: {len(paths)} unique LFW-a images of the {len(pairs)} pairs of lfw_pairs.txt folds "
            f"1..{args.folds}; {os.cpu_count()} CPUs ({cpu_model()}); "
            + ", ".join(f"{k} {v}" for k, v in versions.items())
            + "."
        ),
        (
            f"Per-stage ms: mean per image over the first {len(stage_paths)} images, one process; "
            "face_recognition's align runs inside compute_face_descriptor (counted in embed). "
            f"facetrust's HOG needed its upsample=1 fallback on {fallbacks} of {len(stage_paths)} images."
        ),
        (
            f"acc. fixed thr.: face_recognition distance <= {FR_TOLERANCE}; facetrust cosine >= {fixed_rule}. "
            "acc. best thr.: the best single threshold on these same pairs "
            f"(face_recognition {accuracies[0].best_threshold:.4f}, facetrust {accuracies[1].best_threshold:.4f}); "
            "optimistic, not cross-validated. Pairs with no face in an image count as errors."
        ),
        (
            "Same face, same models: where both found a face, the two tools' largest-face embeddings have "
            f"median cosine {np.median(agreement):.4f} (min {np.min(agreement):.4f}, "
            f"{np.mean(np.array(agreement) > 0.99):.1%} above 0.99) over {len(agreement)} images."
        ),
        (
            "facetrust seconds include building the analyzer / worker pool and loading models; "
            "face_recognition's models load at import, outside its timing."
        ),
    ]
    for run in runs:
        notes.extend(f"{run.tool} x{run.workers}: {n}" for n in run.notes)

    text = table(runs, accuracies, baseline)
    print(text)
    print()
    for note in notes:
        print(f"- {note}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_analyze.md"
    out.write_text(
        "# bench_analyze\n\n`python bench/bench_analyze.py "
        + " ".join(sys.argv[1:])
        + "`\n\n"
        + text
        + "\n\n"
        + "\n".join(f"- {n}" for n in notes)
        + "\n"
    )
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
