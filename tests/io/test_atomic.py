"""atomic_file: the new contents replace the file only when the block ends; a failure keeps the old file."""
from __future__ import annotations

import pytest

from facetrust.io.atomic import atomic_file


def test_contents_replace_the_file_only_when_the_block_ends(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with atomic_file(target, "w", encoding="utf-8") as stream:
        stream.write("new")
        assert target.read_text() == "old"  # readers still see the whole old file
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "photos.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(target) as stream:
            stream.write(b"half")
            raise RuntimeError("disk pulled")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["photos.npz"]
