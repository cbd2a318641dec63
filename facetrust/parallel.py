"""Running the analyzer over many files in worker processes.

dlib runs single-threaded, so throughput on N cores comes from N processes,
each holding its own copy of the models (built once per worker from the
picklable :class:`AnalyzerConfig`), each ONNX session with cores/N threads.
Images go to a worker in chunks whose faces are embedded in one batch.
Results come back in input order.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.errors import FacetrustError
from facetrust.runtime import THREADS_ENV
from facetrust.types import Face

#: Images per task of :func:`analyze_paths`: their faces are embedded in one batch, and a pool
#: task costs one round trip (EdgeFace-XXS: 2.0 ms per face in a batch of 16, 2.8 alone; docs/benchmarks.md).
CHUNK_IMAGES = 16
#: Decoded pixels a chunk holds at once before its batch is analysed (bounds memory on big photos).
CHUNK_PIXELS = 16_000_000

@dataclass
class ImageResult:
    path: Path
    faces: list[Face] = field(default_factory=list)
    width: int = 0
    height: int = 0
    error: str | None = None
    #: Class name of the error (e.g. ``ImageDecodeError``), for tables that keep one column per field.
    error_type: str | None = None

    def to_dict(self, include_embedding: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"path": str(self.path)}
        if self.error is not None:
            out["error"] = self.error
            return out
        out["width"], out["height"] = self.width, self.height
        out["faces"] = [f.to_dict(include_embedding) for f in self.faces]
        return out

_worker: FaceAnalyzer | None = None

def _init_worker(config: AnalyzerConfig, threads: int) -> None:
    global _worker
    # Per worker, not in the parent: a later in-process analyzer keeps all cores.
    os.environ[THREADS_ENV] = str(threads)
    _worker = FaceAnalyzer(config)


def worker_threads(workers: int) -> int:
    """ONNX threads per worker process: ``FACETRUST_THREADS`` if set, else the cores shared out
    (2 cores: 1 thread in each of 2 workers, 2 threads for 1 process), so workers never
    oversubscribe the cores."""
    fixed = os.environ.get(THREADS_ENV)
    return int(fixed) if fixed else max(1, (os.cpu_count() or 1) // max(1, workers))

def _call(task: tuple[Callable[..., Any], tuple]) -> Any:
    function, args = task
    assert _worker is not None
    return function(_worker, *args)

def map_with_analyzer(
    function: Callable[..., Any],
    tasks: Iterable[tuple],
    config: AnalyzerConfig,
    workers: int = 1,
    analyzer: FaceAnalyzer | None = None,
    chunksize: int = 1,
) -> Iterator[Any]:
    """Yield ``function(analyzer, *task)`` for each task, in order, using ``workers`` processes.

    ``function`` must be a module-level function (it is sent to the workers by name); each
    worker builds its own analyzer from ``config`` once. Interrupting the consumer cancels
    the pending work.
    """
    if workers <= 1:
        local = analyzer or FaceAnalyzer(config)
        for task in tasks:
            yield function(local, *task)
        return
    # forkserver: workers start from a clean interpreter (no inherited onnxruntime
    # or dlib thread state).
    context = multiprocessing.get_context("forkserver")
    # Imported once in the server, not in every worker (~0.25 s of CPU each).
    context.set_forkserver_preload(["facetrust.parallel"])
    initargs = (config, worker_threads(workers))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=initargs) as pool:
        try:
            yield from pool.map(_call, ((function, task) for task in tasks), chunksize=chunksize)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise

def process_chunk(analyzer: FaceAnalyzer, paths: list[Path], embed: bool, keep_aligned: bool = False,
                  load: Callable[[Any], np.ndarray] | None = None) -> list[ImageResult]:
    """Analyze each file, the faces of up to :data:`CHUNK_PIXELS` decoded pixels embedded in one
    batch; a bad file becomes an ``error`` result instead of stopping the run. ``load`` reads one
    item (default: ``analyzer.load``; the batch runner passes one that also reads URIs)."""
    load = load or analyzer.load
    results: list[ImageResult] = []
    pending: list[tuple[ImageResult, np.ndarray]] = []

    def flush() -> None:
        try:
            batch = analyzer.analyze_batch([image for _, image in pending], embed=embed, keep_aligned=keep_aligned)
        except FacetrustError:
            # One image broke the batch: redo one by one, so that image alone gets the error.
            for result, image in pending:
                try:
                    result.faces = analyzer.analyze_rgb(image, embed=embed, keep_aligned=keep_aligned)
                except FacetrustError as exc:
                    result.error, result.error_type = str(exc), type(exc).__name__
        else:
            for (result, _), faces in zip(pending, batch):
                result.faces = faces
        pending.clear()

    pixels = 0
    for path in paths:
        try:
            image = load(path)
        except FacetrustError as exc:
            results.append(ImageResult(path, error=str(exc), error_type=type(exc).__name__))
            continue
        result = ImageResult(path, width=image.shape[1], height=image.shape[0])
        results.append(result)
        pending.append((result, image))
        pixels += image.shape[0] * image.shape[1]
        if pixels >= CHUNK_PIXELS:
            flush()
            pixels = 0
    if pending:
        flush()
    return results

def default_workers() -> int:
    return os.cpu_count() or 1

def analyze_paths(
    paths: Iterable[Path],
    config: AnalyzerConfig,
    embed: bool = True,
    workers: int = 1,
    keep_aligned: bool = False,
    analyzer: FaceAnalyzer | None = None,
) -> Iterator[ImageResult]:
    """Yield one :class:`ImageResult` per path, in order, using ``workers`` processes.

    The models load here, before the first image, so a missing model file or a bad
    option raises once instead of becoming the error of every image. Paths go to the
    workers :data:`CHUNK_IMAGES` at a time; with no more than one chunk of paths the
    pool's start-up (a second or more: interpreters and models) costs more than it saves,
    so they run here."""
    analyzer = analyzer or FaceAnalyzer(config)
    analyzer.load_models()
    paths = [Path(p) for p in paths]
    if len(paths) <= CHUNK_IMAGES:
        workers = 1
    tasks = ((paths[i : i + CHUNK_IMAGES], embed, keep_aligned) for i in range(0, len(paths), CHUNK_IMAGES))
    chunks = map_with_analyzer(process_chunk, tasks, config, workers, analyzer)
    return (result for chunk in chunks for result in chunk)

def progress_map(
    results: Iterator[ImageResult], total: int, description: str, enabled: bool = True
) -> Iterator[ImageResult]:
    """Wrap a result stream in a rich progress bar (count, rate, ETA) on stderr."""
    from facetrust.progress import track

    return track(results, total, description, enabled, unit="img")
