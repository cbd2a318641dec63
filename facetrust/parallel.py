"""Running the analyzer over many files in worker processes.

dlib runs single-threaded, so throughput on N cores comes from N processes,
each holding its own copy of the models (built once per worker from the
picklable :class:`AnalyzerConfig`). Results come back in input order.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.errors import FacetrustError
from facetrust.types import Face

@dataclass
class ImageResult:
    path: Path
    faces: list[Face] = field(default_factory=list)
    width: int = 0
    height: int = 0
    error: str | None = None

    def to_dict(self, include_embedding: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"path": str(self.path)}
        if self.error is not None:
            out["error"] = self.error
            return out
        out["width"], out["height"] = self.width, self.height
        out["faces"] = [f.to_dict(include_embedding) for f in self.faces]
        return out

_worker: FaceAnalyzer | None = None

def _init_worker(config: AnalyzerConfig) -> None:
    global _worker
    _worker = FaceAnalyzer(config)

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
    # or dlib thread state), and each ONNX session uses one thread so N workers
    # don't oversubscribe N cores.
    os.environ.setdefault("FACETRUST_THREADS", "1")
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(config,)) as pool:
        try:
            yield from pool.map(_call, ((function, task) for task in tasks), chunksize=chunksize)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise

def process_one(analyzer: FaceAnalyzer, path: Path, embed: bool, keep_aligned: bool = False) -> ImageResult:
    """Analyze one file; a bad file becomes an ``error`` result instead of stopping the run."""
    try:
        image = analyzer.load(path)
        faces = analyzer.analyze_rgb(image, embed=embed, keep_aligned=keep_aligned)
        return ImageResult(path, faces, image.shape[1], image.shape[0])
    except FacetrustError as exc:
        return ImageResult(path, error=str(exc))

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
    option raises once instead of becoming the error of every image."""
    analyzer = analyzer or FaceAnalyzer(config)
    analyzer.load_models()
    tasks = ((Path(p), embed, keep_aligned) for p in paths)
    return map_with_analyzer(process_one, tasks, config, workers, analyzer, chunksize=4)

def progress_map(
    results: Iterator[ImageResult], total: int, description: str, enabled: bool = True
) -> Iterator[ImageResult]:
    """Wrap a result stream in a rich progress bar (count, rate, ETA) on stderr."""
    from facetrust.progress import track

    return track(results, total, description, enabled, unit="img")
