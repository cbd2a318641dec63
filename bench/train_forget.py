"""Forgetting identities, measured (issue #19, docs/training.md "Unlearning").

1. Every LFW-a person with >= 10 images (158 people); each person's images, sorted, alternate
   between a training half and an evaluation half.
2. All of LFW is aligned once (YuNet, ArcFace 112x112) into ``--work``/lfw_aligned.
3. The zoo MobileFaceNet is fine-tuned on the training halves (config ``finetune_mobilefacenet``),
   so the model has been trained on those k identities.
4. ``forget_identities`` removes ``--forget`` of them (drawn with ``--seed``).
5. Measured before and after, on the evaluation halves only: rank-1 identification over all k
   people (templates = mean embedding of the first half of each person's evaluation images,
   probes = the rest), separately for forgotten and retained people, with the gallery re-enrolled
   by the same model as the probes ("re-enrolled") and with the old gallery ("old gallery"); and
   LFW View 2 verification (10-fold) on all 6,000 pairs.

    python bench/train_forget.py                       # ~20-30 min on 2 cores
    python bench/train_forget.py --epochs 1 --steps 50 # quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FACETRUST_MODEL_DIR", str(ROOT.parent / "shared" / "models"))

import torch  # noqa: E402

from facetrust.evaluation.lfw import read_lfw_pairs  # noqa: E402
from facetrust.evaluation.metrics import kfold_accuracy  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.training.config import TrainConfig, load_config  # noqa: E402
from facetrust.training.data import build_aligned_cache  # noqa: E402
from facetrust.training.trainer import build_model, train_recognizer  # noqa: E402
from facetrust.training.unlearning import ForgetOptions, forget_identities  # noqa: E402


def split_people(aligned: Path, min_images: int) -> dict[str, tuple[list[Path], list[Path]]]:
    people = {}
    for folder in sorted(p for p in aligned.iterdir() if p.is_dir()):
        images = sorted(folder.glob("*.png"))
        if len(images) >= min_images:
            people[folder.name] = (images[0::2], images[1::2])
    return people


def link_tree(people: dict[str, tuple[list[Path], list[Path]]], target: Path) -> Path:
    for name, (train, _) in people.items():
        (target / name).mkdir(parents=True, exist_ok=True)
        for image in train:
            link = target / name / image.name
            if not link.exists():
                link.symlink_to(image)
    return target


def load_model(checkpoint: Path):  # noqa: ANN201 - a RecognitionModel
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    model = build_model(TrainConfig(**{**state["config"], "pretrained": ""}), len(state["identities"]))
    model.load_state_dict(state["model"])
    return model.eval()


def embed(model, paths: list[Path], batch: int = 128) -> np.ndarray:  # noqa: ANN001
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), batch):
            crops = np.stack([load_image(p) for p in paths[start:start + batch]])
            tensor = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
            out.append(torch.nn.functional.normalize(model.embed(tensor)).numpy())
    return np.concatenate(out)


def rank1(probe_model, gallery_model, people, names: list[str]) -> dict[str, float]:  # noqa: ANN001
    """Rank-1 over all ``people`` for probes of ``names`` (fraction correct)."""
    templates, probes, labels = [], [], []
    for index, (name, (_, evaluation)) in enumerate(people.items()):
        half = max(1, len(evaluation) // 2)
        vectors = embed(gallery_model, evaluation[:half])
        mean = vectors.mean(0)
        templates.append(mean / np.linalg.norm(mean))
        if name in names:
            probes += evaluation[half:]
            labels += [index] * (len(evaluation) - half)
    nearest = np.argmax(embed(probe_model, probes) @ np.stack(templates).T, axis=1)
    return {"rank1": float(np.mean(nearest == np.array(labels))), "probes": len(labels)}


def lfw_verification(model, aligned: Path, shared: Path) -> tuple[float, float, int]:  # noqa: ANN001
    pairs = read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw")
    crop = {}
    for pair in pairs:
        for path in (pair.path_a, pair.path_b):
            crop[path] = aligned / path.parent.name / f"{path.stem}.png"
    present = [p for p, c in crop.items() if c.is_file()]
    vectors = dict(zip(present, embed(model, [crop[p] for p in present])))
    scores = np.array([float(vectors[p.path_a] @ vectors[p.path_b]) if p.path_a in vectors and p.path_b in vectors
                       else -1.0 for p in pairs])
    same = np.array([p.same for p in pairs])
    accuracies, _ = kfold_accuracy(scores, same, np.array([p.fold for p in pairs]))
    return float(accuracies.mean()), float(accuracies.std()), len(crop) - len(present)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/facetrust_forget"))
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--forget", type=int, default=10, help="how many identities to forget")
    parser.add_argument("--steps", type=int, default=200, help="forgetting steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_forget.md")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    lfw_aligned = args.work / "lfw_aligned"
    started = time.perf_counter()
    index = build_aligned_cache(args.shared / "data" / "lfw", lfw_aligned, "yunet")
    align_s = time.perf_counter() - started
    people = split_people(lfw_aligned, args.min_images)
    tree = link_tree(people, args.work / "train_tree")
    train_images = sum(len(t) for t, _ in people.values())
    print(f"{len(people)} people with >= {args.min_images} aligned images; {train_images} training images; "
          f"aligned LFW in {align_s:.0f} s ({sum(v != 'ok' for v in index.values())} without a face)")

    config = load_config("finetune_mobilefacenet", [f"data={tree}", "aligned=true", f"output={args.work / 'trained'}",
                                                    f"epochs={args.epochs}", "min_images_per_identity=2"])
    checkpoint = args.work / "trained" / "checkpoint.pt"
    started = time.perf_counter()
    if not checkpoint.is_file():
        train_recognizer(config)
    train_s = time.perf_counter() - started

    rng = np.random.default_rng(args.seed)
    names = list(people)
    forgotten = sorted(rng.choice(names, size=args.forget, replace=False).tolist())
    retained = [n for n in names if n not in forgotten]
    result = forget_identities(checkpoint, forgotten, args.work / "forgot", options=ForgetOptions(steps=args.steps))

    before, after = load_model(checkpoint), load_model(result.checkpoint)
    rows = []
    for label, probe_model, gallery_model in (("before", before, before), ("after, re-enrolled", after, after),
                                              ("after, old gallery", after, before)):
        f = rank1(probe_model, gallery_model, people, forgotten)
        r = rank1(probe_model, gallery_model, people, retained)
        rows.append((label, f, r))
    verification = [("before", *lfw_verification(before, lfw_aligned, args.shared)),
                    ("after", *lfw_verification(after, lfw_aligned, args.shared))]

    lines = [
        "# Forgetting identities (bench/train_forget.py)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"load average at the end {os.getloadavg()[0]:.2f}.",
        f"Model: zoo MobileFaceNet fine-tuned ({args.epochs} epochs, `finetune_mobilefacenet`) on the training half of "
        f"{len(people)} LFW people with >= {args.min_images} images ({train_images} images; {train_s:.0f} s this run, "
        "0 if reused). Forgotten: "
        f"{len(forgotten)} people drawn with seed {args.seed}: {', '.join(forgotten)}.",
        f"Forgetting: {result.steps} steps in {result.seconds:.0f} s; adapters {result.adapter_parameters:,} parameters "
        f"({result.adapter_bytes / 1024:.0f} KiB), {result.active_layers}/{result.adapted_layers} layers active; "
        "merged into the weights.",
        "",
        "| model | forgotten rank-1 | forgotten probes | retained rank-1 | retained probes |",
        "|---|---|---|---|---|",
        *[f"| {label} | {100 * f['rank1']:.2f}% | {f['probes']} | {100 * r['rank1']:.2f}% | {r['probes']} |"
          for label, f, r in rows],
        "",
        "| model | LFW View 2 accuracy (10-fold) | pair images without a face |",
        "|---|---|---|",
        *[f"| {label} | {100 * mean:.2f}% +- {100 * std:.2f} | {missing} |" for label, mean, std, missing in verification],
        "",
        "Losses of the last forgetting step: " + json.dumps({k: round(v, 4) for k, v in result.losses[-1].items()}),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
