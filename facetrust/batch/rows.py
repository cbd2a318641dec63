"""The Parquet rows of a batch job: one per face, one per input without a face or with an error.

Columns (docs/distributed.md, "Output schema"):

* ``source`` (string): the input's absolute path or URI;
* ``face_index`` (int32): 0 for the largest face, 1 for the next …; null on a row without a face;
* ``faces`` (int32): faces found in the input (0: none); null when the input failed;
* ``width``, ``height`` (int32): the decoded image's size; null when the input failed;
* ``score`` (float64), ``box`` (list<float64>: x1, y1, x2, y2), ``landmarks`` (list<float32>:
  x, y of the 5 points in :data:`facetrust.types.LANDMARK_ORDER`), ``embedding`` (list<float32>,
  L2-normalised): the face, as :class:`facetrust.types.Face` holds it;
* ``extras`` (string, JSON): the face's check results keyed by check name, as ``analyze --json`` prints them;
* ``error``, ``error_type`` (string): the message and exception class of a failed input;
* then every other column of the manifest the input came from (string).
"""
from __future__ import annotations

import io
import json
from typing import Any, Sequence

from facetrust.batch.inputs import BatchInput
from facetrust.parallel import ImageResult

BASE_COLUMNS = ("source", "face_index", "faces", "width", "height", "score", "box", "landmarks", "embedding",
                "extras", "error", "error_type")


def schema(extra_columns: Sequence[str] = ()) -> Any:
    import pyarrow as pa

    fields = [
        pa.field("source", pa.string(), nullable=False),
        pa.field("face_index", pa.int32()),
        pa.field("faces", pa.int32()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("score", pa.float64()),
        pa.field("box", pa.list_(pa.float64())),
        pa.field("landmarks", pa.list_(pa.float32())),
        pa.field("embedding", pa.list_(pa.float32())),
        pa.field("extras", pa.string()),
        pa.field("error", pa.string()),
        pa.field("error_type", pa.string()),
    ]
    return pa.schema(fields + [pa.field(name, pa.string()) for name in extra_columns])


def result_rows(item: BatchInput, result: ImageResult) -> list[dict[str, Any]]:
    """The rows of one analysed input."""
    base: dict[str, Any] = {"source": item.source, **item.columns}
    if result.error is not None:
        return [{**base, "error": result.error, "error_type": result.error_type}]
    size = {"faces": len(result.faces), "width": result.width, "height": result.height}
    if not result.faces:
        return [{**base, **size}]
    return [{**base, **size, "face_index": index, "score": float(face.score),
             "box": [float(v) for v in face.box],
             "landmarks": face.landmarks.astype("float32").reshape(-1).tolist(),
             "embedding": None if face.embedding is None else face.embedding.astype("float32").tolist(),
             "extras": json.dumps(face.extras, default=_plain) if face.extras else None}
            for index, face in enumerate(result.faces)]


def parquet_bytes(rows: list[dict[str, Any]], extra_columns: Sequence[str]) -> bytes:
    """One partition's rows as the bytes of a Parquet file (zstd; the driver writes them)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema(extra_columns))
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _plain(value: Any) -> Any:
    """numpy scalars and arrays inside check results as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
