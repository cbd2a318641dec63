"""Bulk enrolment of a batch job's Parquet output into a gallery (``facetrust gallery import-parquet``).

Each face row becomes one template of the identity named by a column of the output (e.g. a
manifest's label column) or by the parent folder of its ``source``. The job manifest says which
recognizer made the embeddings; a gallery of another recognizer refuses them
(:class:`~facetrust.errors.ModelMismatchError`) before anything is stored. Inputs that failed or
have no face are counted, not enrolled; an input with several faces is skipped unless
``select="largest"`` (then its face 0 is taken), as enrolment refuses such images by default.
Identities go in batches, each one transaction; identities already enrolled are skipped, so an
interrupted import resumes.
"""
from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

import numpy as np

from facetrust.batch.inputs import is_uri
from facetrust.batch.job import read_job
from facetrust.errors import ConfigError, OutputError
from facetrust.progress import Progress

if TYPE_CHECKING:
    from facetrust.gallery import Gallery

IdentityFrom = Literal["parent"]
FaceSelection = Literal["single", "largest"]


@dataclass
class ImportReport:
    """``enrolled`` identities (``templates`` in all), ``skipped`` ones already in the gallery, and
    the inputs left out: failed, without a face, with several faces, without an identity value."""

    enrolled: int = 0
    templates: int = 0
    skipped: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "templates": self.templates, "skipped": self.skipped,
                "left_out": dict(self.left_out)}


def identity_of_source(source: str) -> str:
    """The parent folder's name of a path or URI (``/data/lfw/Ann/Ann_1.jpg`` -> ``Ann``)."""
    path = PurePosixPath(urlparse(source).path) if is_uri(source) else Path(source)
    return path.parent.name


def import_parquet(gallery: "Gallery", parquet_dir: str | os.PathLike[str], *, identity_column: str | None = None,
                   identity_from: IdentityFrom | None = None, select: FaceSelection = "single",
                   batch_size: int = 1000, progress: Progress = False) -> ImportReport:
    """Enrol the faces of the batch output in ``parquet_dir`` into ``gallery`` (see the module docstring).
    Give exactly one of ``identity_column`` and ``identity_from="parent"``."""
    from facetrust.gallery import EnrollRecord, ModelIdentity, NewTemplate

    if (identity_column is None) == (identity_from is None):
        raise ConfigError("name the identity: an identity column, or identity from the parent folder (not both)")
    if identity_from not in (None, "parent"):
        raise ConfigError(f"identity from must be 'parent', got {identity_from!r}")
    if select not in ("single", "largest"):
        raise ConfigError(f"select must be 'single' or 'largest', got {select!r}")
    folder = Path(parquet_dir)
    job = read_job(folder)
    model = ModelIdentity.from_dict(job["recognizer"])
    gallery._check_model(model, f"the embeddings in {folder}")  # before reading any partition
    report = ImportReport()
    groups: dict[str, list[Any]] = defaultdict(list)
    detector = job["config"]["detector"]
    for row in _read_faces(folder, identity_column).to_pylist():
        if row["face_index"] not in (None, 0):
            continue  # the input is counted or taken by its face 0 row
        identity = row[identity_column] if identity_column else identity_of_source(row["source"])
        reason = _left_out(row, select) or (None if identity else "no identity")
        if reason is not None:
            report.left_out[reason] = report.left_out.get(reason, 0) + 1
            continue
        quality, method = _quality(row["extras"])
        groups[str(identity)].append(NewTemplate(np.asarray(row["embedding"], dtype=np.float32), quality=quality,
                                                 source=row["source"], quality_method=method, detector=detector,
                                                 box=tuple(row["box"])))
    existing = gallery.backend.existing(list(groups)) if groups else set()
    records = [EnrollRecord(identity, templates) for identity, templates in groups.items()
               if identity not in existing]
    report.skipped = len(existing)
    report.enrolled = gallery.enroll_many(records, batch_size=batch_size, on_duplicate="skip",
                                          progress=bool(progress and records), total=len(records), model=model)
    report.templates = sum(len(r.templates) for r in records)
    return report


def _read_faces(folder: Path, identity_column: str | None) -> Any:
    """The columns an import needs, from every finished partition (in partition order)."""
    import pyarrow.dataset as ds

    files = sorted(folder.glob("part-*.parquet"))
    if not files:
        raise OutputError(f"{folder}: no finished partitions (part-*.parquet) to import")
    dataset = ds.dataset([str(f) for f in files], format="parquet")
    wanted = ["source", "face_index", "faces", "embedding", "box", "extras", "error"]
    if identity_column is not None:
        if identity_column not in dataset.schema.names:
            raise ConfigError(f"{folder}: no column {identity_column!r} in the batch output "
                              f"(columns: {', '.join(dataset.schema.names)})")
        wanted.append(identity_column)
    return dataset.to_table(columns=list(dict.fromkeys(wanted)))


def _left_out(row: dict[str, Any], select: FaceSelection) -> str | None:
    if row["error"] is not None:
        return "failed"
    if not row["faces"]:
        return "no face"
    if row["embedding"] is None:
        return "no embedding"
    if row["faces"] > 1 and select == "single":
        return "several faces"
    return None


def _quality(extras: str | None) -> tuple[float | None, str | None]:
    """The quality score and method when the batch ran the quality check."""
    quality = json.loads(extras).get("quality") if extras else None
    if not isinstance(quality, dict) or quality.get("score") is None:
        return None, None
    return float(quality["score"]), quality.get("method")
