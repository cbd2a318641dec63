"""Typed errors of batch processing (all derive from FacetrustError)."""
from __future__ import annotations

from facetrust.errors import ConfigError, FacetrustError


class BatchError(FacetrustError):
    """A batch job cannot run or failed as a whole (not one bad input: those become rows)."""


class ClusterUnavailableError(BatchError):
    """The Ray cluster at ``--address`` cannot be reached, or Ray is not installed."""


class WorkerCrashedError(BatchError):
    """A worker process died (a crash in a model's native code, out of memory) more often than Ray restarts it."""


class OutputMismatchError(ConfigError):
    """The output folder holds results of another configuration or input list: mixing them is refused."""
