"""Fixed-size partitions of a job's sorted inputs, one Parquet file each, written atomically.

Partition ``i`` holds inputs ``i*size`` to ``(i+1)*size - 1`` of the sorted input list, and its
results live in ``OUT/part-<i>.parquet``. A file there is complete (it appears by an atomic
rename), so a rerun skips it; the job manifest pins the input list and size that make the
numbering mean the same thing (:mod:`facetrust.batch.job`).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from facetrust.batch.inputs import BatchInput
from facetrust.errors import ConfigError, OutputError

DEFAULT_PARTITION_SIZE = 256
#: Temporary files start with "." so that Parquet readers of the folder (pyarrow, Spark, DuckDB) skip them.
TEMP_PREFIX = ".part-"


@dataclass(frozen=True)
class Partition:
    index: int
    inputs: tuple[BatchInput, ...]

    @property
    def file_name(self) -> str:
        return partition_file_name(self.index)


def partition_file_name(index: int) -> str:
    return f"part-{index:06d}.parquet"


def check_partition_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ConfigError(f"partition size must be a positive integer, got {size!r}")
    return size


def make_partitions(inputs: Sequence[BatchInput], size: int = DEFAULT_PARTITION_SIZE) -> list[Partition]:
    """The inputs, in the given (sorted) order, cut into partitions of ``size`` (the last may be smaller)."""
    check_partition_size(size)
    return [Partition(i // size, tuple(inputs[i : i + size])) for i in range(0, len(inputs), size)]


def pending_partitions(partitions: Sequence[Partition], out_dir: Path) -> list[Partition]:
    """The partitions without a finished file in ``out_dir``."""
    return [p for p in partitions if not (out_dir / p.file_name).is_file()]


def write_atomically(out_dir: Path, name: str, data: bytes) -> Path:
    """Write ``data`` to ``out_dir/name`` through a temporary file and a rename: readers (and a
    resumed job) see the whole file or none. :class:`OutputError` when the disk refuses."""
    target = out_dir / name
    handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=out_dir)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise OutputError(f"{target}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def remove_stale_temporaries(out_dir: Path) -> None:
    """Temporary files left by a job killed while writing (an interrupt cleans its own)."""
    for stale in out_dir.glob(TEMP_PREFIX + "*"):
        stale.unlink(missing_ok=True)
