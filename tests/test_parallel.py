"""analyze_paths: chunked, batched analysis in worker processes gives what per-image analysis gives."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from facetrust import parallel
from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
from facetrust.errors import FacetrustError, MultipleFacesError
from facetrust.parallel import analyze_paths, map_with_analyzer, process_chunk, worker_threads
from facetrust.runtime import THREADS_ENV

FAST = AnalyzerConfig(detector="yunet", recognizer="edgeface-xxs")


@pytest.fixture(scope="module")
def images(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Real LFW images (more than two chunks), a two-face and a five-face photo, and a corrupt file."""
    lfw = sorted((shared / "data" / "lfw").glob("A*/*_0001.jpg"))[:36]
    broken = tmp_path_factory.mktemp("parallel") / "truncated.jpg"
    broken.write_bytes(lfw[0].read_bytes()[:300])
    faces = shared / "data" / "faces"
    group = [faces / "ageitgey_face_recognition/examples/two_people.jpg",
             faces / "timesler_facenet-pytorch/data/multiface.jpg"]
    return lfw[:10] + group[:1] + [broken] + lfw[10:] + group[1:]


@pytest.fixture(scope="module")
def reference(images: list[Path]) -> list:
    """One image at a time, in this process: the path batching must reproduce."""
    analyzer = FaceAnalyzer(FAST)
    out = []
    for path in images:
        try:
            out.append(analyzer.analyze(path, keep_aligned=True))
        except FacetrustError as exc:  # the corrupt file
            out.append(exc)
    return out


def assert_same(results: list[parallel.ImageResult], reference: list, images: list[Path]) -> None:
    assert [r.path for r in results] == images
    for result, expected in zip(results, reference):
        if isinstance(expected, Exception):
            assert result.error == str(expected)
            continue
        assert result.error is None
        assert len(result.faces) == len(expected)
        for face, want in zip(result.faces, expected):
            assert face.box == want.box
            np.testing.assert_allclose(face.landmarks, want.landmarks, atol=1e-4)
            np.testing.assert_allclose(face.embedding, want.embedding, atol=1e-5)
            np.testing.assert_array_equal(face.aligned, want.aligned)


@pytest.mark.parametrize("workers", [1, 2])
def test_batched_analysis_equals_per_image_analysis(images, reference, workers: int) -> None:
    results = list(analyze_paths(images, FAST, embed=True, workers=workers, keep_aligned=True))
    assert_same(results, reference, images)
    assert sum(len(r.faces) for r in results) > len(images)  # the group photos are in the batches
    assert sum(r.error is not None for r in results) == 1


def test_a_chunk_over_its_pixel_budget_is_analysed_in_several_batches(images, reference, monkeypatch) -> None:
    calls = []
    analyzer = FaceAnalyzer(FAST)
    batch = analyzer.analyze_batch
    monkeypatch.setattr(analyzer, "analyze_batch", lambda imgs, **kw: calls.append(len(imgs)) or batch(imgs, **kw))
    monkeypatch.setattr(parallel, "CHUNK_PIXELS", 3 * 250 * 250)
    results = process_chunk(analyzer, images, embed=True, keep_aligned=True)
    assert_same(results, reference, images)
    assert len(calls) > 1 and max(calls) <= 3


def test_worker_threads_share_the_cores(monkeypatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    cores = os.cpu_count() or 1
    assert worker_threads(1) == cores
    assert worker_threads(cores) == 1
    assert worker_threads(4 * cores) == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert worker_threads(2) == 3


def _session_threads(analyzer: FaceAnalyzer) -> tuple[int, int]:
    return (analyzer.detector._session.get_session_options().intra_op_num_threads,
            analyzer.recognizer._session.get_session_options().intra_op_num_threads)


def test_each_worker_session_gets_its_share_of_threads_and_the_parent_keeps_its_own(monkeypatch) -> None:
    monkeypatch.delenv(THREADS_ENV, raising=False)
    got = list(map_with_analyzer(_session_threads, [()] * 4, FAST, workers=2))
    assert got == [(worker_threads(2), worker_threads(2))] * 4
    assert THREADS_ENV not in os.environ
    assert _session_threads(FaceAnalyzer(FAST)) == (os.cpu_count(), os.cpu_count())


class SingleFaceCheck:
    """A plugin check (``test_parallel:SingleFaceCheck``) that refuses images with several faces."""

    name = "single_face"

    def __call__(self, image: np.ndarray, faces: list) -> None:
        if len(faces) > 1:
            raise MultipleFacesError(f"{len(faces)} faces; this check wants one")
        for face in faces:
            face.extras[self.name] = True


def test_an_image_that_fails_inside_a_batch_fails_alone(images, reference) -> None:
    config = AnalyzerConfig(detector="yunet", recognizer="edgeface-xxs", checks=("test_parallel:SingleFaceCheck",))
    results = list(analyze_paths(images, config, embed=True, workers=1, keep_aligned=True))
    refused = [i for i, faces in enumerate(reference) if not isinstance(faces, Exception) and len(faces) > 1]
    assert refused  # the group photos
    for i in refused:
        assert results[i].error == f"{len(reference[i])} faces; this check wants one"
    kept = [i for i in range(len(images)) if i not in refused]
    assert_same([results[i] for i in kept], [reference[i] for i in kept], [images[i] for i in kept])
    assert all(face.extras["single_face"] for i in kept for face in results[i].faces)
