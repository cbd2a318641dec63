"""Hostile inputs for the adversarial campaign: files on disk, in-memory arrays and hostile strings.

Every file is generated here (or cut from a real photo of ../shared), so the campaign needs no
downloads and can be rerun anywhere.
"""
from __future__ import annotations

import io
import os
import zlib
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.common import SHARED

FACES = SHARED / "data" / "faces" / "ageitgey_face_recognition"
OBAMA = FACES / "examples" / "obama.jpg"
GROUP = FACES / "examples" / "two_people.jpg"


@dataclass(frozen=True)
class FileInput:
    name: str
    path: Path


def _png_bytes(width: int, height: int, mode_byte: int = 0, bit_depth: int = 8) -> bytes:
    """A valid PNG of zeros built row by row, so a huge image costs little to make (a decompression bomb)."""
    channels = {0: 1, 2: 3, 6: 4}[mode_byte]
    row = b"\x00" + b"\x00" * (width * channels * bit_depth // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, mode_byte, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def _save(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    image = Image.open(io.BytesIO(jpeg))
    exif = image.getexif()
    exif[0x0112] = orientation
    return _save(image, "JPEG", exif=exif.tobytes())


def make_files(folder: Path) -> list[FileInput]:
    """Write the hostile files into ``folder`` and return them (plus a few special paths)."""
    folder.mkdir(parents=True, exist_ok=True)
    face_jpeg = OBAMA.read_bytes()
    face = Image.open(OBAMA).convert("RGB")
    face_png = _save(face, "PNG")
    rng = np.random.default_rng(0)
    contents: dict[str, bytes] = {
        "empty.jpg": b"",
        "text.jpg": b"hello, I am not an image\n",
        "random.jpg": rng.bytes(4096),
        "random.png": rng.bytes(100_000),
        "html.png": b"<html><body><img src=x onerror=alert(1)></body></html>",
        "pdf.jpg": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "zip.jpg": b"PK\x03\x04" + rng.bytes(200),
        "elf.jpg": Path("/bin/ls").read_bytes()[:65536],
        "jpeg_header_only.jpg": face_jpeg[:200],
        "jpeg_cut_30.jpg": face_jpeg[: len(face_jpeg) * 3 // 10],
        "jpeg_cut_60.jpg": face_jpeg[: len(face_jpeg) * 6 // 10],
        "jpeg_cut_95.jpg": face_jpeg[: len(face_jpeg) * 95 // 100],
        "png_cut_50.png": face_png[: len(face_png) // 2],
        "png_bad_crc.png": face_png[:40] + bytes([face_png[40] ^ 0xFF]) + face_png[41:],
        "bomb_400mp.png": _png_bytes(20_000, 20_000),
        "bomb_1gp_rgba.png": _png_bytes(32_000, 32_000, mode_byte=6),
        "wide_49mp.png": _png_bytes(7_000, 7_000),
        "tall_1x40000.png": _png_bytes(1, 40_000),
        "jpeg_49mp_black.jpg": _save(Image.new("L", (7_000, 7_000)), "JPEG", quality=10),
        "tiny_1x1.png": _save(Image.new("RGB", (1, 1)), "PNG"),
        "tiny_8x8.jpg": _save(face.resize((8, 8)), "JPEG"),
        "cmyk.jpg": _save(face.convert("CMYK"), "JPEG"),
        "palette_transparent.png": _save(face.convert("P"), "PNG", transparency=0),
        "la.png": _save(face.convert("LA"), "PNG"),
        "gray16.png": _save(Image.fromarray((np.asarray(face.convert("L"), np.uint16) * 257)), "PNG"),
        "float32.tiff": _save(Image.fromarray(np.asarray(face.convert("L"), np.float32)), "TIFF"),
        "multipage.tiff": _save(face, "TIFF", save_all=True, append_images=[face.rotate(90)]),
        "animated.gif": _save(face.convert("P"), "GIF", save_all=True, append_images=[face.rotate(10).convert("P")]),
        "face.webp": _save(face, "WEBP"),
        "face.bmp": _save(face, "BMP"),
        "face.ico": _save(face, "ICO"),
        "gray_face.jpg": _save(face.convert("L"), "JPEG"),
        "rgba_face.png": _save(face.convert("RGBA"), "PNG"),
        "no_face.png": _save(Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)), "PNG"),
        "uniform_white.jpg": _save(Image.new("RGB", (640, 480), "white"), "JPEG"),
        "group.jpg": GROUP.read_bytes(),
        "exif_bad_orientation.jpg": _exif_orientation(face_jpeg, 99),
        "truncated.mp4": b"\x00\x00\x00\x18ftypmp42" + rng.bytes(3000),
        "text.mp4": b"not a video at all",
        "empty.mp4": b"",
        "name with spaces & ünïcödé ‮gpj.jpg": face_jpeg,
        ("x" * 200) + ".jpg": face_jpeg,
    }
    for orientation in range(1, 9):
        contents[f"exif_orientation_{orientation}.jpg"] = _exif_orientation(face_jpeg, orientation)
    inputs = []
    for name, data in contents.items():
        path = folder / name
        path.write_bytes(data)
        inputs.append(FileInput(name, path))
    special = folder / "special"
    special.mkdir(exist_ok=True)
    (special / "directory.jpg").mkdir(exist_ok=True)
    fifo = special / "fifo.jpg"
    if not fifo.exists():
        os.mkfifo(fifo)
    for link, target in (("dangling.jpg", special / "missing.jpg"), ("loop.jpg", special / "loop.jpg")):
        if not (special / link).is_symlink():
            (special / link).symlink_to(target)
    inputs += [FileInput(p.name, p) for p in (special / "directory.jpg", fifo, special / "dangling.jpg",
                                               special / "loop.jpg")]
    inputs += [FileInput("proc_self_mem", Path("/proc/self/mem")), FileInput("dev_null", Path("/dev/null")),
               FileInput("dev_zero", Path("/dev/zero")), FileInput("missing", folder / "does_not_exist.jpg")]
    return inputs


def hostile_arrays() -> dict[str, Any]:
    """In-memory image inputs a Python caller might pass: wrong dtypes, shapes, values and types."""
    face = np.asarray(Image.open(OBAMA).convert("RGB"))
    nan = face.astype(np.float64) / 255
    nan[10:20, 10:20] = np.nan
    return {
        "float64_nan": nan,
        "float64_inf": np.full((120, 120, 3), np.inf),
        "float64_negative": -face.astype(np.float64),
        "float64_over_1": face.astype(np.float64),
        "float16": (face / 255).astype(np.float16),
        "int64": face.astype(np.int64) * 10**12,
        "int8": face.astype(np.int8),
        "uint32": face.astype(np.uint32),
        "bool": face > 128,
        "complex": face.astype(np.complex64),
        "object": np.array([[None, "a"], [1, 2.0]], dtype=object),
        "strings": np.array([["a", "b"], ["c", "d"]]),
        "empty_0x0x3": np.zeros((0, 0, 3), np.uint8),
        "empty_10x0": np.zeros((10, 0), np.uint8),
        "channels_5": np.zeros((64, 64, 5), np.uint8),
        "channels_2": np.zeros((64, 64, 2), np.uint8),
        "one_d": np.zeros(1000, np.uint8),
        "four_d": np.zeros((2, 64, 64, 3), np.uint8),
        "tiny_1x1x3": np.zeros((1, 1, 3), np.uint8),
        "huge_virtual_view": np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (60_000, 60_000, 3)),
        "non_contiguous": face[::2, ::-3],
        "fortran": np.asfortranarray(face),
        "read_only": np.frombuffer(face.tobytes(), np.uint8).reshape(face.shape),
        "bgr_as_rgb_uint16": face.astype(np.uint16) * 300,
        "none": None,
        "int": 42,
        "dict": {"image": "x"},
        "list_of_lists": [[0, 1], [2, 3]],
        "empty_bytes": b"",
        "random_bytes": np.random.default_rng(1).bytes(1000),
        "bytearray_face": bytearray(OBAMA.read_bytes()),
        "memoryview_face": memoryview(OBAMA.read_bytes()),
        "str_not_a_path": "definitely/not/here.jpg",
        "str_empty": "",
        "str_nul": "a\x00b.jpg",
        "str_huge": "x" * 100_000,
        "pil_mode_1": Image.fromarray(face).convert("1"),
        "pil_mode_I": Image.fromarray(face).convert("I"),
        "pil_mode_F": Image.fromarray(face).convert("F"),
        "pil_mode_CMYK": Image.fromarray(face).convert("CMYK"),
        "pil_mode_P": Image.fromarray(face).convert("P"),
        "pil_mode_LAB": Image.fromarray(face).convert("LAB"),
        "pil_zero_size": Image.new("RGB", (0, 0)),
        "open_file_object": io.BytesIO(OBAMA.read_bytes()),
    }


HOSTILE_IDS = [
    ".", "..", "%2E%2E", "a/b", "../../etc/passwd", "a\\b", "\u202egnp.exe", "tab\tid", "new\nline", "nul\x00id",
    "bell\x07", "x" * 10_000, "", " ", " padded ", "😀", "名前", "a%2Fb", "?query=1", "#frag", "a;drop table x",
    "' OR 1=1 --", "<script>alert(1)</script>", "\ufeffbom", "\u200bzero-width", "CON", "a" * 257,
]

HOSTILE_NUMBERS = ["-1", "0", "1e20", "1e30", "-1e30", "nan", "inf", "-inf", "x", "", "9" * 400, "1.5", "0x10",
                   "2147483648", "-9223372036854775809", "1_000"]


def nested_metadata(depth: int) -> str:
    """JSON text of ``depth`` nested objects, built without recursion."""
    return '{"a":' * depth + "1" + "}" * depth
