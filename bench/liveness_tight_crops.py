"""How often the tight-crop rule (``context_scale`` < ``MIN_CONTEXT_SCALE``) fires, per kind of input.

For the largest face YuNet finds in each image: the scale the reference's 2.7x crop can
actually be cut at (the MiniFASNetV2 window capped to the image) and whether it is below
1.5 — the rule the checker applies before any model runs (the grayscale rule is left out
here, so grayscale LFW-a can be used for the geometry). Sets:

* tight face crops, which should be recognised: UTKFace's 200x200 crops (all 9,780);
  112x112 ArcFace-aligned crops made with ``FaceAnalyzer.extract`` from the UTKFace
  evaluation split, from every 10th LFW-a image and from the colour photos of
  ``../shared/data/faces``; facenet-pytorch's 160x160 aligned crops;
* scene images, which should not be: LFW-a 250x250 (all 13,233; LFW's own framing, the
  detector's box x 2.2), the two colour LFW originals, the other colour photos of
  ``../shared/data/faces``, the three spoof-set camera frames.

    nice python bench/liveness_tight_crops.py      # markdown table; JSON to bench/results/
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Iterable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, SHARED  # noqa: E402

import numpy as np  # noqa: E402

from facetrust.analyzer import FaceAnalyzer  # noqa: E402
from facetrust.liveness.checker import MIN_CONTEXT_SCALE, context_scale  # noqa: E402
from facetrust.liveness.evaluation import utkface_split  # noqa: E402

SUFFIXES = {".jpg", ".jpeg", ".png"}
SCALE = 2.7  # MiniFASNetV2's, the smallest context scale of the default model
FACES = SHARED / "data" / "faces"


def context_of(analyzer: FaceAnalyzer, image: np.ndarray) -> float | None:
    faces = analyzer.detect_rgb(image)
    if not faces:
        return None
    height, width = image.shape[:2]
    return context_scale(faces[0].box, width, height, SCALE)


def measure(analyzer: FaceAnalyzer, name: str, images: Iterable[np.ndarray], total: int) -> dict:
    started = time.perf_counter()
    scales = []
    for done, image in enumerate(images, start=1):
        scales.append(context_of(analyzer, image))
        if done % 1000 == 0:
            rate = done / (time.perf_counter() - started)
            print(f"{name}: {done}/{total}, {rate:.1f}/s", file=sys.stderr, flush=True)
    found = np.array([s for s in scales if s is not None])
    tight = int(np.sum(found < MIN_CONTEXT_SCALE))
    return {"set": name, "images": len(scales), "no_face": len(scales) - len(found), "tight": tight,
            "tight_share": round(tight / len(found), 4) if len(found) else None,
            "context_min_median_max": [round(float(v), 2) for v in np.percentile(found, [0, 50, 100])]
            if len(found) else None}


def loaded(analyzer: FaceAnalyzer, paths: list[Path]) -> Iterable[np.ndarray]:
    return (analyzer.load(p) for p in paths)


def aligned(analyzer: FaceAnalyzer, paths: list[Path]) -> Iterable[np.ndarray]:
    """112x112 ArcFace crops of every face found (facetrust extract)."""
    for path in paths:
        for face in analyzer.extract(path, size=112):
            yield face.aligned


def main() -> list[dict]:
    analyzer = FaceAnalyzer(detector="yunet")
    utk = sorted((SHARED / "data" / "utkface" / "images").glob("*.jpg"))
    lfw = sorted((SHARED / "data" / "lfw").glob("*/*.jpg"))
    photos = sorted(p for p in FACES.rglob("*") if p.suffix.lower() in SUFFIXES)
    facenet_aligned = [p for p in photos if "aligned" in p.parts[-3]]
    colour_lfw = [p for p in photos if p.parent.name == "davidsandberg_facenet"]
    scenes = [p for p in photos if p not in facenet_aligned and p not in colour_lfw]
    spoof = sorted((SHARED / "data" / "spoof" / "silent_face").glob("*.jpg"))
    utk_eval = [p for p in utk if utkface_split(p.name) == "eval"]
    rows = []
    for name, images, total in (
            ("UTKFace 200x200 crops (all)", loaded(analyzer, utk), len(utk)),
            ("112x112 ArcFace crops of the UTKFace eval split", aligned(analyzer, utk_eval), len(utk_eval)),
            ("112x112 ArcFace crops of every 10th LFW-a image", aligned(analyzer, lfw[::10]), len(lfw[::10])),
            ("112x112 ArcFace crops of the colour photos", aligned(analyzer, scenes), len(scenes)),
            ("facenet-pytorch 160x160 aligned crops", loaded(analyzer, facenet_aligned), len(facenet_aligned)),
            ("LFW-a 250x250 (all)", loaded(analyzer, lfw), len(lfw)),
            ("colour LFW originals 250x250", loaded(analyzer, colour_lfw), len(colour_lfw)),
            ("colour photos of ../shared/data/faces (not crops)", loaded(analyzer, scenes), len(scenes)),
            ("spoof-set camera frames (1 live, 2 attacks)", loaded(analyzer, spoof), len(spoof))):
        rows.append(measure(analyzer, name, images, total))
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    rows = main()
    (RESULTS / "liveness_tight_crops.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\nrule: tight when the 2.7x crop is capped below {MIN_CONTEXT_SCALE}\n")
    print("| set | images (crops for 112x112) | no face | called tight | share of faces | context scale "
          "min / median / max |\n|---|---|---|---|---|---|")
    for r in rows:
        share = "–" if r["tight_share"] is None else f"{r['tight_share']:.4f}"
        spread = " / ".join(map(str, r["context_min_median_max"] or [])) or "–"
        print(f"| {r['set']} | {r['images']} | {r['no_face']} | {r['tight']} | {share} | {spread} |")
