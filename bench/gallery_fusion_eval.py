"""Does quality-weighted template fusion help 1:N search? Measured on LFW (docs/gallery.md).

    python bench/gallery_fusion_eval.py --templates 3 --workers 2

Identities of the LFW View-2 *test* folds 6-10 (the ``learned`` quality model was fitted on
folds 1-5, so its scores are out of sample here) with more than ``--templates`` images are
enrolled with their first ``--templates`` images (file-name order) as templates, through
:class:`~facetrust.gallery.Gallery` with each template's quality; their other images are the
mated probes. Every image of the test-fold identities that are not enrolled is a non-mated
probe. Scenario ``degraded`` replaces each identity's last enrolment image by a copy blurred
(Gaussian, sigma ``--blur``) or darkened (gain ``--gain``): what a gallery enrolled with
``quality_policy="warn"`` or ``"off"`` may hold. Faces: dlib-hog + dlib-resnet, the largest
face, embeddings from the quality feature cache of ``bench/quality_edc.py`` (computed if
missing: slow); images without a detected face are left out.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_PAIRS, LFW_ROOT, RESULTS  # noqa: E402

from facetrust.gallery.base import EnrollRecord, NewTemplate  # noqa: E402

TEST_FOLDS = frozenset(range(5, 10))


def _features(lfw: Path, pairs_file: Path, cache: Path, workers: int) -> tuple[Any, dict[str, int]]:
    """The feature table of every image of the pairs.txt identities, as bench/quality_edc.py builds it."""
    from facetrust.analyzer import AnalyzerConfig
    from facetrust.evaluation.lfw import LFW_FALLBACK_BOX, read_lfw_pairs
    from facetrust.quality.dataset import extract_features
    from quality_edc import perturbed_images

    pairs = read_lfw_pairs(pairs_file, lfw)
    fold_of = {q.parent.name: p.fold for p in pairs for q in (p.path_a, p.path_b)}
    paths = [p for name in sorted(fold_of) for p in sorted((lfw / name).glob("*.jpg"))]
    table = extract_features(paths, AnalyzerConfig(fallback_box=LFW_FALLBACK_BOX), cache, perturbed_images(pairs, paths),
                             workers=workers)
    return table, fold_of


def _face(table: Any, row: int, embedding: np.ndarray) -> Any:
    from facetrust.types import Face

    box = tuple(float(v) for v in table.boxes[row])
    return Face(box, float(table.detector_score[row]), table.landmarks[row].astype(np.float32), embedding)  # type: ignore[arg-type]


def _degraded(rgb: np.ndarray, kind: str, blur: float, gain: float) -> np.ndarray:
    if kind == "blur":
        from PIL import Image, ImageFilter

        return np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(blur)))
    return (rgb.astype(np.float64) * gain).round().astype(np.uint8)


def _metrics(mated: list[Any], truth: list[str], nonmated: list[Any], threshold: float) -> dict[str, float]:
    """Rank-1 rate; FNIR/FPIR at the calibrated threshold; FNIR at FPIR 1% (threshold from the non-mated probes)."""
    top = np.array([r.matches[0].score for r in mated])
    right = np.array([r.matches[0].identity_id == t for r, t in zip(mated, truth)])
    impostor = np.sort([r.matches[0].score for r in nonmated])
    at_1pct = float(impostor[int(np.ceil(0.99 * len(impostor))) - 1])  # FPIR <= 1%: scores above this
    return {"rank1": float(right.mean()), "fnir": float(1.0 - (right & (top >= threshold)).mean()),
            "fpir": float((impostor >= threshold).mean()),
            "fnir_at_fpir_1pct": float(1.0 - (right & (top > at_1pct)).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lfw", type=Path, default=LFW_ROOT)
    parser.add_argument("--pairs", type=Path, default=LFW_PAIRS)
    parser.add_argument("--cache", type=Path, default=RESULTS / "quality_features")
    parser.add_argument("--templates", type=int, default=3, help="enrolment images per identity")
    parser.add_argument("--method", default="learned", help="quality method of the templates")
    parser.add_argument("--blur", type=float, default=6.0, help="Gaussian sigma of the degraded copies (px)")
    parser.add_argument("--gain", type=float, default=0.08, help="gain of the darkened copies")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args()
    from facetrust.analyzer import FaceAnalyzer
    from facetrust.gallery import Gallery
    from facetrust.io.image import load_image
    from facetrust.quality import create_assessor
    from facetrust.types import Detection

    started = time.time()
    table, fold_of = _features(args.lfw, args.pairs, args.cache, args.workers)
    unit = table.embeddings / np.maximum(np.linalg.norm(table.embeddings, axis=1, keepdims=True), 1e-12)
    owner = np.array([Path(p).parent.name for p in table.paths])
    test = np.array([fold_of[o] in TEST_FOLDS for o in owner]) & table.detected
    rows_of: dict[str, list[int]] = {}
    for row in np.flatnonzero(test):
        rows_of.setdefault(str(owner[row]), []).append(int(row))
    enrolled = {name: rows for name, rows in rows_of.items() if len(rows) > args.templates}
    nonmated_rows = [r for name, rows in rows_of.items() if name not in enrolled for r in rows]
    mated_rows = [(name, r) for name, rows in enrolled.items() for r in rows[args.templates:]]
    analyzer = FaceAnalyzer()
    assessor = create_assessor(args.method, analyzer)
    recognizer = analyzer.recognizer

    scenarios: dict[str, dict[str, list[NewTemplate]]] = {"clean": {}, "blur": {}, "dark": {}}
    for name, rows in enrolled.items():
        for scenario in scenarios:
            scenarios[scenario][name] = []
        for position, row in enumerate(rows[:args.templates]):
            rgb = load_image(table.paths[row])
            embedding = unit[row]
            clean = NewTemplate(embedding, assessor.assess(rgb, _face(table, row, embedding)).score)
            scenarios["clean"][name].append(clean)
            for kind in ("blur", "dark"):
                if position < args.templates - 1:
                    scenarios[kind][name].append(clean)
                    continue
                # Same box and landmarks as the clean image: only the pixels change.
                bad = _degraded(rgb, kind, args.blur, args.gain)
                face = _face(table, row, embedding)
                vector = recognizer.embed_aligned([recognizer.align(bad, Detection(face.box, face.score,
                                                                                   face.landmarks))])[0]
                face.embedding = vector
                scenarios[kind][name].append(NewTemplate(vector, assessor.assess(bad, face).score))

    mated = unit[[r for _, r in mated_rows]]
    truth = [name for name, _ in mated_rows]
    nonmated = unit[nonmated_rows]
    queries = np.vstack([mated, nonmated])
    results: dict[str, Any] = {
        "identities": len(enrolled), "templates_per_identity": args.templates, "mated_probes": len(mated_rows),
        "nonmated_probes": len(nonmated_rows), "quality_method": args.method, "blur_sigma": args.blur,
        "dark_gain": args.gain, "scenarios": {}}
    with tempfile.TemporaryDirectory() as folder:
        for scenario, templates in scenarios.items():
            with Gallery.create(Path(folder) / f"{scenario}.gallery") as gallery:
                gallery.enroll_many(EnrollRecord(name, t) for name, t in templates.items())
                threshold = gallery.threshold()
                qualities = [t.quality for ts in templates.values() for t in ts[-1:]]
                row: dict[str, Any] = {"last_template_quality_median": float(np.median(qualities))}
                found: dict[str, list[Any]] = {}
                for fusion in ("max", "quality-mean"):
                    found[fusion] = gallery.search_embeddings(queries, k=1, fusion=fusion)  # type: ignore[arg-type]
                # References scored against every identity: the plain mean, and quality-mean without the pool.
                found["mean (unweighted)"] = _exhaustive(templates, queries, threshold, weighted=False)
                found["quality-mean (exhaustive)"] = _exhaustive(templates, queries, threshold, weighted=True)
                for name, hits in found.items():
                    row[name] = _metrics(hits[:len(mated)], truth, hits[len(mated):], threshold)
                row["probes where the pool changed the top match"] = sum(
                    a.matches[0].identity_id != b.matches[0].identity_id or abs(a.matches[0].score - b.matches[0].score) > 1e-5
                    for a, b in zip(found["quality-mean"], found["quality-mean (exhaustive)"]))
                results["scenarios"][scenario] = row
    results["threshold_fmr_1e-3"] = threshold
    results["seconds"] = round(time.time() - started, 1)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


def _exhaustive(templates: dict[str, list[NewTemplate]], queries: np.ndarray, threshold: float,
                weighted: bool) -> list[Any]:
    """Top match per query among one (quality-weighted or plain) mean template per identity, every identity scored."""
    from facetrust.gallery.base import Match, SearchResult
    from facetrust.quality import fuse_embeddings

    names = list(templates)
    means = np.stack([fuse_embeddings(np.stack([t.vector for t in templates[n]]),
                                      [t.quality if weighted else 1.0 for t in templates[n]]) for n in names])
    scores = queries @ means.T
    best = scores.argmax(axis=1)
    return [SearchResult([Match(names[b], None, float(s[b]), 0)], threshold) for s, b in zip(scores, best)]


if __name__ == "__main__":
    main()
