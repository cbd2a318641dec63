"""The gallery surface (Python API): hostile ids, vectors, numbers, files; then a data-loss check.

A baseline of identities is enrolled first; every hostile call follows; at the end each baseline
identity must still be there with its templates, and the integrity check must pass.
"""
from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import numpy as np

from bench.campaign.api_surface import attempt
from bench.campaign.corpus import HOSTILE_IDS, OBAMA
from bench.campaign.outcomes import Tally

BASELINE = 20


def _baseline_vectors(dimension: int) -> np.ndarray:
    vectors = np.random.default_rng(7).normal(size=(BASELINE, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def run(work: Path) -> Tally:
    from facetrust.gallery import Gallery

    tally = Tally("Gallery (Python API)")
    location = work / "campaign.gallery"
    shutil.rmtree(location, ignore_errors=True)
    if location.exists():
        location.unlink()
    gallery = Gallery.create(location)
    dimension = gallery.model.dim
    baseline = _baseline_vectors(dimension)
    for i, vector in enumerate(baseline):
        gallery.enroll(f"base-{i}", embeddings=vector[None])
    # Hostile ids get a vector of their own, so that the baseline searches below stay unambiguous.
    vector = _baseline_vectors(dimension)[0] * -1

    for identity in HOSTILE_IDS:
        attempt(tally, f"enroll id {identity[:20]!r}", lambda i=identity: gallery.enroll(i, embeddings=vector[None]))
        attempt(tally, f"get id {identity[:20]!r}", lambda i=identity: gallery.get(i))
        attempt(tally, f"update id {identity[:20]!r}", lambda i=identity: gallery.update(i, name="x"))
        attempt(tally, f"remove id {identity[:20]!r}", lambda i=identity: gallery.remove(i))
    for case, value in {
        "wrong dimension": np.ones((1, dimension + 1), np.float32),
        "nan": np.full((1, dimension), np.nan, np.float32),
        "inf": np.full((1, dimension), np.inf, np.float32),
        "zero": np.zeros((1, dimension), np.float32),
        "3-d": np.ones((1, 1, dimension), np.float32),
        "empty": np.zeros((0, dimension), np.float32),
        "strings": np.array([["a"] * dimension]),
        "object": [object()],
        "huge values": np.full((1, dimension), 1e38, np.float32),
        "float64": vector[None].astype(np.float64),
    }.items():
        attempt(tally, f"enroll vector {case}", lambda v=value, c=case: gallery.enroll(f"v-{c}", embeddings=v))
        attempt(tally, f"search vector {case}", lambda v=value: gallery.search_embeddings(v))
    for k in (0, -1, 10**9, 1.5, "3", None, math.nan):
        attempt(tally, f"search k={k!r}", lambda k=k: gallery.search_embeddings(baseline[:1], k=k))
    for threshold in (math.nan, math.inf, -5, "x"):
        attempt(tally, f"search threshold={threshold!r}",
                lambda t=threshold: gallery.search_embeddings(baseline[:1], threshold=t))
    for fmr in (0, -1, 2, math.nan, "x"):
        attempt(tally, f"search fmr={fmr!r}", lambda f=fmr: gallery.search_embeddings(baseline[:1], fmr=f))
    for template in (-1, 0, 10**30, 1e30, "x", None, math.nan):
        attempt(tally, f"remove_template {template!r}", lambda t=template: gallery.remove_template(t))
    for offset, limit in ((-1, 5), (10**20, 5), (0, -1), (0, 10**20), ("x", 1)):
        attempt(tally, f"list {offset!r},{limit!r}", lambda o=offset, l=limit: gallery.list(o, l))
    for depth in (100, 5_000, 100_000):
        attempt(tally, f"metadata depth {depth}", lambda d=depth: gallery.update("base-0", metadata=_deep_dict(d)))
    attempt(tally, "metadata not serialisable", lambda: gallery.update("base-0", metadata={"x": object()}))
    attempt(tally, "metadata 20 MB", lambda: gallery.update("base-0", metadata={"x": "y" * 20_000_000}))
    attempt(tally, "enroll no face image", lambda: gallery.enroll("noface", images=[work / "files" / "no_face.png"]))
    attempt(tally, "enroll group image", lambda: gallery.enroll("group", images=[work / "files" / "group.jpg"]))
    attempt(tally, "enroll corrupt image", lambda: gallery.enroll("corrupt", images=[work / "files" / "random.jpg"]))
    attempt(tally, "enroll real face", lambda: gallery.enroll("obama", images=[OBAMA]))
    _file_cases(tally, gallery, work)
    gallery.close()
    _open_cases(tally, work, location)
    _data_loss_check(tally, location, baseline)
    return tally


def _deep_dict(depth: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


def _file_cases(tally: Tally, gallery, work: Path) -> None:
    export = work / "export.jsonl.gz"
    attempt(tally, "export", lambda: gallery.export(export))
    data = export.read_bytes() if export.exists() else b""
    broken = {
        "truncated gz": data[: len(data) // 2],
        "empty gz": b"",
        "not gzip": b"hello",
        "gzip of junk": gzip.compress(b"{not json\n\x00\x01"),
        "gzip of wrong schema": gzip.compress(b'{"format": "something else"}\n{"id": 1}\n'),
    }
    for case, payload in broken.items():
        path = work / f"{case.replace(' ', '_')}.jsonl.gz"
        path.write_bytes(payload)
        attempt(tally, f"import {case}", lambda p=path: gallery.import_file(p))
    attempt(tally, "import duplicate ids", lambda: gallery.import_file(export))
    attempt(tally, "import missing file", lambda: gallery.import_file(work / "nope.jsonl.gz"))
    attempt(tally, "export into missing folder", lambda: gallery.export(work / "no" / "such" / "dir.jsonl.gz"))
    attempt(tally, "export onto a folder", lambda: gallery.export(work))
    attempt(tally, "export to /proc", lambda: gallery.export("/proc/x.jsonl.gz"))


def _open_cases(tally: Tally, work: Path, location: Path) -> None:
    from facetrust.gallery import Gallery

    junk = work / "junk.gallery"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    text = work / "text.gallery"
    text.write_text("not a database")
    for case, path in (("missing", work / "missing.gallery"), ("junk header", junk), ("text file", text),
                       ("a folder", work), ("/dev/null", Path("/dev/null"))):
        attempt(tally, f"open {case}", lambda p=path: Gallery.open(p).close())
    attempt(tally, "create over existing gallery", lambda: Gallery.create(location).close())
    attempt(tally, "create with unknown recognizer", lambda: Gallery.create(work / "r.gallery", "nope").close())
    attempt(tally, "create in missing folder", lambda: Gallery.create(work / "a" / "b" / "c.gallery").close())


def _data_loss_check(tally: Tally, location: Path, baseline: np.ndarray) -> None:
    from facetrust.gallery import Gallery

    gallery = Gallery.open(location)
    try:
        report = gallery.check()
        lost = [f"base-{i}" for i in range(len(baseline)) if not _present(gallery, f"base-{i}")]
        found = gallery.search_embeddings(baseline)
        wrong = [i for i, result in enumerate(found) if getattr(result, "identity", None) != f"base-{i}"]
        ok = getattr(report, "ok", True)
    finally:
        gallery.close()
    if lost or wrong or not ok:
        tally.add("data_lost", "baseline after campaign", f"lost={lost} wrong={wrong} integrity={report}")
    else:
        tally.add("handled", "baseline after campaign")


def _present(gallery, identity: str) -> bool:
    from facetrust.errors import IdentityNotFoundError

    try:
        return bool(gallery.get(identity).templates)
    except IdentityNotFoundError:
        return False
