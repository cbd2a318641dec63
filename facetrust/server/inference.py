"""A bounded pool of inference processes that the event loop awaits with a timeout.

dlib holds the GIL while it runs, so threads would give one core; processes give
all of them. Each process loads the models once (see :mod:`facetrust.server.worker`).
At most ``workers + max_pending`` requests are admitted; the next one gets
:class:`ServerBusyError` (503) at once instead of queueing without bound. A request
whose result takes longer than ``timeout_s`` gets :class:`InferenceTimeoutError` (504);
its slot is only freed when the worker really finishes, so the bound stays honest.
A crashed worker process breaks the pool; it is rebuilt and the request gets a 503.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, TypeVar

from facetrust.analyzer import AnalyzerConfig
from facetrust.server import worker
from facetrust.server.errors import InferenceTimeoutError, ServerBusyError

T = TypeVar("T")
log = logging.getLogger("facetrust.server")


class InferencePool:
    def __init__(self, analyzer_config: AnalyzerConfig, workers: int, max_pending: int, timeout_s: float) -> None:
        self.analyzer_config = analyzer_config
        self.workers = workers
        self.capacity = workers + max_pending
        self.timeout_s = timeout_s
        self.in_flight = 0
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> list[int]:
        """Start every worker and wait until each has loaded its models; returns their pids.
        Model errors (a missing file, an unknown name) surface here, before serving."""
        # Each process runs one request at a time: one ONNX thread per process, like parallel.py.
        os.environ.setdefault("FACETRUST_THREADS", "1")
        context = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=worker.init_worker,
                                         initargs=(self.analyzer_config,))
        # Submitting `workers` tasks at once makes the executor start `workers` processes.
        futures = [self._pool.submit(worker.ready) for _ in range(self.workers)]
        try:
            return [f.result() for f in futures]  # a model error (bad option, missing file) is raised here
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def running(self) -> bool:
        return self._pool is not None

    @property
    def pending(self) -> int:
        return max(0, self.in_flight - self.workers)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker process, awaited without blocking the event loop."""
        if self._pool is None:
            raise ServerBusyError("the inference pool is not running")
        if self.in_flight >= self.capacity:
            raise ServerBusyError(f"server busy: {self.in_flight} requests in progress, try again shortly")
        loop = asyncio.get_running_loop()
        try:
            future: Future[T] = self._pool.submit(function, *args)
        except BrokenProcessPool:
            self._restart(loop)
            raise ServerBusyError("an inference worker died; the pool is restarting, try again") from None
        self.in_flight += 1
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self._release))
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), self.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # drops it if it has not started yet; a running one finishes in its worker
            raise InferenceTimeoutError(f"inference took longer than {self.timeout_s:g} s") from None
        except BrokenProcessPool:
            self._restart(loop)
            raise ServerBusyError("an inference worker died; the pool is restarting, try again") from None

    def _release(self) -> None:
        self.in_flight -= 1

    def _restart(self, loop: asyncio.AbstractEventLoop) -> None:
        """Replace a broken pool once, in a thread (loading models takes seconds);
        requests arriving meanwhile get 503."""
        broken, self._pool = self._pool, None
        if broken is None:
            return  # another request already started the restart
        broken.shutdown(wait=False, cancel_futures=True)
        log.error("inference pool broken (a worker process died); restarting it")
        loop.run_in_executor(None, self.start)
