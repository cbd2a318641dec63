"""``run_batch``: analyse many images on a Ray cluster into a partitioned, resumable Parquet folder.

The driver (this process) lists and sorts the inputs, cuts them into partitions, checks the
output folder's job manifest, and hands the partitions without a file to a Ray Data
``map_batches`` over an actor pool (:class:`~facetrust.batch.worker.PartitionAnalyzer`, one
actor per worker, models loaded once each). Each partition's Parquet bytes come back to the
driver, which writes them atomically, so an interrupted job keeps every finished partition and
a rerun computes only the rest. Only the driver needs the output folder; the workers need the
models and the inputs (a shared file system or object storage).
"""
from __future__ import annotations

import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.batch import cluster
from facetrust.batch.errors import BatchError, WorkerCrashedError
from facetrust.batch.inputs import list_inputs
from facetrust.batch.job import job_manifest, prepare_job
from facetrust.batch.partitions import (
    DEFAULT_PARTITION_SIZE, Partition, make_partitions, partition_file_name, pending_partitions, remove_stale_temporaries,
    write_atomically,
)
from facetrust.errors import ConfigError, FacetrustError
from facetrust.io.outputs import prepare_out_dir
from facetrust.progress import Progress, track

#: Devices whose actors each take one GPU.
GPU_DEVICES = ("cuda", "tensorrt")
#: Times Ray restarts a crashed actor (its process died) and retries the partition it held,
#: before the job fails: a model that crashes its process on some input must not loop forever.
ACTOR_RESTARTS = 2


@dataclass
class BatchReport:
    """What a run did: partitions and inputs in all, those skipped as already finished, and the
    images, faces and failed inputs of the partitions computed now."""

    out_dir: Path
    partitions: int
    inputs: int
    skipped_partitions: int = 0
    images: int = 0
    faces: int = 0
    failed: int = 0
    workers: int = 0
    seconds: float = 0.0
    written: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"out": str(self.out_dir), "partitions": self.partitions, "inputs": self.inputs,
                "skipped_partitions": self.skipped_partitions, "computed_partitions": len(self.written),
                "images": self.images, "faces": self.faces, "failed": self.failed, "workers": self.workers,
                "seconds": round(self.seconds, 3), "images_per_second": round(self.rate, 2)}


def run_batch(inputs: Sequence[str], out_dir: str | os.PathLike[str], config: AnalyzerConfig | None = None, *,
              address: str | None = None, workers: int | None = None,
              partition_size: int = DEFAULT_PARTITION_SIZE, column: str | None = None,
              progress: Progress = False, connect_attempts: int = cluster.CONNECT_ATTEMPTS,
              restarts: int = ACTOR_RESTARTS) -> BatchReport:
    """Analyse every image of ``inputs`` (folders, globs, URIs, CSV/Parquet manifests; see
    :func:`~facetrust.batch.inputs.list_inputs`) with ``config`` and write one Parquet file per
    partition of ``partition_size`` inputs to ``out_dir`` (schema: :mod:`facetrust.batch.rows`).

    ``address``: a running Ray cluster (None: a local instance on every CPU of this machine);
    ``workers``: actors (default and most: one per CPU of the cluster, one per GPU for a GPU ``device``).
    Partitions already in ``out_dir`` are skipped; a folder made by another configuration or input
    list raises :class:`~facetrust.batch.errors.OutputMismatchError`. Bad inputs become rows with
    ``error`` and ``error_type``; the job goes on. Ctrl-C stops it, keeping finished partitions.
    A worker's facetrust error (e.g. a model that cannot load there) is raised as it is; a worker
    process that dies is restarted ``restarts`` times, then :class:`WorkerCrashedError`."""
    config = config or AnalyzerConfig()
    FaceAnalyzer(config)  # names and options checked before any listing or cluster start
    if address not in (None, "auto", "local"):
        cluster.split_address(address)
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    if restarts < 0:
        raise ConfigError(f"restarts must be 0 or more, got {restarts}")
    out = Path(out_dir)
    items = list_inputs(inputs, column)
    extra_columns = sorted({name for item in items for name in item.columns})
    partitions = make_partitions(items, partition_size)
    prepare_out_dir(out, "--out")
    remove_stale_temporaries(out)
    prepare_job(out, job_manifest(config, items, partition_size, extra_columns))
    pending = pending_partitions(partitions, out)
    report = BatchReport(out, len(partitions), len(items), skipped_partitions=len(partitions) - len(pending))
    if not pending:
        return report
    if address is None:
        # A missing model fails here, once, not in every actor.
        FaceAnalyzer(config).load_models()
    started = cluster.connect(address, num_cpus=os.cpu_count(), attempts=connect_attempts)
    start = time.perf_counter()
    results = _analyze(pending, config, workers, extra_columns, report, restarts)
    images = (n for result in results for n in _written(result, out, report))
    try:
        for _ in track(images, sum(len(p.inputs) for p in pending), "batch", progress, unit="img"):
            pass
    finally:
        # Ray Data stops its executor and actors now, while still connected (on Ctrl-C too).
        images.close()
        results.close()
        report.seconds = time.perf_counter() - start
        if started:
            cluster.shutdown()
    return report


