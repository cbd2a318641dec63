"""Throughput and accuracy of facetrust's pipelines vs the ``face_recognition`` package, same run.

Every row does the same job on the same fixed LFW-a image set: decode the file,
find every face, fit 5 landmarks, cut the aligned crop and compute the
embedding of every face. The image set is every image referenced by the pairs
of the first ``--folds`` folds of ``lfw_pairs.txt`` (fold 1 = 600 pairs, 807
images), so verification accuracy is measured on whole pairs as well.

    pip install --no-deps face_recognition==1.3.0 && pip install Click   # the peer, without dlib sources
    pip install 'setuptools<82'    # face_recognition_models still imports pkg_resources
    python bench/bench_analyze.py                      # the published table (docs/benchmarks.md)
    python bench/bench_analyze.py --pipelines fast=yunet+edgeface-xxs --workers 2
    python bench/bench_analyze.py --images 60 --stage-images 20 --no-models     # quick smoke run

Rows:

* ``face_recognition`` — per image ``load_image_file`` → ``face_locations(img)``
  (HOG, upsample 1) → ``face_encodings(img, known_face_locations=locs)``
  (5-point model, ``num_jitters=1``, which in dlib means no jitter); one
  process, as that package has no parallelism. Model loading (at import) is
  outside the timed region.
* one row per facetrust pipeline (``--pipelines``: ``NAME=DETECTOR+RECOGNIZER``,
  default ``dlib`` = dlib-hog + dlib-resnet, the face_recognition models;
  ``balanced`` = yunet-retinaface + edgeface-xs; ``fast`` = yunet + edgeface-xxs) and
  worker count W in (``--workers``, 1): ``analyze_paths(paths, config,
  embed=True, workers=W)``. The timed region includes building the analyzer
  and loading its models, and for W > 1 starting the worker pool and each
  worker's models, so these rows are conservative.

Per-stage milliseconds (CPU time per image, mean over the first
``--stage-images`` images, one process, one thread per ONNX session: the cost
on one core of a worker, and little moved by other jobs on the machine) come
from a separate pass that runs each stage alone on chunks of
images as ``analyze_paths`` does: decode each image, detect, fill landmarks
(box-only detectors), align, then embed the chunk's crops in one batch.
face_recognition is timed through the exact calls ``face_encodings`` makes
(``_raw_face_landmarks`` then ``face_encoder.compute_face_descriptor`` per
face, which aligns and embeds in one call, so its align time is inside embed).

Accuracy uses the largest face of each image. "fixed" is each tool's documented
rule: face_recognition's ``tolerance=0.6`` on euclidean distance; facetrust's
calibrated cosine threshold of the recognizer at FMR 1e-3 (``FaceAnalyzer(config).threshold(1e-3)``).
"best" is the single threshold that maximises accuracy on these same pairs
(optimistic, not cross-validated). A pair where the tool found no face in
either image counts as an error for that tool.

The model table (``--no-models`` skips it) gives each ONNX model's FLOPs per
call (``bench/onnx_flops.py``), its CPU time on one thread (best of several runs,
batch 1 and batch 16) and the GFLOP/s achieved, next to this CPU's measured
single-thread float32 matrix-multiply rate (numpy/OpenBLAS sgemm 2048x2048),
the practical compute-bound ceiling.

Timing on a shared machine is only as good as the machine is idle: each row
records the 1-minute load average at its start and end. The table goes to
stdout and, as markdown, to ``bench/results/bench_analyze.md``.
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
from onnx_flops import count_flops  # noqa: E402

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer  # noqa: E402
from facetrust.detection.landmarks import add_landmarks  # noqa: E402
from facetrust.errors import FacetrustError  # noqa: E402
from facetrust.recognition import RECOGNIZERS  # noqa: E402
from facetrust.recognition.onnx_recognizer import OnnxArcFaceRecognizer  # noqa: E402
from facetrust.parallel import CHUNK_IMAGES, analyze_paths, progress_map  # noqa: E402
from facetrust.runtime import THREADS_ENV, onnx_session  # noqa: E402
from facetrust.zoo import model_file  # noqa: E402

#: face_recognition's documented default tolerance (euclidean distance).
FR_TOLERANCE = 0.6
#: FMR at which facetrust's calibrated thresholds are taken.
FACETRUST_FMR = 1e-3
STAGES = ("decode", "detect", "landmarks", "align", "embed")
#: The default rows: the face_recognition-compatible pipeline and the two fast ones
#: (the presets "dlib", "balanced" and "fast" of issue 15).
DEFAULT_PIPELINES = ("dlib=dlib-hog+dlib-resnet", "balanced=yunet-retinaface+edgeface-xs", "fast=yunet+edgeface-xxs")


@dataclass(frozen=True)
class Pipeline:
    name: str
    detector: str
    recognizer: str

    @property
    def config(self) -> AnalyzerConfig:
        return AnalyzerConfig(detector=self.detector, recognizer=self.recognizer)

    @property
    def label(self) -> str:
        return f"facetrust {self.name} ({self.detector} + {self.recognizer})"


def parse_pipeline(spec: str) -> Pipeline:
    """``NAME=DETECTOR+RECOGNIZER`` or ``DETECTOR+RECOGNIZER`` (named after itself)."""
    name, _, components = spec.rpartition("=")
    detector, plus, recognizer = components.partition("+")
    if not plus or not detector or not recognizer:
        raise SystemExit(f"--pipelines: {spec!r} is not NAME=DETECTOR+RECOGNIZER")
    return Pipeline(name or components, detector, recognizer)


@dataclass(frozen=True)
class Pair:
    a: Path
    b: Path
    same: bool


def cpu_clock() -> float:
    """Seconds of CPU this process has used: per-stage and per-model costs are read on it, as the
    single-threaded work of one worker; unlike wall time it barely moves when other jobs share
    the cores (throughput rows stay on wall time)."""
    return time.process_time()


def tree_cpu_seconds() -> float:
    """CPU seconds used so far by this process and its live descendants (forkserver, pool workers)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def load_average() -> float:
    return os.getloadavg()[0]


