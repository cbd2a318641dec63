"""Connecting to Ray: a local instance by default, or a running cluster at ``--address``.

Ray itself waits a minute or more, printing its own warnings, before giving up on an address
nobody answers at; so an address is first probed with a plain TCP connection, retried with
exponential backoff (a head node that is still starting answers within seconds), and an address
that never answers is a :class:`ClusterUnavailableError` in one line.
"""
from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from typing import Any

from facetrust.batch.errors import ClusterUnavailableError

#: TCP probes of an address before giving up, and the first wait between them (doubled each time).
CONNECT_ATTEMPTS = 4
FIRST_BACKOFF_S = 0.5
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class ClusterSize:
    cpus: int
    gpus: int
    #: The most CPUs on any one node: an actor cannot ask for more.
    node_cpus: int
    nodes: int


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterUnavailableError("batch processing needs Ray: pip install 'facetrust[batch]'") from None
    return ray


def connect(address: str | None = None, num_cpus: int | None = None, attempts: int = CONNECT_ATTEMPTS) -> bool:
    """Connect this process to Ray; True when this call started it (the caller then shuts it down).

    ``address`` None starts a local instance with ``num_cpus`` CPUs (default: all); "auto" joins
    the cluster running on this host; "HOST:PORT" (the head's GCS port, 6379 by default) or
    "ray://HOST:PORT" (Ray Client) joins a remote one. A process already connected stays so."""
    ray = import_ray()
    quiet_ray_data()
    if ray.is_initialized():
        return False
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR,
                               "log_to_driver": False, "configure_logging": True}
    if address is None:
        # "local": always a new instance, never a cluster some earlier `ray start` left recorded in /tmp/ray.
        options.update(address="local", num_cpus=num_cpus)
    else:
        if address not in ("auto", "local"):
            probe(address, attempts)
        options["address"] = address
    try:
        ray.init(**options)
    except Exception as exc:  # noqa: BLE001 - Ray raises bare Exception too ("node timed out during startup")
        where = f"at {address}" if address else "locally"
        raise ClusterUnavailableError(f"cannot start or reach a Ray cluster {where}: {_first_line(exc)}") from None
    return True


def probe(address: str, attempts: int = CONNECT_ATTEMPTS) -> None:
    """Wait until something accepts TCP connections at ``address``, backing off between tries."""
    host, port = split_address(address)
    delay = FIRST_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                return
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    raise ClusterUnavailableError(f"no Ray cluster answers at {address} ({reason}, {attempts} attempts); "
                                  "start one with `ray start --head` or check --address")


def split_address(address: str) -> tuple[str, int]:
    """``ray://h:10001`` and ``h:6379`` as (host, port); a bare host means the GCS port 6379."""
    from facetrust.errors import ConfigError

    rest = address.split("://", 1)[1] if "://" in address else address
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon:
        host, port = rest.rstrip("/"), "6379"
    try:
        number = int(port)
    except ValueError:
        raise ConfigError(f"--address {address!r} must look like HOST:PORT, ray://HOST:PORT or auto") from None
    if not host or not 0 < number < 65536:
        raise ConfigError(f"--address {address!r} must look like HOST:PORT, ray://HOST:PORT or auto")
    return host.strip("[]"), number


def cluster_size() -> ClusterSize:
    """CPUs and GPUs of the connected cluster's live nodes."""
    ray = import_ray()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in nodes]
    gpus = sum(int(n.get("Resources", {}).get("GPU", 0)) for n in nodes)
    return ClusterSize(sum(cpus), gpus, max(cpus, default=0), len(nodes))


def shutdown() -> None:
    import_ray().shutdown()


def quiet_ray_data() -> None:
    """Ray Data's own progress bars and per-dataset log lines off (the job reports its progress
    itself), and workers' exceptions passed on unwrapped."""
    from ray.data import DataContext

    context = DataContext.get_current()
    context.enable_progress_bars = False
    if hasattr(context, "print_on_execution_start"):
        context.print_on_execution_start = False
    # A worker's exception itself, not Ray Data's UserCodeException around it: the driver raises
    # facetrust's typed errors as they are.
    if hasattr(context, "raise_original_map_exception"):
        context.raise_original_map_exception = True
    ray_data_log = logging.getLogger("ray.data")
    ray_data_log.setLevel(logging.ERROR)
    # A failed job is reported by the caller in one line: Ray Data's tracebacks go to its log file only.
    for handler in ray_data_log.handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setLevel(logging.CRITICAL)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
