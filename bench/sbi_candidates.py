"""Compare trained SBI models on colour faces without any deepfake evaluation data.

    python bench/sbi_candidates.py runA/sbi-rgbfreq-96.onnx runB/sbi-rgbfreq-96.onnx [--lfw-images 6000]
    python bench/sbi_candidates.py facetrust/models/forensics/sbi-rgbfreq-96.onnx --utkface   # second pass
    python bench/sbi_candidates.py A.onnx A.onnx+B.onnx --utkface --dfdc   # A alone, and the ensemble of A and B
    python bench/sbi_candidates.py A.onnx A.onnx@shifted --utkface --dfdc  # A alone, and A averaged over 10 views

For each ONNX model written by ``facetrust.forensics.training.train_sbi`` (``A+B``: the score
ensemble of those files, mean P(fake), as ``SBIDetector`` runs several files):


* the colour faces of the trainer's held-out validation sources (same files, seed and
  split as training with ``--lfw-images``, ``--seed`` and ``--utkface``): AUC of real vs
  self-blended, and how many real ones score P(fake) >= 0.5 and >= the shipped threshold;
* P(fake) of real colour photos that neither training nor ``shared/data/deepfake``
  uses: scikit-image's astronaut, matplotlib's Grace Hopper and the three photos of
  ``shared/data/spoof`` (printed and replayed photos are real faces, not forgeries),
  through the full detection + crop pipeline.

With ``--dfdc`` it also prints each model's frame- and video-level AUC on
``shared/data/deepfake/labels.csv`` (the settings of docs/forensics.md, no robustness
grid), so that every candidate's evaluation numbers are on record, not only the
shipped one's.

Used to choose between the candidate runs in docs/forensics.md.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.evaluation.metrics import auc  # noqa: E402
from facetrust.forensics import sbi  # noqa: E402
from facetrust.forensics.checker import ForgeryChecker  # noqa: E402
from facetrust.forensics.sbi_inputs import INPUT_SIZE  # noqa: E402
from facetrust.forensics.synthesis import self_blend  # noqa: E402
from facetrust.forensics.training.data import FaceSet, files_digest, training_files  # noqa: E402
from facetrust.forensics.training.train_sbi import split_by_source  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.zoo.store import cache_dir, sha256_of  # noqa: E402

PACKAGED_DETECTOR = sbi.SBIDetector


def outside_photos() -> dict[str, np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        photos = {"astronaut": data.astronaut(), "grace_hopper": load_image(Path(handle.name))}
    for path in sorted((SHARED / "data" / "spoof").rglob("*.jpg")):
        photos[path.name] = load_image(path)
    return photos


def model_views(model: str) -> tuple[str, str]:
    """``A.onnx@shifted`` -> (``A.onnx``, ``shifted``): the test-time views after ``@`` (default ``one``)."""
    files, _, views = model.partition("@")
    if views and views not in sbi.VIEWS:
        sys.exit(f"{model}: unknown views {views!r} after '@' (known: {', '.join(sbi.VIEWS)})")
    return files, views or "one"


def model_files(model: str) -> list[Path]:
    """``A.onnx+B.onnx`` -> the files of the ensemble (one file: a list of one); an ``@views`` suffix is not a file."""
    return [Path(part) for part in model_views(model)[0].split("+")]


def model_options(model: str) -> dict[str, object]:
    """``SBIDetector`` options of a model argument: its files and its test-time views."""
    return {"model_file": model_files(model), "views": model_views(model)[1]}


def use_model(model: str) -> None:
    """Make the registry's ``sbi`` run ``model``'s files and views (their sha256, plus the views,
    become the recorded version the score cache keys by)."""
    files, views = model_files(model), model_views(model)[1]

    class Chosen(PACKAGED_DETECTOR):
        packaged_sha256 = tuple(sha256_of(path) for path in files) + ((f"views={views}",) if views != "one" else ())

        def __init__(self, device: str = "cpu") -> None:
            super().__init__(device, files, views)

    sbi.SBIDetector = Chosen  # the registry looks the class up by module attribute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="ONNX files; A.onnx+B.onnx: their score ensemble; "
                        "A.onnx@shifted: A averaged over test-time views (sbi.VIEWS)")
    parser.add_argument("--lfw-images", type=int, default=6000, help="as given to train_sbi")
    parser.add_argument("--seed", type=int, default=0, help="as given to train_sbi")
    parser.add_argument("--utkface", action="store_true", help="as given to train_sbi (the second-pass data)")
    parser.add_argument("--dfdc", action="store_true", help="also score shared/data/deepfake/labels.csv")
    parser.add_argument("--with-mesonet", action="store_true", help="with --dfdc: also MesoNet and the fusion")
    parser.add_argument("--cache", type=Path, help="with --dfdc: score cache (default: none)")
    parser.add_argument("--dfdc-only", action="store_true", help="skip the colour-photo table")
    args = parser.parse_args()
    if not args.dfdc_only:
        colour_table(args)
    if args.dfdc:
        for model in args.models:
            use_model(model)
            for name, numbers in dfdc_auc(args.with_mesonet, args.cache).items():
                print(model, name, numbers)


def colour_table(args: argparse.Namespace) -> None:
    files = training_files(SHARED, args.lfw_images, args.seed, args.utkface)
    cached = cache_dir().parent / "forensics" / f"sbi_faces_{files_digest(files)[:16]}_{INPUT_SIZE}.npz"
    if not cached.is_file():
        sys.exit(f"{cached} not found: run train_sbi with --lfw-images {args.lfw_images} --seed {args.seed}"
                 f"{' --utkface' if args.utkface else ''} first")
    faces = FaceSet.load(cached)
    _, validation = split_by_source(faces, args.seed)
    colour = validation[faces.colour[validation]]
    sources = sorted({os.path.basename(s.split("#")[0]) for s in faces.sources[colour]})
    print(f"{len(colour)} held-out colour validation faces from {len(sources)} files"
          + (f": {', '.join(sources)}" if len(sources) <= 30 else ""))
    photos = outside_photos()
    shipped = PACKAGED_DETECTOR.default_threshold
    print("| model | P(fake) of " + ", ".join(photos) + f" | flagged at 0.5 / {shipped} | held-out colour faces "
          f"flagged at 0.5 / {shipped} | colour AUC real vs self-blend |\n|---|---|---|---|---|")
    for model in args.models:
        detector = PACKAGED_DETECTOR(**model_options(model))
        rng = np.random.default_rng(args.seed + 1)
        real = faces.crops[colour]
        fake = np.stack([self_blend(faces.crops[i], faces.landmarks[i], rng).image for i in colour])
        real_scores = detector.score_crops(real)[0]
        fake_scores = detector.score_crops(fake)[0]
        colour_auc = auc(np.concatenate([real_scores, fake_scores]),
                         np.r_[np.zeros(len(real), bool), np.ones(len(fake), bool)])
        use_model(model)
        checker = ForgeryChecker("sbi")
        scores = [checker.check_rgb(image)[0].result.score for image in photos.values()]
        print(f"| {model} | {', '.join(f'{v:.2f}' for v in scores)} | {sum(v >= 0.5 for v in scores)} / "
              f"{sum(v >= shipped for v in scores)} of {len(scores)} | {int(np.sum(real_scores >= 0.5))} / "
              f"{int(np.sum(real_scores >= shipped))} of {len(real)} | {colour_auc:.3f} |")


def dfdc_auc(with_mesonet: bool = False, cache: Path | None = None) -> dict[str, dict[str, float]]:
    """DFDC frame/video AUC of ``sbi`` (and, ``with_mesonet``, of MesoNet and their mean, ``fusion``)."""
    from facetrust.forensics.cache import ScoreCache
    from facetrust.forensics.evaluation import evaluate_forgery, read_forgery_labels

    items, _ = read_forgery_labels(SHARED / "data" / "deepfake" / "labels.csv", group_pattern="^([a-z]+)-",
                                   method_column="kind")
    names = ["sbi", "mesonet"] if with_mesonet else ["sbi"]
    with ScoreCache(cache) as store:
        result, _ = evaluate_forgery(items, names, cache=store, crop_fallback=True, progress=False)
    out = {}
    for name in names + (["fusion"] if with_mesonet else []):
        metrics, by_kind = result["metrics"][name], result["per_method_frame_level"][name]
        out[name] = {"frame AUC": round(metrics["frame"]["auc"], 3), "video AUC": round(metrics["video"]["auc"], 3),
                     "frame TPR at its threshold": round(metrics["frame"]["tpr"], 3),
                     "frame FPR at its threshold": round(metrics["frame"]["fpr"], 3),
                     **{f"{kind} frame AUC": round(entry["auc"], 3) for kind, entry in by_kind.items()}}
    return out


if __name__ == "__main__":
    main()
