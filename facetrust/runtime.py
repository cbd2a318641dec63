"""ONNX Runtime sessions with an explicit, verified execution device.

Asking for a GPU that cannot be used raises :class:`DeviceUnavailableError`
instead of silently running on the CPU (onnxruntime's default behaviour).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError, DeviceUnavailableError, ModelError

_PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
}
DEVICES = tuple(_PROVIDERS)


def available_devices() -> list[str]:
    import onnxruntime as ort

    present = set(ort.get_available_providers())
    return [device for device, provider in _PROVIDERS.items() if provider in present]


#: Environment variable fixing the threads of every ONNX session (worker pools set it per worker).
THREADS_ENV = "FACETRUST_THREADS"


def cpu_threads() -> int:
    """Threads per ONNX session: ``FACETRUST_THREADS`` or all cores."""
    value = os.environ.get(THREADS_ENV)
    return int(value) if value else (os.cpu_count() or 1)


def session_options(threads: int | None = None) -> Any:
    """CPU settings of every facetrust session: ``threads`` (default :func:`cpu_threads`) for the
    operators, the graph run in order on them (these graphs are chains: a second pool for
    parallel branches only adds wake-ups), and every graph optimisation (fusions, NCHWc layout;
    the basic level alone is 1.5-4x slower on YuNet and EdgeFace, docs/benchmarks.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads() if threads is None else threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options


def onnx_session(path: Path, device: str = "cpu") -> Any:
    """An ``InferenceSession`` on ``device``; raises if that device is not what runs."""
    import onnxruntime as ort

    if device not in _PROVIDERS:
        raise ConfigError(f"unknown device {device!r} (known: {', '.join(DEVICES)})")
    provider = _PROVIDERS[device]
    if provider not in ort.get_available_providers():
        raise DeviceUnavailableError(
            f"device {device!r} requested but onnxruntime offers only {ort.get_available_providers()} "
            f"(install onnxruntime-gpu for CUDA)"
        )
    options = session_options()
    providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"{path}: cannot load ONNX model ({exc})") from None
    active = session.get_providers()[0]
    if active != provider:
        raise DeviceUnavailableError(f"device {device!r} requested but the model runs on {active}")
    return session
