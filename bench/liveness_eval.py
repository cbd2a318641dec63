"""Liveness on the only real PAD data we have, and its speed against the reference PyTorch models.

**This is a smoke test, not a benchmark.** The attack set is the 3 sample photos
of Silent-Face-Anti-Spoofing (``../shared/data/spoof``: one printed-photo attack,
one screen-replay attack, one live face). As extra bona fide presentations it
adds every colour image under ``../shared/data/faces`` (press and test photos of
real people, including 160x160 pre-aligned crops; LFW-a is grayscale and cannot
be used). One or two attacks per species cannot resolve any APCER below 100 %
in steps finer than 100 %, so the numbers show that the pipeline runs end to end
and how the configurations behave on these files — nothing about real-world
attack detection rates.

    python bench/liveness_eval.py                        # accuracy table + report folder
    python bench/liveness_eval.py --speed 200            # + ms per face vs PyTorch (needs torch)

Configurations: the default ``minifasnet`` (both networks fused) with YuNet,
RetinaFace and dlib-HOG face boxes, and each network alone (YuNet boxes). Per
configuration the full ISO/IEC 30107-3 report (report.json/.md/.html, DET plot,
presentations.csv) goes to ``bench/results/liveness/<configuration>/``, and the
table to stdout and ``bench/results/liveness.md``.

Speed (``--speed N``): milliseconds per face for the liveness step alone (crop +
model, both networks), on the 3 spoof-set faces, each checked N times after a
warm-up, one thread: facetrust (onnxruntime) vs the same two networks in
PyTorch with the official ``.pth`` weights loaded once (built by
``bench/liveness_onnx_export.py``; the reference code itself reloads the weights
from disk on every call, which we do not count against it). Ratio = PyTorch ms /
facetrust ms.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("FACETRUST_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, SHARED  # noqa: E402

import numpy as np  # noqa: E402

from facetrust.liveness import LivenessChecker  # noqa: E402
from facetrust.liveness.evaluation import Presentation, evaluate, read_labels, write_pad_report  # noqa: E402

CONFIGURATIONS = (("minifasnet", "yunet"), ("minifasnet", "retinaface"), ("minifasnet", "dlib-hog"),
                  ("minifasnet-v2", "yunet"), ("minifasnet-v1se", "yunet"))
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


def presentations() -> list[Presentation]:
    spoof = read_labels(SHARED / "data" / "spoof" / "labels.csv")
    faces = sorted(p for p in (SHARED / "data" / "faces").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return spoof + [Presentation(p, True, "bona fide") for p in faces]


def accuracy(items: list[Presentation]) -> list[dict[str, object]]:
    rows = []
    for model, detector in CONFIGURATIONS:
        checker = LivenessChecker(model=model, detector=detector)
        result, scored = evaluate(checker, items)
        label = f"{model}_{detector}"
        write_pad_report(result, scored, RESULTS / "liveness" / label, SHARED / "data")
        m = result["metrics"][checker.name]
        attacks = {s.presentation.attack_type: s for s in scored if not s.presentation.bona_fide}
        live_scores = [s.score for s in scored if s.presentation.bona_fide and s.score is not None]
        rows.append({"configuration": f"{model} + {detector}",
                     **{f"{k} P(live)": f"{s.score:.3f}" if s.score is not None else s.status
                        for k, s in attacks.items()},
                     "APCER max": f"{m['apcer_max']:.2f}", "BPCER": f"{m['bpcer']:.3f}",
                     "bona fide with a decision": m["n_bona_fide"], "BPNRR": f"{m['bpnrr']:.3f}",
                     "lowest bona fide P(live)": f"{min(live_scores):.3f}"})
    return rows


def speed(repeats: int) -> list[dict[str, object]]:
    try:
        import torch
        from liveness_onnx_export import MODELS, load_pth
    except ImportError as exc:
        print(f"speed comparison skipped: {exc} (pip install torch)", file=sys.stderr)
        return []
    from facetrust.liveness.crop import reference_crop

    torch.set_num_threads(1)
    checker = LivenessChecker()
    images, boxes = [], []
    for path in sorted((SHARED / "data" / "spoof" / "silent_face").glob("*.jpg")):
        image = checker.analyzer.load(path)
        images.append(image)
        boxes.append(checker.analyzer.detect(image)[0].box)
    networks = [(load_pth(SHARED / "models" / pth), 2.7 if "2.7" in pth else 4.0) for pth, _ in MODELS.values()]

    def torch_check(image: np.ndarray, box: tuple[float, ...]) -> float:
        summed = np.zeros(3)
        with torch.no_grad():
            for network, scale in networks:
                crop = torch.from_numpy(reference_crop(image, box, scale).transpose(2, 0, 1)[None].astype(np.float32))
                summed += torch.softmax(network(crop), dim=1).numpy()[0]
        return float(summed[1] / 2)

    def facetrust_check(image: np.ndarray, box: tuple[float, ...]) -> float:
        return checker.check_face(image, box).score

    timings = {}
    for name, fn in (("facetrust (onnxruntime)", facetrust_check), ("PyTorch, official .pth", torch_check)):
        for image, box in zip(images, boxes):
            fn(image, box)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            for image, box in zip(images, boxes):
                fn(image, box)
        timings[name] = (time.perf_counter() - start) / (repeats * len(images)) * 1000
    agree = max(abs(facetrust_check(i, b) - torch_check(i, b)) for i, b in zip(images, boxes))
    base = timings["facetrust (onnxruntime)"]
    print(f"max |score facetrust - score PyTorch| on these faces: {agree:.2e}")
    return [{"implementation": name, "ms per face": f"{ms:.2f}", "ratio vs facetrust": f"{ms / base:.2f}x"}
            for name, ms in timings.items()]


def markdown(rows: list[dict[str, object]]) -> str:
    if not rows:
        return ""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r.get(h, "")) for h in header) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=int, default=0, help="Repeats per face for the speed comparison (0 = skip).")
    args = parser.parse_args()
    items = presentations()
    n_live = sum(p.bona_fide for p in items)
    print(f"{len(items)} presentations: {n_live} bona fide, {len(items) - n_live} attacks "
          f"({', '.join(sorted({p.attack_type for p in items if not p.bona_fide}))})")
    tables = [("Accuracy (smoke test, threshold 0.5)", accuracy(items))]
    if args.speed:
        tables.append((f"Speed: ms per face, liveness step only, 1 thread, {args.speed} repeats", speed(args.speed)))
    text = [f"# Liveness bench ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)", ""]
    for title, rows in tables:
        if rows:
            text += [f"## {title}", "", markdown(rows), ""]
            print(f"\n{title}\n{markdown(rows)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "liveness.md").write_text("\n".join(text))


if __name__ == "__main__":
    main()