def _analyze(pending: list[Partition], config: AnalyzerConfig, workers: int | None, extra_columns: list[str],
             report: BatchReport, restarts: int) -> Iterator[dict[str, Any]]:
    """The result row of each pending partition, in the order they finish."""
    import ray.data

    from facetrust.batch.worker import PartitionAnalyzer

    size = cluster.cluster_size()
    gpu = config.device in GPU_DEVICES
    if gpu and size.gpus < 1:
        raise BatchError(f"device {config.device!r} asked for, but the Ray cluster has no GPU")
    # No more actors than the cluster can place (an actor needs a CPU, or a GPU), nor than
    # partitions (an actor without work would only load models).
    most = size.gpus if gpu else max(1, size.cpus)
    count = min(workers or most, most, len(pending))
    # Each actor reserves the CPUs its ONNX sessions use: the cluster's share, within one node.
    threads = max(1, min(size.cpus // count, size.node_cpus)) if size.cpus else 1
    report.workers = count
    rows = [{"partition": p.index, "inputs": json.dumps([[i.source, i.columns] for i in p.inputs])}
            for p in pending]
    dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
    with warnings.catch_warnings():
        # Ray 2.60 deprecates extra remote args without a named parameter for max_restarts yet.
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
        dataset = dataset.map_batches(
            PartitionAnalyzer, batch_size=1, compute=ray.data.ActorPoolStrategy(size=count), num_cpus=threads,
            num_gpus=1 if gpu else 0,
            # Ray Data's default restarts crashed actors and retries their tasks without end.
            max_restarts=restarts, max_task_retries=restarts,
            fn_constructor_kwargs={"config": config, "threads": threads, "extra_columns": extra_columns},
        )
    try:
        yield from dataset.iter_rows()
    except Exception as exc:  # Ray wraps what failed in a worker: surface ours, name the rest
        raise _job_failure(exc, report.out_dir, restarts) from None


def _written(result: dict[str, Any], out: Path, report: BatchReport) -> Iterator[None]:
    """Write one partition's file, count it, and yield once per image (for the progress rate)."""
    name = partition_file_name(int(result["partition"]))
    write_atomically(out, name, bytes(result["parquet"]))
    report.written.append(name)
    report.images += int(result["images"])
    report.faces += int(result["faces"])
    report.failed += int(result["failed"])
    for _ in range(int(result["images"])):
        yield None


#: Where Ray Data's note about retries starts in a message it annotated.
_RAY_RETRY_NOTE = "\nFailed to apply UDF"


def _job_failure(exc: BaseException, out: Path, restarts: int) -> FacetrustError:
    """What to raise for a failed Ray job: the facetrust error a worker raised, itself; a
    :class:`WorkerCrashedError` for a worker process that died; else a :class:`BatchError`."""
    from ray.exceptions import RayActorError, RayError

    chain = _causes(exc)
    # RayTaskError(ModelError) is a ModelError too, but its text is the worker's traceback: take its cause.
    ours = next((e for e in chain if isinstance(e, FacetrustError) and not isinstance(e, RayError)), None)
    if ours is not None:
        if ours.args and isinstance(ours.args[0], str):  # Ray Data appends its retry advice to the message
            ours.args = (ours.args[0].split(_RAY_RETRY_NOTE, 1)[0],) + ours.args[1:]
        return ours
    died = next((e for e in chain if isinstance(e, RayActorError)), None)
    if died is not None:
        text = str(died)
        pid, ip = re.search(r"\bpid: (\d+)", text), re.search(r"\bip: (\S+)", text)
        where = f" (pid {pid[1]}{f' on {ip[1]}' if ip else ''})" if pid else ""
        return WorkerCrashedError(
            f"a batch worker process died{where} and Ray gave up after restarting it at most {restarts} time(s): "
            "a model or check crashed it (e.g. a segmentation fault) or the system killed it (e.g. out of "
            f"memory); the partitions finished so far stay in {out}")
    # Another exception of the workers' code (a plugin's bug): its class and first line, without Ray's wrappers.
    raised = next((e for e in chain if not isinstance(e, RayError)), exc)
    return BatchError(f"the Ray job failed: {_summary(raised)}")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps, through Ray's ``cause`` and Python's ``__cause__``/``__context__``."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__ or current.__context__
    return chain


def _summary(exc: BaseException) -> str:
    text = str(exc).split(_RAY_RETRY_NOTE, 1)[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
