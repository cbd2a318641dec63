"""The Ray actor that analyses partitions: models loaded once per actor, one partition per call.

Each call gets one partition (its index and inputs, as JSON text), runs
:func:`facetrust.parallel.process_chunk` on it, the same decode, batching and bad-input handling
as ``facetrust analyze --workers``, and returns the partition's Parquet file as bytes with its
counts; the driver writes the file. Nothing here imports Ray: Ray Data calls the class.
"""
from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.batch.inputs import BatchInput, SourceReader
from facetrust.batch.rows import parquet_bytes, result_rows
from facetrust.errors import FacetrustError
from facetrust.parallel import process_chunk
from facetrust.runtime import THREADS_ENV


class PartitionAnalyzer:
    """Built once per actor from the job's :class:`AnalyzerConfig`; ``threads`` ONNX threads per session."""

    def __init__(self, config: AnalyzerConfig, threads: int, extra_columns: list[str]) -> None:
        # Set before the sessions exist: each actor uses the CPUs Ray reserved for it, no more.
        os.environ[THREADS_ENV] = str(threads)
        self.read = SourceReader(config.max_pixels)
        self.extra_columns = extra_columns
        # A model that cannot load is raised by the first call, not here: Ray keeps only the text
        # of an actor constructor's exception, a call's exception travels whole to the driver,
        # which then raises the same typed error as a single process would.
        self.failure: FacetrustError | None = None
        self.analyzer = FaceAnalyzer(config)
        try:
            self.analyzer.load_models()
        except FacetrustError as exc:
            self.failure = exc

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.failure is not None:
            raise self.failure
        outputs: dict[str, list[Any]] = {"partition": [], "parquet": [], "images": [], "faces": [], "failed": []}
        for index, text in zip(batch["partition"], batch["inputs"]):
            inputs = [BatchInput(source, columns) for source, columns in json.loads(text)]
            results = process_chunk(self.analyzer, [i.source for i in inputs], embed=True,  # type: ignore[misc]
                                    load=self.read)
            rows = [row for item, result in zip(inputs, results) for row in result_rows(item, result)]
            outputs["partition"].append(int(index))
            outputs["parquet"].append(parquet_bytes(rows, self.extra_columns))
            outputs["images"].append(len(inputs))
            outputs["faces"].append(sum(len(r.faces) for r in results))
            outputs["failed"].append(sum(r.error is not None for r in results))
        return {key: np.array(values, dtype=object if key == "parquet" else None) for key, values in outputs.items()}
