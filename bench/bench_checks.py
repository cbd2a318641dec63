"""Cost of the per-face checks (quality, liveness, forgery) on top of the face pipeline, and
MiniFASNet in facetrust (ONNX) vs the official PyTorch model, same crops, same run.

The image set: every colour photo with exactly one face in ``../shared/data`` that the checks
are meant for (the face_recognition and facenet-pytorch example photos, the spoof set, the
DFDC face crops), decoded once. For each image, one process:

* ``pipeline``: ``FaceAnalyzer(detector="yunet").analyze_rgb`` (detect + align + embed);
* each check alone, on the faces the pipeline found: ``check(image, faces)``.

Times are the median and mean per face over the set (after one warm-up image).

Peer (needs torch, the ``[train]`` extra): the Silent-Face-Anti-Spoofing reference runs its
``.pth`` models in PyTorch; ``bench/liveness_onnx_export.py`` rebuilds that network. Both
implementations get the same two 80x80 crops per face; the row compares the two network
forward passes (crop cost excluded from both) and their largest output difference.

    python bench/bench_checks.py            # table on stdout and in bench/results/bench_checks.md
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, SHARED  # noqa: E402


def image_set() -> list[Path]:
    data = SHARED / "data"
    paths = sorted((data / "faces" / "ageitgey_face_recognition" / "examples").glob("*.jpg"))
    paths += sorted((data / "faces" / "timesler_facenet-pytorch" / "data" / "test_images").glob("*/*.jpg"))
    paths += sorted((data / "spoof" / "silent_face").glob("*.jpg"))
    paths += sorted((data / "deepfake" / "aaronchong888").rglob("*.jpg"))
    return paths


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def summarise(name: str, per_face_ms: list[float], base: float | None, note: str = "") -> list[str]:
    median = statistics.median(per_face_ms)
    ratio = "" if base is None else f"{median / base:.2f}x"
    return [name, f"{len(per_face_ms)}", f"{median:.1f}", f"{statistics.fmean(per_face_ms):.1f}", ratio, note]


def torch_peer(images: list[tuple[np.ndarray, list[Any]]]) -> list[list[str]]:
    try:
        import torch
    except ImportError:
        return [["MiniFASNet, official PyTorch (.pth)", "–", "–", "–", "–", "torch not installed: pip install -e '.[train]'"]]
    from liveness_onnx_export import load_pth

    from facetrust.liveness.crop import reference_crop
    from facetrust.liveness.minifasnet import MiniFASNetFused
    from facetrust.zoo import model_file

    torch.set_num_threads(1)  # as facetrust's ONNX sessions in worker processes (FACETRUST_THREADS=1)
    fused = MiniFASNetFused()
    peers = [load_pth(model_file(f"{m.name}-pt")) for m in fused.members]
    onnx_ms, torch_ms, diff = [], [], 0.0
    for image, faces in images:
        for face in faces:
            crops = [np.ascontiguousarray(reference_crop(image, face.box, m.scale).transpose(2, 0, 1)[None],
                                          dtype=np.float32) for m in fused.members]
            onnx_out: list[np.ndarray] = []
            onnx_ms.append(timed(lambda: onnx_out.extend(
                m._session.run(None, {m._input: c})[0] for m, c in zip(fused.members, crops))))
            torch_out: list[np.ndarray] = []
            with torch.inference_mode():
                torch_ms.append(timed(lambda: torch_out.extend(
                    p(torch.from_numpy(c)).numpy() for p, c in zip(peers, crops))))
            for a, b in zip(onnx_out, torch_out):
                soft_a, soft_b = (np.exp(x - x.max()) / np.exp(x - x.max()).sum() for x in (a, b))
                diff = max(diff, float(np.abs(soft_a - soft_b).max()))
    base = statistics.median(onnx_ms)
    return [summarise("MiniFASNet pair, facetrust ONNX (network only)", onnx_ms, None),
            summarise("MiniFASNet pair, official PyTorch .pth (network only)", torch_ms, base,
                      f"peer / facetrust; max softmax difference {diff:.1e}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="Use only the first N images (0 = all).")
    args = parser.parse_args()
    os.environ.setdefault("FACETRUST_THREADS", "1")
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.checks import create_check

    analyzer = FaceAnalyzer(detector="yunet")
    paths = image_set()[: args.limit or None]
    loaded = [analyzer.load(p) for p in paths]
    analyzer.analyze_rgb(loaded[0])  # warm-up: models load outside the timed region
    pipeline_ms: list[float] = []
    images: list[tuple[np.ndarray, list[Any]]] = []
    for image in loaded:
        faces: list[Any] = []
        elapsed = timed(lambda: faces.extend(analyzer.analyze_rgb(image)))
        if len(faces) == 1:
            pipeline_ms.append(elapsed)
            images.append((image, faces))
    base = statistics.median(pipeline_ms)
    rows = [summarise(f"pipeline ({analyzer.config.detector} + {analyzer.config.recognizer})", pipeline_ms, base)]
    configs = [("quality", {"method": "explainable"}), ("quality", {"method": "stability", "recognizer": "dlib-resnet"}),
               # The shipped learned model reads dlib-hog's detector scores; on YuNet faces this row
               # measures its cost only (the quality check itself falls back to explainable there).
               ("quality", {"method": "learned", "recognizer": "dlib-resnet", "detector": "dlib-hog"}),
               ("liveness", {}), ("forgery", {"model": "mesonet"}), ("forgery", {"model": "sbi"}),
               ("forgery", {"model": "fusion"})]
    for name, options in configs:
        check = create_check(name, analyzer, options)
        check(*images[0])  # warm-up
        per_face = [timed(lambda: check(image, faces)) for image, faces in images]
        label = f"check {name}" + "".join(f" {k}={v}" for k, v in options.items() if k in ("method", "detector"))
        rows.append(summarise(label, per_face, base, "ratio = check / pipeline"))
    rows += torch_peer(images)
    header = ["what", "faces", "median ms/face", "mean ms/face", "ratio", "note"]
    load = os.getloadavg()
    lines = [f"- {platform.machine()}, {os.cpu_count()} cores, one process, one thread per model; "
             f"{len(images)} single-face colour images of {len(paths)}; load average at end "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_checks.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
