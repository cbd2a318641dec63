from __future__ import annotations

import os

import pytest

from facetrust.errors import ImageNotFoundError
from facetrust.io import expand_inputs


def test_folder_is_walked_recursively_and_sorted(faces_dir):
    found = expand_inputs([str(faces_dir / "examples" / "knn_examples")])
    names = [p.name for p in found]
    assert "obama_and_biden.jpg" in names and "john1.jpeg" in names
    assert found == sorted(found)
    assert not any(p.suffix == ".csv" for p in found)


def test_glob_and_videos(faces_dir):
    found = expand_inputs([str(faces_dir / "examples" / "obama*.jpg")])
    assert {p.name for p in found} >= {"obama.jpg", "obama2.jpg", "obama-240p.jpg"}
    assert not any(p.suffix == ".mp4" for p in expand_inputs([str(faces_dir / "examples")]))
    assert any(p.suffix == ".mp4" for p in expand_inputs([str(faces_dir / "examples")], allow_video=True))


def test_missing_inputs(tmp_path):
    with pytest.raises(ImageNotFoundError, match="no such file"):
        expand_inputs([str(tmp_path / "missing.jpg")])
    with pytest.raises(ImageNotFoundError, match="no images found"):
        expand_inputs([str(tmp_path)])


def test_folder_keeps_unreadable_entries_to_report_them(tmp_path):
    """A FIFO, a dangling link or a device named like an image is listed (reading it then
    reports it); a folder named like an image is walked, not listed."""
    (tmp_path / "pipe.png").parent.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    (tmp_path / "mem.jpg").symlink_to("/proc/self/mem")
    (tmp_path / "album.jpg").mkdir()
    (tmp_path / "album.jpg" / "inner.jpg").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not media")
    names = [p.relative_to(tmp_path).as_posix() for p in expand_inputs([str(tmp_path)])]
    assert names == ["album.jpg/inner.jpg", "gone.jpg", "mem.jpg", "pipe.png"]
