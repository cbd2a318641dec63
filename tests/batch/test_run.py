"""Batch jobs on a local two-node Ray cluster: the same results as the single-process path, bad
inputs as rows, resume, refusal to mix configurations, and bulk enrolment into a gallery."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from facetrust.analyzer import AnalyzerConfig
from facetrust.batch import import_parquet, run_batch
from facetrust.batch.errors import OutputMismatchError
from facetrust.batch.job import JOB_FILE
from facetrust.errors import ModelMismatchError
from facetrust.parallel import analyze_paths

PARTITION_SIZE = 3


@pytest.fixture(scope="module")
def manifest(batch_images: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every image by relative path with a ``person`` label, Obama by file:// URI, and a missing file."""
    folder = tmp_path_factory.mktemp("manifest")
    lines = ["path,person"]
    for image in sorted(batch_images.rglob("*.*")):
        source = image.as_uri() if image.name == "obama.jpg" else str(image.relative_to(batch_images))
        lines.append(f"{source},{image.parent.name}")
    lines.append("Abdullah/missing.jpg,Abdullah")
    (batch_images / "manifest.csv").write_text("\n".join(lines) + "\n")
    shutil.move(batch_images / "manifest.csv", folder / "manifest.csv")
    # Relative paths resolve against the manifest's folder: mirror the images there.
    for item in batch_images.iterdir():
        shutil.copytree(item, folder / item.name)
    return folder / "manifest.csv"


@pytest.fixture(scope="module")
def job(ray_cluster: str, manifest: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("job") / "out"
    report = run_batch([str(manifest)], out, workers=2, partition_size=PARTITION_SIZE)
    return out, report


def read(out: Path):
    import pyarrow.parquet as pq

    return pq.read_table(out).to_pylist()


def test_results_equal_the_single_process_path(job, manifest: Path) -> None:
    out, report = job
    rows = read(out)
    assert report.workers == 2 and report.failed == 3 and report.skipped_partitions == 0
    assert len(report.written) == report.partitions == -(-report.inputs // PARTITION_SIZE)
    faces = [r for r in rows if r["face_index"] is not None]
    assert report.faces == len(faces) >= 8  # 6 LFW faces, Obama, two people
    local = [Path(r["source"]) if not r["source"].startswith("file:") else None for r in faces]
    expected = {}
    paths = sorted({p for p in local if p is not None})
    for result in analyze_paths(paths, AnalyzerConfig(), workers=1):
        for index, face in enumerate(result.faces):
            expected[(str(result.path), index)] = face
    assert len(expected) == len(faces) - 1  # all but the file:// one
    for row in faces:
        face = expected.get((row["source"], row["face_index"]))
        if face is None:
            continue
        assert row["faces"] == sum(1 for key in expected if key[0] == row["source"])
        assert np.allclose(row["box"], face.box, atol=1e-3)
        assert np.allclose(np.reshape(row["landmarks"], (5, 2)), face.landmarks, atol=1e-3)
        assert np.allclose(row["score"], face.score, atol=1e-5)
        assert np.allclose(row["embedding"], face.embedding, atol=1e-5)
        assert row["person"] == Path(row["source"]).parent.name and row["error"] is None


def test_the_uri_input_gives_the_same_face_as_its_path(job, manifest: Path) -> None:
    rows = read(job[0])
    by_uri = [r for r in rows if r["source"].startswith("file://")]
    by_path = [r for r in rows if r["source"] == str(manifest.parent / "Barack_Obama" / "obama.jpg")]
    assert len(by_uri) == 1 and not by_path  # the manifest named it by URI only
    [face] = analyze_paths([manifest.parent / "Barack_Obama" / "obama.jpg"], AnalyzerConfig())
    assert np.allclose(by_uri[0]["embedding"], face.faces[0].embedding, atol=1e-5)


def test_bad_inputs_are_rows_with_their_error(job, manifest: Path) -> None:
    rows = {Path(r["source"]).name: r for r in read(job[0]) if r["error"] is not None}
    assert {name: row["error_type"] for name, row in rows.items()} == {
        "truncated.jpg": "ImageDecodeError", "notes.png": "ImageDecodeError", "missing.jpg": "ImageNotFoundError"}
    assert rows["missing.jpg"]["error"] == f"{manifest.parent / 'Abdullah' / 'missing.jpg'}: no such file"
    assert all(row["faces"] is None and row["embedding"] is None for row in rows.values())


def test_resume_recomputes_only_the_missing_partition(job, manifest: Path) -> None:
    out, first = job
    before = read(out)
    missing = first.written[1]
    (out / missing).unlink()
    again = run_batch([str(manifest)], out, workers=2, partition_size=PARTITION_SIZE)
    assert again.written == [missing] and again.skipped_partitions == first.partitions - 1
    after = read(out)
    assert [r["source"] for r in after] == [r["source"] for r in before]
    for a, b in zip(after, before):
        assert a["error"] == b["error"] and (a["embedding"] is None or np.allclose(a["embedding"], b["embedding"]))
    done = run_batch([str(manifest)], out, partition_size=PARTITION_SIZE)
    assert done.written == [] and done.skipped_partitions == first.partitions


def test_another_configuration_is_refused_before_any_work(job, manifest: Path) -> None:
    out = job[0]
    files = sorted(p.name for p in out.iterdir())
    with pytest.raises(OutputMismatchError, match="recognizer"):
        run_batch([str(manifest)], out, AnalyzerConfig(recognizer="edgeface-xxs"), partition_size=PARTITION_SIZE)
    with pytest.raises(OutputMismatchError, match="partition_size"):
        run_batch([str(manifest)], out, partition_size=PARTITION_SIZE + 1)
    assert sorted(p.name for p in out.iterdir()) == files and (out / JOB_FILE).is_file()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_import_into_a_gallery_and_search(job, manifest: Path, tmp_path: Path, backend: str,
                                          request: pytest.FixtureRequest) -> None:
    from facetrust.gallery import Gallery, IndexConfig

    out = job[0]
    if backend == "sqlite":
        created = Gallery.create(tmp_path / "g.db")
    else:
        created = Gallery.create(request.getfixturevalue("pg_url"), schema="batch_import", index=IndexConfig("flat"))
    with created as gallery:
        report = import_parquet(gallery, out, identity_column="person")
        assert report.enrolled == 3 and report.templates == 3 + 3 + 1
        assert report.left_out == {"failed": 3, "several faces": 1}
        assert sorted(i.id for i in gallery.list()) == ["Aaron_Peirsol", "Abdullah", "Barack_Obama"]
        probe = manifest.parent / "Abdullah" / "Abdullah_0002.jpg"
        assert gallery.search(probe).identity == "Abdullah"
        again = import_parquet(gallery, out, identity_from="parent", select="largest")
        # Resumable: the enrolled identities are skipped; "largest" takes face 0 of the group photo.
        assert again.skipped == 3 and again.enrolled == 1 and again.templates == 1
        assert "group" in gallery and again.left_out == {"failed": 3}
    with Gallery.create(tmp_path / "other.db", "edgeface-xxs") as other:
        with pytest.raises(ModelMismatchError, match="edgeface-xs"):
            import_parquet(other, out, identity_from="parent")
        assert len(other) == 0
