"""Input listing, partitions and the job manifest of facetrust.batch (no Ray needed)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from facetrust.analyzer import AnalyzerConfig
from facetrust.batch.errors import OutputMismatchError
from facetrust.batch.inputs import SourceReader, list_inputs
from facetrust.batch.job import JOB_FILE, job_manifest, prepare_job
from facetrust.batch.partitions import make_partitions, partition_file_name, pending_partitions, write_atomically
from facetrust.errors import ConfigError, ImageDecodeError, ImageNotFoundError


def test_folders_and_globs_give_sorted_absolute_image_paths(batch_images: Path, monkeypatch) -> None:
    monkeypatch.chdir(batch_images)
    found = [i.source for i in list_inputs(["group", "Abdullah/*.jpg", "Aaron_Peirsol", "Abdullah"])]
    assert found == sorted(found)
    assert len(found) == len(set(found)) == 1 + 3 + 3  # the glob and the folder name the same 3 files once
    assert all(Path(s).is_absolute() and Path(s).is_file() for s in found)


def test_manifest_paths_are_relative_to_it_and_carry_its_columns(batch_images: Path, tmp_path: Path) -> None:
    manifest = batch_images / "manifest.csv"
    uri = (batch_images / "Barack_Obama" / "obama.jpg").as_uri()
    manifest.write_text(f"person,path\n007,Abdullah/Abdullah_0001.jpg\nobama,{uri}\n,group/two_people.jpg\n")
    try:
        found = list_inputs([str(manifest)])
    finally:
        manifest.unlink()
    by_source = {i.source: i.columns for i in found}
    assert by_source[str(batch_images / "Abdullah" / "Abdullah_0001.jpg")] == {"person": "007"}  # text, zeros kept
    assert by_source[uri] == {"person": "obama"}
    assert by_source[str(batch_images / "group" / "two_people.jpg")] == {"person": ""}


def test_parquet_manifest_with_a_named_column(batch_images: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    image = batch_images / "Abdullah" / "Abdullah_0002.jpg"
    pq.write_table(pa.table({"img": [str(image)], "label": ["Abdullah"]}), tmp_path / "m.parquet")
    assert [(i.source, i.columns) for i in list_inputs([str(tmp_path / "m.parquet")], column="img")] == \
        [(str(image), {"label": "Abdullah"})]
    with pytest.raises(ConfigError, match="no column 'path'"):
        list_inputs([str(tmp_path / "m.parquet")], column="path")
    with pytest.raises(ConfigError, match="one of path, uri"):
        list_inputs([str(tmp_path / "m.parquet")])


def test_uri_folders_are_listed_and_read_through_pyarrow(batch_images: Path, analyzer) -> None:
    found = [i.source for i in list_inputs([(batch_images / "Abdullah").as_uri()])]
    assert found == sorted((batch_images / "Abdullah" / n).as_uri() for n in
                           ("Abdullah_0001.jpg", "Abdullah_0002.jpg", "Abdullah_0003.jpg"))
    read = SourceReader()
    assert (read(found[0]) == analyzer.load(batch_images / "Abdullah" / "Abdullah_0001.jpg")).all()
    truncated = (batch_images / "bad" / "truncated.jpg").as_uri()
    with pytest.raises(ImageDecodeError, match=f"^{truncated}: corrupt or truncated"):
        read(truncated)
    with pytest.raises(ImageNotFoundError, match="missing.jpg: no such file"):
        read((batch_images / "missing.jpg").as_uri())


def test_nothing_found_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError, match="no images found"):
        list_inputs([str(tmp_path)])
    with pytest.raises(ImageNotFoundError, match="no such file or directory"):
        list_inputs([(tmp_path / "nowhere").as_uri()])


def test_partitions_are_fixed_size_and_pending_ones_lack_a_file(batch_images: Path, tmp_path: Path) -> None:
    items = list_inputs([str(batch_images)])
    partitions = make_partitions(items, 3)
    assert [len(p.inputs) for p in partitions] == [3] * (len(items) // 3) + ([len(items) % 3] if len(items) % 3 else [])
    assert [i for p in partitions for i in p.inputs] == items
    write_atomically(tmp_path, partition_file_name(1), b"done")
    assert [p.index for p in pending_partitions(partitions, tmp_path)] == [p.index for p in partitions if p.index != 1]
    assert [p.name for p in tmp_path.iterdir()] == [partition_file_name(1)]  # no temporary file left
    with pytest.raises(ConfigError, match="positive integer"):
        make_partitions(items, 0)


def test_job_manifest_refuses_another_configuration(batch_images: Path, tmp_path: Path) -> None:
    items = list_inputs([str(batch_images)])
    balanced = job_manifest(AnalyzerConfig(), items, 4, [])
    prepare_job(tmp_path, balanced)
    recorded = json.loads((tmp_path / JOB_FILE).read_text())
    assert recorded["config"]["recognizer"] == "edgeface-xs" and recorded["recognizer"]["name"] == "edgeface-xs"
    assert set(recorded["models"]) == {"yunet", "retinaface-mnet025-onnx", "edgeface-xs"} and recorded["facetrust"]
    prepare_job(tmp_path, job_manifest(AnalyzerConfig(device="cuda"), items, 4, []))  # the device may differ
    for other, what in ((job_manifest(AnalyzerConfig(recognizer="edgeface-xxs"), items, 4, []), "recognizer"),
                        (job_manifest(AnalyzerConfig(checks=("quality",)), items, 4, []), "checks"),
                        (job_manifest(AnalyzerConfig(), items, 5, []), "partition_size"),
                        (job_manifest(AnalyzerConfig(), items[1:], 4, []), "inputs")):
        with pytest.raises(OutputMismatchError, match=what):
            prepare_job(tmp_path, other)
