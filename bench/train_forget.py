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
   LFW View 2 verification (10-fold) on all 6,000 pairs. Options are chosen with ``--probes validation
   --lfw-folds 3`` (half of the probes, 3 folds) and measured once with ``--probes test`` and all folds.
   The model before forgetting embeds every evaluation image and every LFW pair image once (kept in
   ``--work``, whatever ``--lfw-folds`` is scored).
6. ``--untuned``: rank-1 of the zoo model before fine-tuning, which never trained on these people,
   re-enrolled: about what retraining without the forgotten people could give them at best.

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
from facetrust.training.unlearning import ForgetOptions, ForgetResult, forget_identities  # noqa: E402


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


def embed(model, paths: list[Path], batch: int = 128) -> dict[Path, np.ndarray]:  # noqa: ANN001
    out = []
    with torch.no_grad():
        for start in range(0, len(paths), batch):
            crops = np.stack([load_image(p) for p in paths[start:start + batch]])
            tensor = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
            out.append(torch.nn.functional.normalize(model.embed(tensor)).numpy())
    return dict(zip(paths, np.concatenate(out)))


def prepare_before(checkpoint: Path, paths: list[Path], first: str, work: Path,
                   batch: int = 128) -> tuple[Path, Path]:
    """Embeddings of ``paths`` under ``checkpoint`` (the model before forgetting, the same in every run)
    and what the block holding the first adapted layer ``first`` receives for each: the layers before
    it are the same after forgetting, so the model after forgetting only runs from there."""
    from facetrust.training.unlearning import _FrozenPrefix

    stat = checkpoint.stat()
    key = f"{checkpoint.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{first}|{len(paths)}"
    vectors_file, fed_file = work / f"before_{first}_{len(paths)}.npz", work / f"before_{first}_{len(paths)}_fed.npy"
    if vectors_file.is_file() and fed_file.is_file() and str(np.load(vectors_file)["key"]) == key:
        return vectors_file, fed_file
    model = load_model(checkpoint)
    prefix = _FrozenPrefix(model.backbone, first)
    fed_store = None
    vectors = []
    with torch.no_grad():
        for start in range(0, len(paths), batch):
            crops = torch.from_numpy(np.stack([load_image(p) for p in paths[start:start + batch]]))
            fed, out = prefix.run((crops.permute(0, 3, 1, 2).float() - model.mean) / model.std)
            if fed_store is None:
                fed_store = np.lib.format.open_memmap(fed_file, mode="w+", dtype=np.float32,
                                                      shape=(len(paths), *fed.shape[1:]))
            fed_store[start:start + len(fed)] = fed.numpy()
            vectors.append(torch.nn.functional.normalize(out).numpy())
            print(f"before: {start + len(fed)}/{len(paths)} images", flush=True)
    fed_store.flush()
    np.savez(vectors_file, key=key, paths=np.array([str(p) for p in paths]), vectors=np.concatenate(vectors))
    return vectors_file, fed_file


def embed_before_after(checkpoint: Path, forgot: Path, first: str, paths: list[Path], work: Path,
                       batch: int = 256) -> tuple[dict[Path, np.ndarray], dict[Path, np.ndarray]]:
    """Embeddings of ``paths`` before (``checkpoint``) and after forgetting (``forgot``, adapted from
    the layer ``first`` on): the model after forgetting runs from the stored input of the block of
    ``first``, checked against the whole network on the first images."""
    from facetrust.training.unlearning import _FrozenPrefix

    vectors_file, fed_file = prepare_before(checkpoint, paths, first, work)
    before = np.load(vectors_file)["vectors"]
    fed = np.load(fed_file, mmap_mode="r")
    after_model = load_model(forgot)
    with torch.no_grad():
        crops = torch.from_numpy(np.stack([load_image(p) for p in paths[:16]])).permute(0, 3, 1, 2).float()
        full = torch.nn.functional.normalize(after_model.embed(crops)).numpy()
        tail = _FrozenPrefix(after_model.backbone, first)
        tail.engage()
        out = [torch.nn.functional.normalize(after_model.backbone(torch.from_numpy(
            np.asarray(fed[start:start + batch], dtype=np.float32)))).numpy() for start in range(0, len(paths), batch)]
    after = np.concatenate(out)
    assert np.abs(full - after[:16]).max() < 1e-4, "the stored early layers do not give the network's output"
    return dict(zip(paths, before)), dict(zip(paths, after))


