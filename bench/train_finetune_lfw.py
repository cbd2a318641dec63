"""Fine-tuning the zoo MobileFaceNet on LFW-a, identity-disjoint (issue #19, docs/training.md
"A real result: fine-tuning on LFW-a").

LFW View 2's 10 folds share no person. A split (t, h) evaluates on fold t, fits the accuracy
threshold on fold h, and trains on every LFW-a person with >= 2 aligned images who appears in
neither fold's pairs (people in no pair included). Fold 9 is the validation fold (``--validate``:
the hyperparameter grid, threshold fold 8); evaluation splits are t = 0..8 with h = (t + 1) % 9.

Per split, the zoo model ("before") and the fine-tuned models (ArcFace; ArcFace + CIFP) are measured
on fold t only, i.e. on people never trained on:

* accuracy on fold t's 600 pairs at the threshold that is best on fold h's 600 pairs;
* TAR at FAR 1e-3 over all comparisons of the aligned images of fold t's people, at most
  ``--eval-cap`` (10) per person, the first in name order;
* per-identity false-positive rates over those comparisons at the threshold giving FMR 1e-3 (and
  1e-2) on them, the fairness audit's measure (facetrust.audit.fairness.identity_fairness): Gini
  and worst decile / median.

Hyperparameters, chosen once on the validation split before any evaluation split ran (rule fixed
in advance): ArcFace with lr in {0.01, 0.1} x epochs in {2, 5}; the setting with the highest TAR at
FAR 1e-3 on fold 9 wins (within 0.1 point: fewer epochs, then the lower lr); ArcFace + CIFP uses
the same setting. Not tuned: trainable_last_layers 6, batch 128, CIFP weight 1.0 and threshold 0.3
(the ``finetune_mobilefacenet`` values), SGD momentum 0.9, weight decay 5e-4.

Faces: YuNet + ArcFace 112x112 alignment (build_aligned_cache), every image of LFW. Only the last
``--trainable-last-layers`` dense layers train (``trainable_last_layers``); the frozen layers'
outputs for every image, as is and mirrored, are computed once into ``--work``/frozen and shared by
all runs and by the evaluation. Runs are resumable: each (split, model) keeps its checkpoint and a
result JSON under ``--work``; a re-run skips what is done.

    nice python bench/train_finetune_lfw.py --validate            # the grid on fold 9
    nice python bench/train_finetune_lfw.py --splits 0,1,2 --lr 0.01 --epochs 4
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

from facetrust.audit.fairness import all_comparisons, global_threshold, identity_fairness  # noqa: E402
from facetrust.evaluation.lfw import read_lfw_pairs  # noqa: E402
from facetrust.evaluation.metrics import accuracy_at, best_threshold, tar_at_far  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.training.config import TrainConfig, load_config  # noqa: E402
from facetrust.training.data import build_aligned_cache  # noqa: E402
from facetrust.training.frozen_prefix import FrozenFeatures, FrozenPrefix, dense_layers  # noqa: E402
from facetrust.training.trainer import build_model, train_recognizer  # noqa: E402

VALIDATION = (9, 8)
HEADS = {"arcface": ("arcface", 0.0), "arcface+cifp": ("arcface", 1.0)}
FMRS = (1e-3, 1e-2)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def every(label: str, step: float = 0.1):  # noqa: ANN201 - a progress callable
    """A progress callable that logs counts and rate about every ``step`` of the total."""
    started, last = time.perf_counter(), [-1.0]

    def report(done: int, total: int | None) -> None:
        if total and (done / total - last[0] >= step or done == total):
            last[0] = done / total
            rate = done / max(time.perf_counter() - started, 1e-9)
            log(f"{label}: {done}/{total} ({rate:.2f}/s, load average {os.getloadavg()[0]:.1f})")
    return report


def fold_people(pairs: list) -> dict[int, set[str]]:  # noqa: ANN001
    people: dict[int, set[str]] = {}
    for pair in pairs:
        people.setdefault(pair.fold, set()).update((pair.path_a.parent.name, pair.path_b.parent.name))
    for a in people:
        for b in people:
            if a < b and people[a] & people[b]:
                raise SystemExit(f"folds {a} and {b} share people: {sorted(people[a] & people[b])[:5]}")
    return people


def training_tree(aligned: Path, exclude: set[str], target: Path) -> tuple[Path, int, int]:
    """Symlinks to the aligned crops of every person with >= 2 crops not in ``exclude``."""
    people = images = 0
    for folder in sorted(p for p in aligned.iterdir() if p.is_dir()):
        crops = sorted(folder.glob("*.png"))
        if folder.name in exclude or len(crops) < 2:
            continue
        people, images = people + 1, images + len(crops)
        (target / folder.name).mkdir(parents=True, exist_ok=True)
        for crop in crops:
            link = target / folder.name / crop.name
            if not link.exists():
                link.symlink_to(crop)
    return target, people, images


def tail_model(checkpoint: Path | None, first: str):  # noqa: ANN201 - (RecognitionModel, FrozenPrefix)
    """The zoo model (``checkpoint`` None) or a fine-tuned one, in inference mode."""
    if checkpoint is None:
        model = build_model(TrainConfig(pretrained="zoo"), 2)
    else:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model = build_model(TrainConfig(**{**state["config"], "pretrained": ""}), len(state["identities"]))
        model.load_state_dict(state["model"])
    model.eval()
    return model, FrozenPrefix(model.backbone, first)


def crops_of(paths: list[Path], model):  # noqa: ANN001, ANN201
    def crops(indices: list[int]) -> torch.Tensor:
        batch = np.stack([load_image(paths[i]) for i in indices])
        return (torch.from_numpy(batch).permute(0, 3, 1, 2).float() - model.mean) / model.std
    return crops


def embed(checkpoint: Path | None, first: str, paths: list[Path], frozen: Path) -> np.ndarray:
    """L2-normalised embeddings of ``paths`` (no flip), via the stored frozen layers' outputs; checked
    against the whole network on the first 16 images."""
    model, prefix = tail_model(checkpoint, first)
    crops = crops_of(paths, model)
    features = FrozenFeatures(prefix, frozen).load(paths, crops, every("frozen layers (evaluation)"))
    with torch.no_grad():
        whole = torch.nn.functional.normalize(model.backbone(crops(list(range(16))))).numpy()
        prefix.engage()
        out = np.concatenate([torch.nn.functional.normalize(model.backbone(features[i:i + 512, 0])).numpy()
                              for i in range(0, len(paths), 512)])
    if np.abs(out[:16] - whole).max() > 1e-4:
        raise SystemExit("the stored frozen layers do not give the whole network's embeddings")
    return out


def measure(vectors: dict[Path, np.ndarray], test: list, threshold_pairs: list, names: list[str],  # noqa: ANN001
            paths: list[Path]) -> dict:
    def scores(pairs: list) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        return (np.array([float(vectors[crop(p.path_a)] @ vectors[crop(p.path_b)]) for p in pairs]),
                np.array([p.same for p in pairs]))

    fit_scores, fit_same = scores(threshold_pairs)
    threshold = best_threshold(fit_scores, fit_same)
    test_scores, test_same = scores(test)
    comparisons = all_comparisons(np.stack([vectors[p] for p in paths]), names)
    result = {"accuracy": accuracy_at(test_scores, test_same, threshold), "accuracy_threshold": threshold,
              "tar_at_far_1e-3": tar_at_far(comparisons.scores, comparisons.same, 1e-3)[0],
              "images": len(paths), "identities": len(set(names)),
              "genuine": int(comparisons.same.sum()), "impostor": int((~comparisons.same).sum())}
    for fmr in FMRS:
        fairness = identity_fairness(comparisons, global_threshold(comparisons, fmr))
        result[f"fmr_{fmr:g}"] = {key: fairness[key] for key in (
            "mean_fpr", "median_fpr", "gini", "worst_decile_mean_fpr", "worst_decile_to_median",
            "identities_with_no_false_match")}
    return result


ALIGNED: Path = Path()


def crop(path: Path) -> Path:
    return ALIGNED / path.parent.name / f"{path.stem}.png"


def run_split(args: argparse.Namespace, split: tuple[int, int], people: dict[int, set[str]], pairs: list,
              first: str, grid: list[tuple[float, int]], heads: list[str]) -> dict:
    test_fold, threshold_fold = split
    name = f"t{test_fold}_h{threshold_fold}"
    tree, n_people, n_images = training_tree(ALIGNED, people[test_fold] | people[threshold_fold],
                                             args.work / "trees" / name)
    test_pairs = [p for p in pairs if p.fold == test_fold]
    fit_pairs = [p for p in pairs if p.fold == threshold_fold]
    # At most --eval-cap images per person (the first, sorted): otherwise one person (George_W_Bush,
    # 530 images) would hold most genuine comparisons of a fold.
    test_paths = sorted(c for person in people[test_fold]
                        for c in sorted((ALIGNED / person).glob("*.png"))[:args.eval_cap])
    test_names = [p.parent.name for p in test_paths]
    paths = sorted(set(test_paths) | {crop(q) for p in test_pairs + fit_pairs for q in (p.path_a, p.path_b)})
    log(f"split {name}: training on {n_people} people, {n_images} images; evaluating on fold {test_fold} "
        f"({len(people[test_fold])} people, {len(test_paths)} images for TAR and FPR), "
        f"threshold from fold {threshold_fold}")
    results: dict[str, dict] = {"split": name, "train_people": n_people, "train_images": n_images, "models": {}}
    runs: list[tuple[str, Path | None, dict]] = [("before (zoo)", None, {})]
    for lr, epochs in grid:
        for head in heads:
            runs.append((f"{head} lr {lr:g} {epochs} ep", args.work / "runs" / f"{name}_{head}_lr{lr:g}_ep{epochs}",
                         {"head": head, "lr": lr, "epochs": epochs}))
    for label, output, setting in runs:
        record = args.work / "results" / f"{name}__{label.replace(' ', '_').replace('(', '').replace(')', '')}.json"
        if record.is_file():
            results["models"][label] = json.loads(record.read_text())
            log(f"{name} {label}: done before, reused")
            continue
        entry: dict = {"setting": setting}
        checkpoint = None
        if output is not None:
            head, cifp = HEADS[setting["head"]]
            config = load_config("finetune_mobilefacenet", [
                f"data={tree}", "aligned=true", f"output={output}", f"frozen_cache={args.work / 'frozen'}",
                f"trainable_last_layers={args.trainable_last_layers}", f"head={head}", f"cifp={cifp}",
                f"lr={setting['lr']}", f"epochs={setting['epochs']}", f"batch_size={args.batch_size}",
                "min_images_per_identity=2", "save_every=200",
                f"resume={'true' if (output / 'checkpoint.pt').is_file() else 'false'}"])
            load_before, started = os.getloadavg()[0], time.perf_counter()
            steps_total = setting["epochs"] * (n_images // args.batch_size)
            losses: list[float] = []

            def on_step(step: int, loss: float, total: int = steps_total, tag: str = f"{name} {label}") -> None:
                losses.append(loss)
                if step % 50 == 0 or step == total:
                    log(f"{tag}: step {step}/{total}, loss {np.mean(losses[-50:]):.3f}, "
                        f"{len(losses) / (time.perf_counter() - started):.2f} steps/s, "
                        f"load average {os.getloadavg()[0]:.1f}")
            result = train_recognizer(config, progress=every(f"{name} {label} (preparing)"), on_step=on_step)
            entry.update({"train_seconds": time.perf_counter() - started, "load_before": load_before,
                          "load_after": os.getloadavg()[0], "steps": result.steps,
                          "first_losses": result.losses[:5], "last_loss": float(np.mean(result.losses[-20:]))
                          if result.losses else None})
            checkpoint = result.checkpoint
        vectors = dict(zip(paths, embed(checkpoint, first, paths, args.work / "frozen")))
        entry.update(measure(vectors, test_pairs, fit_pairs, test_names, test_paths))
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(entry, indent=1))
        results["models"][label] = entry
        log(f"{name} {label}: accuracy {100 * entry['accuracy']:.2f}%, "
            f"TAR@FAR1e-3 {100 * entry['tar_at_far_1e-3']:.2f}%, "
            f"Gini@1e-3 {entry['fmr_0.001']['gini']:.3f}")
    return results


def _ratio(value: float | None) -> str:
    return "undefined (median 0)" if value is None else f"{value:.2f}"


def table(all_results: list[dict]) -> list[str]:
    lines = ["| split | model | accuracy | TAR@FAR=1e-3 | Gini@FMR 1e-3 | worst decile / median @1e-3 | "
             "Gini@FMR 1e-2 | worst decile / median @1e-2 | training s | load average before |", "|---" * 10 + "|"]
    by_model: dict[str, list[dict]] = {}
    for split in all_results:
        for label, e in split["models"].items():
            by_model.setdefault(label, []).append(e)
            lines.append(f"| {split['split']} | {label} | {100 * e['accuracy']:.2f}% "
                         f"| {100 * e['tar_at_far_1e-3']:.2f}% "
                         f"| {e['fmr_0.001']['gini']:.3f} | {_ratio(e['fmr_0.001']['worst_decile_to_median'])} "
                         f"| {e['fmr_0.01']['gini']:.3f} | {_ratio(e['fmr_0.01']['worst_decile_to_median'])} "
                         + (f"| {e['train_seconds']:.0f} | {e['load_before']:.1f} |" if "train_seconds" in e
                            else "| - | - |"))
    lines += ["", f"Mean +- std over {len(all_results)} split(s):", "",
              "| model | accuracy | TAR@FAR=1e-3 | Gini@FMR 1e-3 | worst decile / median @1e-3 | Gini@FMR 1e-2 | "
              "worst decile / median @1e-2 |", "|---" * 7 + "|"]

    def stat(values: list[float | None], scale: float = 1.0, digits: int = 2) -> str:
        known = [v * scale for v in values if v is not None]
        if not known:
            return "undefined"
        text = f"{np.mean(known):.{digits}f} +- {np.std(known):.{digits}f}"
        return text if len(known) == len(values) else f"{text} ({len(values) - len(known)} undefined)"
    for label, entries in by_model.items():
        lines.append(f"| {label} | {stat([e['accuracy'] for e in entries], 100)} "
                     f"| {stat([e['tar_at_far_1e-3'] for e in entries], 100)} "
                     f"| {stat([e['fmr_0.001']['gini'] for e in entries], digits=3)} "
                     f"| {stat([e['fmr_0.001']['worst_decile_to_median'] for e in entries])} "
                     f"| {stat([e['fmr_0.01']['gini'] for e in entries], digits=3)} "
                     f"| {stat([e['fmr_0.01']['worst_decile_to_median'] for e in entries])} |")
    # Paired by split: the folds differ more from each other than the models do.
    lines += ["", "Paired differences (mean +- std over splits of the per-split difference):", "",
              "| difference | accuracy (points) | TAR@FAR=1e-3 (points) | Gini@FMR 1e-3 | Gini@FMR 1e-2 |",
              "|---|---|---|---|---|"]
    labels = list(by_model)
    pairs = [(label, labels[0]) for label in labels[1:]]
    pairs += [(labels[i], labels[j]) for i in range(1, len(labels)) for j in range(1, i)]
    for new, old in pairs:
        if len(by_model[new]) != len(by_model[old]):
            continue

        def delta(get, scale: float = 1.0, digits: int = 2) -> str:  # noqa: ANN001
            values = [scale * (get(a) - get(b)) for a, b in zip(by_model[new], by_model[old])]
            return f"{np.mean(values):+.{digits}f} +- {np.std(values):.{digits}f}"
        lines.append(f"| {new} - {old} | {delta(lambda e: e['accuracy'], 100)} "
                     f"| {delta(lambda e: e['tar_at_far_1e-3'], 100)} "
                     f"| {delta(lambda e: e['fmr_0.001']['gini'], digits=3)} "
                     f"| {delta(lambda e: e['fmr_0.01']['gini'], digits=3)} |")
    return lines


def main() -> None:
    global ALIGNED
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--work", type=Path, default=Path("/tmp/facetrust_finetune"))
    parser.add_argument("--validate", action="store_true", help="the (lr, epochs) grid on the validation "
                        "split (fold 9, threshold fold 8), ArcFace only")
    parser.add_argument("--grid-lr", default="0.01,0.1")
    parser.add_argument("--grid-epochs", default="2,5")
    parser.add_argument("--splits", default="0,1,2", help="evaluation folds t (0-8); threshold fold (t + 1) % 9")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--heads", default="arcface,arcface+cifp")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--trainable-last-layers", type=int, default=6)
    parser.add_argument("--prepare", action="store_true", help="only store the frozen layers' outputs of every "
                        "LFW image, last name first (to run beside a training process)")
    parser.add_argument("--prepare-shuffled", action="store_true", help="with --prepare: in a random order")
    parser.add_argument("--eval-cap", type=int, default=10, help="images per person in the TAR and "
                        "per-identity FPR measurements (the first, sorted)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    # One thread: on the shared 2-core machine under load, two threads wait on each other (measured:
    # 6x slower than one).
    torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))

    ALIGNED = args.work / "lfw_aligned"
    started = time.perf_counter()
    index = build_aligned_cache(args.shared / "data" / "lfw", ALIGNED, "yunet", every("aligning LFW"))
    log(f"aligned LFW: {sum(v == 'ok' for v in index.values())} of {len(index)} images with a face")
    pairs = read_lfw_pairs(args.shared / "data" / "lfw_pairs.txt", args.shared / "data" / "lfw")
    people = fold_people(pairs)
    first = dense_layers(build_model(TrainConfig(pretrained="zoo"), 2).backbone)[-args.trainable_last_layers]
    log(f"trainable from {first} (the last {args.trainable_last_layers} dense layers)")
    if args.prepare:
        model, prefix = tail_model(None, first)
        paths = sorted(ALIGNED.glob("*/*.png"), reverse=True)
        if args.prepare_shuffled:  # a second preparing process: meets the others rarely
            paths = [paths[i] for i in np.random.default_rng(0).permutation(len(paths))]
        FrozenFeatures(prefix, args.work / "frozen").load(paths, crops_of(paths, model), every("frozen layers", 0.02))
        return
    if args.validate:
        splits = [VALIDATION]
        grid = [(float(lr), int(ep)) for lr in args.grid_lr.split(",") for ep in args.grid_epochs.split(",")]
        heads = ["arcface"]
    else:
        splits = [(t, (t + 1) % 9) for t in (int(s) for s in args.splits.split(","))]
        if any(t == VALIDATION[0] for t, _ in splits):
            raise SystemExit("fold 9 is the validation fold, not an evaluation fold")
        grid, heads = [(args.lr, args.epochs)], args.heads.split(",")
    results = [run_split(args, split, people, pairs, first, grid, heads) for split in splits]
    out = args.out or ROOT / "bench" / "results" / ("train_finetune_lfw_validation.md" if args.validate
                                                   else "train_finetune_lfw.md")
    lines = ["# Fine-tuning the zoo MobileFaceNet on LFW-a, identity-disjoint (bench/train_finetune_lfw.py)", "",
             f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; this invocation {time.perf_counter() - started:.0f} s, "
             f"load average at the end {os.getloadavg()[0]:.1f}.",
             f"Trainable: the last {args.trainable_last_layers} dense layers (from `{first}`), "
             f"batch {args.batch_size}, "
             f"SGD momentum 0.9, weight decay 5e-4, polynomial decay; CIFP weight 1.0, threshold 0.3.", "",
             *[f"* split {r['split']}: trained on {r['train_people']} people, {r['train_images']} images"
               for r in results],
             "", *table(results)]
    text = "\n".join(lines) + "\n"
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
