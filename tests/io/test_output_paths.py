"""The output path rule shared by --annotate and extract, and atomic image writes in the input's format."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facetrust.errors import OutputError
from facetrust.extract import crop_name_bases
from facetrust.io import load_image
from facetrust.io.outputs import output_suffix, prepare_out_dir, relative_targets, write_image


def test_same_names_in_two_folders_keep_their_folders(tmp_path: Path) -> None:
    inputs = [Path("a/x.jpg"), Path("b/x.jpg"), Path("b/deep/y.png")]
    assert relative_targets(inputs, tmp_path) == {
        Path("a/x.jpg"): tmp_path / "a" / "x.jpg", Path("b/x.jpg"): tmp_path / "b" / "x.jpg",
        Path("b/deep/y.png"): tmp_path / "b" / "deep" / "y.png"}
    # Relative and absolute spellings of the inputs give the same layout; one input lands in OUT.
    absolute = [Path(os.path.abspath(p)) for p in inputs]
    assert list(relative_targets(absolute, tmp_path).values()) == list(relative_targets(inputs, tmp_path).values())
    assert relative_targets([Path("/data/photos/2020/x.jpg")], tmp_path) == {
        Path("/data/photos/2020/x.jpg"): tmp_path / "x.jpg"}


def test_input_format_is_kept_for_common_formats_only() -> None:
    assert [output_suffix(Path(f"x{s}")) for s in (".jpg", ".JPEG", ".png", ".webp", ".tif", ".bmp")] == \
        [".jpg", ".jpeg", ".png", ".webp", ".tif", ".bmp"]
    assert [output_suffix(Path(f"x{s}")) for s in (".gif", ".pgm", ".ppm", "")] == [".png"] * 4


def test_crop_names_never_collide(tmp_path: Path) -> None:
    inputs = [Path("a/x.jpg"), Path("b/x.jpg"), Path("b/x.png"), Path("b/y.gif")]
    as_png = crop_name_bases(inputs, tmp_path, "png")
    assert as_png[Path("a/x.jpg")] == (tmp_path / "a" / "x", ".png")
    # x.jpg and x.png of one folder would both write b/x_0.png: they keep their whole names.
    assert as_png[Path("b/x.jpg")] == (tmp_path / "b" / "x.jpg", ".png")
    assert as_png[Path("b/x.png")] == (tmp_path / "b" / "x.png", ".png")
    assert as_png[Path("b/y.gif")] == (tmp_path / "b" / "y", ".png")
    as_input = crop_name_bases(inputs, tmp_path, "input")
    assert as_input[Path("b/x.jpg")] == (tmp_path / "b" / "x", ".jpg")
    assert as_input[Path("b/x.png")] == (tmp_path / "b" / "x", ".png")


@pytest.mark.parametrize("suffix, pil_format", [(".jpg", "JPEG"), (".png", "PNG"), (".webp", "WEBP"),
                                                (".tiff", "TIFF"), (".gif", "PNG")])
def test_write_image_in_the_format_its_suffix_names(tmp_path: Path, astronaut: np.ndarray, suffix: str,
                                                    pil_format: str) -> None:
    target = write_image(astronaut, tmp_path / "sub" / f"out{suffix}")
    with Image.open(target) as written:
        assert written.format == pil_format and written.size == (512, 512)
    difference = np.abs(load_image(target).astype(int) - astronaut).mean()
    assert difference == 0 if pil_format in ("PNG", "TIFF") else difference < 3  # lossy at quality 95
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary file left behind


def test_unwritable_outputs_are_output_errors(tmp_path: Path, astronaut: np.ndarray) -> None:
    a_file = tmp_path / "file"
    a_file.write_bytes(b"x")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        prepare_out_dir(a_file, f"--out {a_file}")
    with pytest.raises(OutputError, match="cannot create the folder"):
        prepare_out_dir(a_file / "below", "--out")
    with pytest.raises(OutputError, match="cannot write"):
        write_image(astronaut, a_file / "x.png")
    assert a_file.read_bytes() == b"x"