def rank1(probe: dict, gallery: dict, people, names: list[str], split: str = "all") -> dict[str, float]:  # noqa: ANN001
    """Rank-1 over all ``people`` for probes of ``names`` (fraction correct); ``probe`` and ``gallery``:
    the embeddings of the probe and of the gallery model. ``split``: all probes, or every other one
    ("validation": the 1st, 3rd, ... probe of each person, for choosing options; "test": the others)."""
    templates, probes, labels = [], [], []
    for index, (name, (_, evaluation)) in enumerate(people.items()):
        half = max(1, len(evaluation) // 2)
        mean = np.mean([gallery[p] for p in evaluation[:half]], axis=0)
        templates.append(mean / np.linalg.norm(mean))
        if name in names:
            chosen = evaluation[half:]
            chosen = chosen[0::2] if split == "validation" else chosen[1::2] if split == "test" else chosen
            probes += chosen
            labels += [index] * len(chosen)
    nearest = np.argmax(np.stack([probe[p] for p in probes]) @ np.stack(templates).T, axis=1)
    return {"rank1": float(np.mean(nearest == np.array(labels))), "probes": len(labels)}


def lfw_crops(aligned: Path, shared: Path, folds: int) -> tuple[list, dict[Path, Path]]:  # noqa: ANN001
    """The View 2 pairs of the first ``folds`` folds and the aligned crop of each pair image."""
    pairs = [p for p in read_lfw_pairs(shared / "data" / "lfw_pairs.txt", shared / "data" / "lfw") if p.fold < folds]
    crop = {}
    for pair in pairs:
        for path in (pair.path_a, pair.path_b):
            crop[path] = aligned / path.parent.name / f"{path.stem}.png"
    return pairs, crop


def lfw_verification(vectors: dict, pairs: list, crop: dict, without: frozenset[str]  # noqa: ANN001
                     ) -> list[tuple[float, float, int, int]]:
    """10-fold LFW View 2 accuracy (mean, std), images without a face and pairs scored: on all pairs,
    then on the pairs with nobody from ``without``. ``vectors``: embeddings by crop path."""
    missing = len({crop[path] for p in pairs for path in (p.path_a, p.path_b)} - vectors.keys())
    rows = []
    for subset in (pairs, [p for p in pairs if p.path_a.parent.name not in without
                           and p.path_b.parent.name not in without]):
        scores = np.array([float(vectors[crop[p.path_a]] @ vectors[crop[p.path_b]])
                           if crop[p.path_a] in vectors and crop[p.path_b] in vectors else -1.0 for p in subset])
        accuracies, _ = kfold_accuracy(scores, np.array([p.same for p in subset]), np.array([p.fold for p in subset]))
        rows.append((float(accuracies.mean()), float(accuracies.std()), missing, len(subset)))
    return rows


# Options that were added or tried later (docs/training.md, runs E-J), at the value that means "not used":
# a record written without them, or with them at that value, is the same forgetting.
NEUTRAL = {"pair_margin": None, "push_to": "none", "push_weight": 1.0, "retain_batch": 0, "mirror_forgotten": False}


def _same_request(saved: dict, request: dict) -> bool:
    options = {**NEUTRAL, **saved["options"]}
    dropped = [key for key in options if key not in request["options"]]
    if any(key not in NEUTRAL or options.pop(key) != NEUTRAL[key] for key in dropped):
        return False
    return {**saved, "options": options} == request


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/facetrust_forget"))
    parser.add_argument("--min-images", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--trainable-last-layers", type=int, default=0, help="fine-tune only the last N dense "
                        "layers (0: the whole network); their input is computed once, which saves most of the time")
    parser.add_argument("--forget", type=int, default=10, help="how many identities to forget")
    parser.add_argument("--steps", type=int, default=ForgetOptions.steps, help="forgetting steps")
    parser.add_argument("--lr", type=float, default=ForgetOptions.lr)
    parser.add_argument("--batch-size", type=int, default=ForgetOptions.batch_size)
    parser.add_argument("--identities-per-batch", type=int, default=ForgetOptions.identities_per_batch)
    parser.add_argument("--retain-weight", type=float, default=ForgetOptions.retain_weight)
    parser.add_argument("--margin", type=float, default=ForgetOptions.margin)
    parser.add_argument("--last-layers", type=int, default=ForgetOptions.last_layers)
    parser.add_argument("--pair-margin", type=float, default=ForgetOptions.pair_margin)
    parser.add_argument("--rank", type=int, default=ForgetOptions.rank, help="LoRA rank")
    parser.add_argument("--alpha", type=float, default=ForgetOptions.alpha, help="LoRA scaling numerator")
    parser.add_argument("--group-sparsity", type=float, default=ForgetOptions.group_sparsity)
    parser.add_argument("--mirror-forgotten", action="store_true", help="add mirrored copies of the forgotten images")
    parser.add_argument("--probes", default="all", choices=["all", "validation", "test"],
                        help="rank-1 on all probes or on one of two halves (validation: for choosing options)")
    parser.add_argument("--forgot", default="forgot", help="output folder of the forgetting, under --work")
    parser.add_argument("--lfw-folds", type=int, default=10, help="LFW View 2 on its first N folds only "
                        "(600 pairs each; fewer when CPU time is short)")
    parser.add_argument("--validation-folds", type=int, default=3, help="LFW folds used to choose options: "
                        "with more --lfw-folds, the pairs of the later folds are also reported on their own")
    parser.add_argument("--prepare-before", action="store_true", help="only embed the evaluation images with the "
                        "model before forgetting (and keep its early layers' output for --last-layers): can run "
                        "while another process forgets")
    parser.add_argument("--untuned", action="store_true", help="only measure rank-1 with the zoo model before "
                        "fine-tuning, which never trained on these images (what retraining without the forgotten "
                        "people could give at best), re-enrolled, on every probe split")
    parser.add_argument("--forget-only", action="store_true", help="stop after forgetting (a later run with the "
                        "same options reuses it and only measures)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="torch threads (1 is faster on a machine shared by many jobs)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_forget.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    lfw_aligned = args.work / "lfw_aligned"
    run_started = started = time.perf_counter()
    index = build_aligned_cache(args.shared / "data" / "lfw", lfw_aligned, "yunet")
    align_s = time.perf_counter() - started
    people = split_people(lfw_aligned, args.min_images)
    tree = link_tree(people, args.work / "train_tree")
    train_images = sum(len(t) for t, _ in people.values())
    print(f"{len(people)} people with >= {args.min_images} aligned images; {train_images} training images; "
          f"aligned LFW in {align_s:.0f} s ({sum(v != 'ok' for v in index.values())} without a face)")

    config = load_config("finetune_mobilefacenet", [f"data={tree}", "aligned=true", f"output={args.work / 'trained'}",
                                                    f"epochs={args.epochs}", "min_images_per_identity=2",
                                                    f"trainable_last_layers={args.trainable_last_layers}",
                                                    f"frozen_cache={args.work / 'frozen'}"])
    rng = np.random.default_rng(args.seed)
    names = list(people)
    forgotten = sorted(rng.choice(names, size=args.forget, replace=False).tolist())
    retained = [n for n in names if n not in forgotten]
    if args.untuned:  # needs no fine-tuned model: can run while it trains
        zoo = build_model(config, len(people)).eval()
        vectors = embed(zoo, sorted({p for _, evaluation in people.values() for p in evaluation}))
        for split in ("validation", "test", "all"):  # one embedding pass for every split
            for label, group in (("forgotten", forgotten), ("retained", retained)):
                found = rank1(vectors, vectors, people, group, split)
                print(f"zoo model before fine-tuning, {label} people, re-enrolled: rank-1 {100 * found['rank1']:.2f}% "
                      f"of {found['probes']} {split} probes; load average {os.getloadavg()[0]:.2f}")
        return
    checkpoint = args.work / "trained" / "checkpoint.pt"
    started = time.perf_counter()
    if not checkpoint.is_file():
        train_recognizer(config)
    train_s = time.perf_counter() - started

    # The crops of all 10 folds are embedded whatever --lfw-folds is, so that one "before" cache serves
    # the validation runs (3 folds) and the final measurement (10); only the first --lfw-folds are scored.
    every_pair, crop = lfw_crops(lfw_aligned, args.shared, 10)
    pairs = [p for p in every_pair if p.fold < args.lfw_folds]
    paths = sorted({p for _, evaluation in people.values() for p in evaluation}
                   | {c for c in crop.values() if c.is_file()})
    if args.prepare_before:
        from facetrust.training.unlearning import _adapted_modules

        adapted = _adapted_modules(load_model(checkpoint).backbone)
        prepare_before(checkpoint, paths, adapted[-args.last_layers if args.last_layers else 0], args.work)
        return

    options = ForgetOptions(steps=args.steps, lr=args.lr, batch_size=args.batch_size,
                            identities_per_batch=args.identities_per_batch, retain_weight=args.retain_weight,
                            margin=args.margin, last_layers=args.last_layers, pair_margin=args.pair_margin,
                            rank=args.rank, alpha=args.alpha, group_sparsity=args.group_sparsity,
                            mirror_forgotten=args.mirror_forgotten)
    load_before = os.getloadavg()[0]
    record = args.work / args.forgot / "result.json"
    request = {"checkpoint": str(checkpoint), "forgotten": forgotten, "options": options.__dict__}
    saved = json.loads(record.read_text()) if record.is_file() else None
    if saved and _same_request(saved["request"], request):
        load_before = saved["load_before"]
        result = ForgetResult(**{**saved["result"], "checkpoint": Path(saved["result"]["checkpoint"]),
                                 "adapter": Path(saved["result"]["adapter"])})
        print(f"reusing the forgetting of {record.parent}")
    else:
        result = forget_identities(checkpoint, forgotten, args.work / args.forgot, options=options)
        record.write_text(json.dumps({"request": request, "load_before": load_before, "load_after": os.getloadavg()[0],
                                      "result": {**result.__dict__, "checkpoint": str(result.checkpoint),
                                                 "adapter": str(result.adapter)}}))
    print(f"forgetting: {result.steps} steps in {result.seconds:.0f} s, load average {load_before:.2f} before; "
          f"last losses {result.losses[-1]}", flush=True)
    if args.forget_only:
        return

    first = torch.load(result.adapter, weights_only=False)["target_modules"][0]
    before, after = embed_before_after(checkpoint, result.checkpoint, first, paths, args.work)
    rows = []
    for label, probe, gallery in (("before", before, before), ("after, re-enrolled", after, after),
                                  ("after, old gallery", after, before)):
        rows.append((label, rank1(probe, gallery, people, forgotten, args.probes),
                     rank1(probe, gallery, people, retained, args.probes)))
    gone = frozenset(forgotten)
    verification = []
    unseen = [p for p in pairs if p.fold >= args.validation_folds]
    for label, vectors in (("before", before), ("after", after)):
        every, kept = lfw_verification(vectors, pairs, crop, gone)
        verification += [(f"{label}, all pairs", *every), (f"{label}, pairs without a forgotten person", *kept)]
        if args.lfw_folds > args.validation_folds:
            every, kept = lfw_verification(vectors, unseen, crop, gone)
            folds = f"folds {args.validation_folds + 1}-{args.lfw_folds}"
            verification += [(f"{label}, {folds}, all pairs", *every),
                             (f"{label}, {folds}, pairs without a forgotten person", *kept)]
    total_s = time.perf_counter() - run_started

    lines = [
        "# Forgetting identities (bench/train_forget.py)",
        "",
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; "
        f"load average at the end {os.getloadavg()[0]:.2f}; the whole run {total_s:.0f} s.",
        f"Model: zoo MobileFaceNet fine-tuned ({args.epochs} epochs, `finetune_mobilefacenet`, trainable last layers "
        f"{args.trainable_last_layers or 'all'}) on the training half of "
        f"{len(people)} LFW people with >= {args.min_images} images ({train_images} images; {train_s:.0f} s this run, "
        "0 if reused). Forgotten: "
        f"{len(forgotten)} people drawn with seed {args.seed}: {', '.join(forgotten)}.",
        f"Forgetting options: {json.dumps(options.__dict__)}; load average {load_before:.2f} before it.",
        f"Forgetting: {result.steps} steps in {result.seconds:.0f} s; adapters {result.adapter_parameters:,} parameters "
        f"({result.adapter_bytes / 1024:.0f} KiB), {result.active_layers}/{result.adapted_layers} layers active; "
        "merged into the weights.",
        "",
        f"Rank-1 probes: {args.probes}.",
        "",
        "| model | forgotten rank-1 | forgotten probes | retained rank-1 | retained probes |",
        "|---|---|---|---|---|",
        *[f"| {label} | {100 * f['rank1']:.2f}% | {f['probes']} | {100 * r['rank1']:.2f}% | {r['probes']} |"
          for label, f, r in rows],
        "",
        f"| model | LFW View 2 accuracy ({args.lfw_folds}-fold{'' if args.lfw_folds == 10 else ', the first folds only'}) "
        "| pairs | pair images without a face |",
        "|---|---|---|---|",
        *[f"| {label} | {100 * mean:.2f}% +- {100 * std:.2f} | {count} | {missing} |"
          for label, mean, std, missing, count in verification],
        "",
        "Losses of the last forgetting step: " + json.dumps({k: round(v, 4) for k, v in result.losses[-1].items()}),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