@dataclass
class Run:
    """One timed pass over the image set: largest-face embedding per image (None = no face)."""

    tool: str
    workers: int
    seconds: float
    embeddings: list[np.ndarray | None]
    load: tuple[float, float]  # 1-minute load average at start and end
    cpu_seconds: float  # CPU of every process of the run (main, forkserver, workers)
    cores_usable: int  # cores the tool can keep busy: 1 for face_recognition
    stages_ms: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def images(self) -> int:
        return len(self.embeddings)

    @property
    def rate(self) -> float:
        return self.images / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000.0 * self.cpu_seconds / self.images

    @property
    def cpu_bound_rate(self) -> float:
        """Images/s if the usable cores did nothing else: what an idle machine allows."""
        return 1000.0 * self.cores_usable / self.cpu_ms

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
    load = load_average()
    cpu = time.process_time()
    start = time.perf_counter()
    for path in paths:
        image = fr.load_image_file(path)
        locations = fr.face_locations(image)
        encodings = fr.face_encodings(image, known_face_locations=locations)
        embeddings.append(encodings[largest(locations)] if encodings else None)
    return Run("face_recognition 1.3.0", 1, time.perf_counter() - start, embeddings, (load, load_average()),
               time.process_time() - cpu, 1)


def stages_face_recognition(fr: ModuleType, paths: Sequence[Path]) -> dict[str, float]:
    """The calls ``face_encodings`` makes, timed one by one (align happens inside embed)."""
    api = fr.api
    totals = dict.fromkeys(STAGES, 0.0)
    for path in paths:
        t0 = cpu_clock()
        image = fr.load_image_file(path)
        t1 = cpu_clock()
        locations = fr.face_locations(image)
        t2 = cpu_clock()
        shapes = api._raw_face_landmarks(image, locations, "small")
        t3 = cpu_clock()
        [np.array(api.face_encoder.compute_face_descriptor(image, shape, 1)) for shape in shapes]
        t4 = cpu_clock()
        for stage, seconds in zip(("decode", "detect", "landmarks", "embed"), (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[stage] += seconds
    out = {stage: 1000.0 * totals[stage] / len(paths) for stage in STAGES}
    out["align"] = float("nan")  # inside compute_face_descriptor
    return out



# -- facetrust ------------------------------------------------------------------
def run_facetrust(pipeline: Pipeline, paths: Sequence[Path], workers: int, progress: bool) -> Run:
    embeddings: list[np.ndarray | None] = []
    errors = 0
    load = load_average()
    cpu = tree_cpu_seconds()
    start = time.perf_counter()
    results = analyze_paths(paths, pipeline.config, embed=True, workers=workers)
    for result in progress_map(results, len(paths), f"{pipeline.name} x{workers}", enabled=progress):
        errors += result.error is not None
        embeddings.append(result.faces[0].embedding if result.faces else None)
        if len(embeddings) == len(paths):  # the workers still live: their CPU is readable
            cpu = tree_cpu_seconds() - cpu
    run = Run(pipeline.label, workers, time.perf_counter() - start, embeddings, (load, load_average()), cpu,
              os.cpu_count() or 1)
    if errors:
        run.notes.append(f"{errors} image(s) failed to load")
    return run


def one_thread_analyzer(pipeline: Pipeline) -> FaceAnalyzer:
    """An analyzer whose ONNX sessions use one thread, as in each worker of a 2-worker pool on 2 cores."""
    previous = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = "1"
    try:
        analyzer = FaceAnalyzer(pipeline.config)
        analyzer.load_models()
    finally:
        if previous is None:
            del os.environ[THREADS_ENV]
        else:
            os.environ[THREADS_ENV] = previous
    return analyzer


def stages_facetrust(pipeline: Pipeline, paths: Sequence[Path]) -> tuple[dict[str, float], int | None]:
    """Each stage of ``analyze_paths`` timed alone, chunk by chunk (the chunk's crops embedded in one
    batch); also counts, for dlib-hog, the images that needed its upsample=1 second pass."""
    analyzer = one_thread_analyzer(pipeline)
    detector, recognizer = analyzer.detector, analyzer.recognizer
    analyzer.analyze_batch([analyzer.load(p) for p in paths[:2]])  # first-call costs off the clock
    totals = dict.fromkeys(STAGES, 0.0)
    fallbacks = 0
    for first in range(0, len(paths), CHUNK_IMAGES):
        chunk = paths[first : first + CHUNK_IMAGES]
        t0 = cpu_clock()
        images = [analyzer.load(path) for path in chunk]
        t1 = cpu_clock()
        detections = [detector.detect(image) for image in images]
        t2 = cpu_clock()
        if not detector.provides_landmarks:
            detections = [[add_landmarks(image, d) for d in found] for image, found in zip(images, detections)]
        t3 = cpu_clock()
        crops = [recognizer.align(image, d) for image, found in zip(images, detections) for d in found]
        t4 = cpu_clock()
        if crops:
            recognizer.embed_aligned(crops)
        t5 = cpu_clock()
        for stage, seconds in zip(STAGES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            totals[stage] += seconds
        if pipeline.detector == "dlib-hog":  # untimed: did the adaptive HOG need its upsampled pass?
            fallbacks += sum(not detector._run(image, 0) for image in images)
    stages = {stage: 1000.0 * totals[stage] / len(paths) for stage in STAGES}
    if detector.provides_landmarks:
        stages["landmarks"] = float("nan")  # the detector's own output, inside detect
    return stages, fallbacks if pipeline.detector == "dlib-hog" else None


def decode_costs(paths: Sequence[Path]) -> dict[str, float]:
    """Mean ms per image: facetrust's decoder (Pillow, EXIF, mode checks) against bare OpenCV."""
    import cv2

    from facetrust.io.image import load_image

    data = [p.read_bytes() for p in paths]
    ways: dict[str, Callable[[int], object]] = {
        "facetrust (Pillow)": lambda i: load_image(paths[i]),
        "cv2.imdecode": lambda i: cv2.imdecode(np.frombuffer(data[i], np.uint8), cv2.IMREAD_COLOR),
        "cv2.imdecode REDUCED_2": lambda i: cv2.imdecode(np.frombuffer(data[i], np.uint8), cv2.IMREAD_REDUCED_COLOR_2),
    }
    out = {}
    for name, decode in ways.items():
        start = cpu_clock()
        for i in range(len(paths)):
            decode(i)
        out[name] = 1000.0 * (cpu_clock() - start) / len(paths)
    return out


# -- what each model costs --------------------------------------------------------
@dataclass(frozen=True)
class ModelCost:
    model: str
    input: str
    gflops: float  # Conv + MatMul + Gemm, per item
    other_m: float  # million elements written by the other operators, per item
    ms_b1: float
    ms_b16: float  # per item


def sgemm_gflops(threads: int = 1, n: int = 2048) -> float:
    """Best of 5 float32 matrix products on ``threads`` threads (CPU time, so per thread when
    ``threads`` is 1): the practical compute ceiling."""
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    with threadpool_limits(threads):
        a @ a
        best = min(_timed(lambda: a @ a) for _ in range(5))
    return 2 * n**3 / best / 1e9


def _timed(function: Callable[[], object]) -> float:
    start = cpu_clock()
    function()
    return cpu_clock() - start


def model_costs(zoo_names: Sequence[tuple[str, tuple[int, int, int]]]) -> list[ModelCost]:
    """FLOPs and best-of-7 time per item on one thread, batch 1 and batch 16."""
    previous = os.environ.get(THREADS_ENV)
    os.environ[THREADS_ENV] = "1"
    try:
        costs = []
        for name, chw in zoo_names:
            path = model_file(name)
            count = count_flops(path, (1, *chw))
            session = onnx_session(path)
            feed_name = session.get_inputs()[0].name
            times = {}
            for batch in (1, 16):
                x = np.random.default_rng(0).uniform(-1, 1, (batch, *chw)).astype(np.float32)
                session.run(None, {feed_name: x})
                reps = 20 if batch == 1 else 2
                times[batch] = min(_timed(lambda: [session.run(None, {feed_name: x}) for _ in range(reps)])
                                   for _ in range(7)) / reps / batch
            costs.append(ModelCost(name, "x".join(map(str, chw)), count.matmul_flops / 1e9, count.other_elements / 1e6,
                                   1000 * times[1], 1000 * times[16]))
        return costs
    finally:
        if previous is None:
            del os.environ[THREADS_ENV]
        else:
            os.environ[THREADS_ENV] = previous


def model_table(costs: Sequence[ModelCost], peak: float) -> str:
    lines = [
        "| model | input | GFLOPs / item | other ops (M elements) | ms, batch 1 | ms / item, batch 16 "
        "| GFLOP/s achieved (faster batch) | % of sgemm peak | compute-bound floor ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in costs:
        achieved = c.gflops / (min(c.ms_b1, c.ms_b16) / 1000)
        lines.append(
            f"| {c.model} | {c.input} | {c.gflops:.3f} | {c.other_m:.1f} | {c.ms_b1:.2f} | {c.ms_b16:.2f} "
            f"| {achieved:.1f} | {100 * achieved / peak:.0f}% | {1000 * c.gflops / peak:.2f} |"
        )
    return "\n".join(lines)


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
        "| CPU ms / image | CPU-bound images/s | vs face_recognition "
        "| decode ms | detect ms | landmarks ms | align ms | embed ms | stages total ms "
        "| no face | pairs (no face) | acc. fixed thr. | acc. best thr. | load start→end |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for run, acc in zip(runs, accuracies):
        st = run.stages_ms
        stage_cells = [fmt_ms(st[s]) if st else "—" for s in STAGES]
        total = fmt_ms(sum(v for v in st.values() if not np.isnan(v))) if st else "—"
        lines.append(
            f"| {run.tool} | {run.workers} | {run.images} | {run.seconds:.1f} | {run.rate:.1f} "
            f"| {run.rate / baseline.rate:.2f}x | {run.cpu_ms:.1f} | {run.cpu_bound_rate:.0f} "
            f"| {run.cpu_bound_rate / baseline.cpu_bound_rate:.1f}x | " + " | ".join(stage_cells) + f" | {total} "
            f"| {run.no_face} | {acc.pairs} ({acc.failed_pairs}) | {fmt_pct(acc.fixed)} | {fmt_pct(acc.best)} "
            f"| {run.load[0]:.2f}→{run.load[1]:.2f} |"
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


def onnx_models(pipelines: Sequence[Pipeline], image_shape: tuple[int, ...]) -> list[tuple[str, tuple[int, int, int]]]:
    """The ONNX models of the pipelines with their input as ``analyze`` feeds it for these images
    (YuNet: the image padded to multiples of 32; recognizers: 112x112 crops). dlib is not ONNX."""
    pad = tuple(-(-side // 32) * 32 for side in image_shape[:2])
    out: list[tuple[str, tuple[int, int, int]]] = []
    for pipeline in pipelines:
        if pipeline.detector == "yunet":
            out.append(("yunet", (3, *pad)))
        recognizer = RECOGNIZERS.get_class(pipeline.recognizer)
        if issubclass(recognizer, OnnxArcFaceRecognizer):
            out.append((recognizer.name, (3, recognizer.size, recognizer.size)))
    return list(dict.fromkeys(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=1, help="use the pairs of the first K folds (default 1)")
    parser.add_argument(
        "--images",
        type=int,
        default=None,
        help="keep only the first N images (quick runs; accuracy then uses the pairs they cover)",
    )
    parser.add_argument(
        "--pipelines",
        nargs="+",
        default=list(DEFAULT_PIPELINES),
        metavar="NAME=DETECTOR+RECOGNIZER",
        help="facetrust pipelines to run (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=2, help="facetrust worker processes (default 2; 1 is run too)")
    parser.add_argument("--stage-images", type=int, default=96, help="images in the per-stage pass (default 96)")
    parser.add_argument("--no-models", action="store_true", help="skip the FLOPs / compute-bound table")
    parser.add_argument("--progress", action="store_true", help="show a progress bar for the facetrust runs")
    args = parser.parse_args()
    pipelines = [parse_pipeline(spec) for spec in args.pipelines]
    for pipeline in pipelines:
        FaceAnalyzer(pipeline.config)  # unknown names fail here, before minutes of work

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

    versions = {
        "facetrust": importlib.metadata.version("facetrust"),
        "face_recognition": importlib.metadata.version("face_recognition"),
        "dlib": importlib.metadata.version("dlib-bin"),
        "onnxruntime": importlib.metadata.version("onnxruntime"),
    }
    print(
        f"{len(paths)} images / {len(pairs)} pairs (LFW folds 1..{args.folds}); "
        f"{os.cpu_count()} CPUs ({cpu_model()}); " + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f"; load {load_average():.2f}",
        file=sys.stderr,
    )

    print("face_recognition ...", file=sys.stderr)
    baseline = run_face_recognition(fr, paths)
    baseline.stages_ms = stages_face_recognition(fr, stage_paths)
    runs = [baseline]
    accuracies = [accuracy(baseline, index, pairs, euclidean, FR_TOLERANCE, higher_is_same=False)]
    notes_per_pipeline = []
    for pipeline in pipelines:
        try:
            threshold: float | None = FaceAnalyzer(pipeline.config).threshold(FACETRUST_FMR)
        except FacetrustError:
            threshold = None
        pipeline_runs = []
        for workers in dict.fromkeys([args.workers, 1]):
            print(f"{pipeline.label}, {workers} worker(s) ...", file=sys.stderr)
            pipeline_runs.append(run_facetrust(pipeline, paths, workers, args.progress))
        stages, fallbacks = stages_facetrust(pipeline, stage_paths)
        next(r for r in pipeline_runs if r.workers == 1).stages_ms = stages
        for run in pipeline_runs:
            runs.append(run)
            accuracies.append(accuracy(run, index, pairs, cosine, threshold, higher_is_same=True))
        rule = f"cosine >= {threshold:.4f} (calibrated, FMR {FACETRUST_FMR:g})" if threshold is not None else "n/a"
        text = f"{pipeline.name}: fixed threshold {rule}; best threshold {accuracies[-1].best_threshold:.4f}"
        cores = os.cpu_count() or 1
        total = sum(v for v in stages.values() if not np.isnan(v))
        text += f"; stage CPU {total:.1f} ms/image, i.e. at most {1000 * cores / total:.0f} images/s on {cores} cores"
        if fallbacks is not None:
            text += f"; dlib-hog needed its upsample=1 pass on {fallbacks} of {len(stage_paths)} images"
        notes_per_pipeline.append(text)
        if pipeline.recognizer == "dlib-resnet":
            # Same models as face_recognition: cos of the two (L2-normalised) embeddings per image.
            agreement = [
                float(np.dot(a / np.linalg.norm(a), b))
                for a, b in zip(baseline.embeddings, pipeline_runs[0].embeddings)
                if a is not None and b is not None
            ]
            notes_per_pipeline.append(
                f"{pipeline.name} vs face_recognition (same dlib models): largest-face embeddings have median "
                f"cosine {np.median(agreement):.4f} (min {np.min(agreement):.4f}, "
                f"{np.mean(np.array(agreement) > 0.99):.1%} above 0.99) over {len(agreement)} images."
            )

    decode = decode_costs(stage_paths)
    notes = [
        (
            f"Image set: {len(paths)} unique LFW-a images of the {len(pairs)} pairs of lfw_pairs.txt folds "
            f"1..{args.folds}; {os.cpu_count()} CPUs ({cpu_model()}); "
            + ", ".join(f"{k} {v}" for k, v in versions.items())
            + "."
        ),
        (
            f"Per-stage ms: CPU ms per image (mean over the first {len(stage_paths)} images), one process, one thread per "
            f"ONNX session, chunks of {CHUNK_IMAGES} images as analyze_paths runs them (embed = one batch per chunk); "
            "face_recognition's align runs inside compute_face_descriptor (counted in embed); YuNet's landmarks "
            "come with its detections (inside detect)."
        ),
        (
            "Decode, CPU ms per image over the same images: "
            + ", ".join(f"{name} {ms:.2f}" for name, ms in decode.items())
            + " (REDUCED_2 decodes at half size: not the same pixels)."
        ),
        (
            f"acc. fixed thr.: face_recognition distance <= {FR_TOLERANCE}; facetrust: each recognizer's "
            "calibrated threshold. acc. best thr.: the best single threshold on these same pairs "
            f"(face_recognition {accuracies[0].best_threshold:.4f}); optimistic, not cross-validated. "
            "Pairs with no face in an image count as errors."
        ),
        *notes_per_pipeline,
        (
            "facetrust seconds include building the analyzer / worker pool and loading models; "
            "face_recognition's models load at import, outside its timing. load = 1-minute load average."
        ),
        (
            "CPU ms / image: CPU time of every process of the row (main, forkserver, workers; pool start-up, "
            f"model loading and result transfer included) per image; CPU-bound images/s = usable cores / that "
            f"(face_recognition 1 core, facetrust {os.cpu_count()}): the wall rate an idle machine allows, "
            "which other jobs on the machine barely change."
        ),
    ]
    for run in runs:
        notes.extend(f"{run.tool} x{run.workers}: {n}" for n in run.notes)

    text = table(runs, accuracies, baseline)
    sections = [text, "\n".join(f"- {n}" for n in notes)]
    if not args.no_models:
        print("model costs ...", file=sys.stderr)
        load = load_average()
        peak = sgemm_gflops(1)
        costs = model_costs(onnx_models(pipelines, (250, 250)))
        sections.append(
            model_table(costs, peak)
            + f"\n\n- One thread, CPU time; best of 7 runs. Peak: numpy/OpenBLAS float32 2048x2048 matmul on one thread, "
            f"{peak:.1f} GFLOP/s (best of 5). GFLOPs count Conv/MatMul/Gemm at 2 per multiply-add "
            "(bench/onnx_flops.py); compute-bound floor = GFLOPs / peak. "
            f"Load {load:.2f}→{load_average():.2f}."
        )
    print("\n\n".join(sections))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_analyze.md"
    out.write_text(
        "# bench_analyze\n\n`python bench/bench_analyze.py " + " ".join(sys.argv[1:]) + "`\n\n"
        + "\n\n".join(sections) + "\n"
    )
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
