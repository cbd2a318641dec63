"""Train the project's self-blended-images (SBI) forgery detector on CPU and export it to ONNX.

    pip install -e '.[train]'
    python -m facetrust.forensics.training.train_sbi --seconds 3000 --lfw-images 6000 --luminance \\
        --out facetrust/models/forensics/sbi-rgbfreq-96.onnx      # the shipped model's run

Only real faces are used (:mod:`facetrust.forensics.training.data`); every batch holds
each sampled real crop and a self-blended copy of it (:func:`facetrust.forensics.synthesis.self_blend`),
so the only difference the network can learn is the blending. Both halves get the same
kind of random flips, image borders (:func:`image_border`), JPEG, re-scaling and noise. Training stops after ``--seconds`` of
wall time (cosine learning-rate decay over that budget; one torch thread unless --threads), and the final
weights are exported — no checkpoint is picked on any evaluation data. A recipe JSON next
to the model records the data (file list digest and counts), the settings, the proxy
validation AUC on held-out source files, and the sha256 of the ONNX file.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from facetrust.forensics.sbi_inputs import CROP_MARGIN, HEATMAP_SIZE, INPUT_SIZE, model_inputs
from facetrust.forensics.synthesis import self_blend
from facetrust.forensics.training.data import FaceSet, build_face_set, files_digest, training_files

MIN_FACE_SIDE = 32
VALIDATION_SHARE = 0.15
BORDER_PROBABILITY = 0.3
#: Down-and-up re-scaling of real and fake alike: video faces are often 50-100 px wide and
#: upsampled to the input, so the network must not read "soft texture" as "blended".
RESCALE_PROBABILITY, RESCALE_RANGE = 0.5, (0.35, 0.9)
JPEG_PROBABILITY, JPEG_QUALITY = 0.6, (30, 96)


def augment(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The same random distortions for real and fake crops: flip, image border, re-scaling, JPEG, noise."""
    import cv2

    if rng.uniform() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if rng.uniform() < BORDER_PROBABILITY:
        image, mask = image_border(image, mask, rng)
    if rng.uniform() < RESCALE_PROBABILITY:
        factor = rng.uniform(*RESCALE_RANGE)
        small = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        image = cv2.resize(small, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    if rng.uniform() < JPEG_PROBABILITY:
        ok, data = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                                [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(*JPEG_QUALITY))])
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    if rng.uniform() < 0.2:
        image = np.clip(image + rng.normal(0, rng.uniform(1, 4), image.shape), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image), np.ascontiguousarray(mask)


def image_border(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pretend the source image ended inside the crop: cut up to 25% off random sides and refill them
    by reflection, as :func:`facetrust.forensics.crop.aligned_crop` does for tight face crops
    (e.g. datasets of detector crops). Mirror seams then appear on real and fake faces alike."""
    import cv2

    size = image.shape[0]
    top, bottom, left, right = (int(v) if rng.uniform() < 0.5 else 0 for v in rng.uniform(0, 0.25 * size, 4))
    inner = (slice(top, size - bottom), slice(left, size - right))
    pad = (top, bottom, left, right)
    return (cv2.copyMakeBorder(np.ascontiguousarray(image[inner]), *pad, cv2.BORDER_REFLECT_101),
            cv2.copyMakeBorder(np.ascontiguousarray(mask[inner]), *pad, cv2.BORDER_REFLECT_101))


def make_batch(faces: FaceSet, indices: np.ndarray, rng: np.random.Generator) -> tuple[dict, np.ndarray, np.ndarray]:
    """Inputs, labels (0 real / 1 fake) and 24x24 mask targets for real crops + their self-blends."""
    import cv2

    images, masks, labels = [], [], []
    for index in indices:
        crop, points = faces.crops[index], faces.landmarks[index]
        blend = self_blend(crop, points, rng)
        for image, mask, label in ((crop, np.zeros(crop.shape[:2], np.float32), 0.0), (blend.image, blend.mask, 1.0)):
            image, mask = augment(image, mask, rng)
            images.append(image)
            masks.append(cv2.resize(mask, (HEATMAP_SIZE, HEATMAP_SIZE), interpolation=cv2.INTER_AREA))
            labels.append(label)
    return model_inputs(np.stack(images)), np.asarray(labels, np.float32), np.stack(masks)


def split_by_source(faces: FaceSet, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices with whole source files (a video = one source) held out."""
    groups = np.array([s.split("#")[0] for s in faces.sources])
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, size=max(1, int(len(unique) * VALIDATION_SHARE)), replace=False))
    is_val = np.array([g in held for g in groups])
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _tensors(inputs: dict) -> tuple:
    import torch

    return torch.from_numpy(inputs["rgb"]), torch.from_numpy(inputs["spectrum"])


def evaluate(net: object, faces: FaceSet, indices: np.ndarray, seed: int) -> dict[str, float]:
    """Proxy validation: AUC real vs self-blended on held-out sources, and the heat-map error."""
    import torch

    from facetrust.evaluation.metrics import auc

    rng = np.random.default_rng(seed)
    scores, labels, errors = [], [], []
    net.eval()
    with torch.no_grad():
        for start in range(0, len(indices), 32):
            inputs, batch_labels, masks = make_batch(faces, indices[start:start + 32], rng)
            logit, mask_logits = net(*_tensors(inputs))
            scores.append(torch.sigmoid(logit).numpy())
            labels.append(batch_labels)
            errors.append(np.abs(torch.sigmoid(mask_logits).numpy() - masks).mean(axis=(1, 2)))
    net.train()
    scores_all, labels_all = np.concatenate(scores), np.concatenate(labels)
    return {"auc": auc(scores_all, labels_all.astype(bool)),
            "accuracy_at_0.5": float(np.mean((scores_all >= 0.5) == labels_all.astype(bool))),
            "heatmap_mae": float(np.mean(np.concatenate(errors))), "pairs": int(len(indices))}


def train(faces: FaceSet, train_idx: np.ndarray, seconds: float, batch_pairs: int, lr: float, seed: int,
          luminance: bool = False) -> tuple:
    import torch
    from rich.progress import Progress

    from facetrust.forensics.training.model import SBINet

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = SBINet(luminance)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    colour = faces.colour[train_idx]
    # half the pairs from colour faces: the evaluation data is colour, the pool mostly gray LFW
    weights = np.where(colour, 0.5 / max(colour.sum(), 1), 0.5 / max((~colour).sum(), 1))
    weights /= weights.sum()
    start, steps, losses = time.monotonic(), 0, []
    with Progress() as progress:
        task = progress.add_task("training SBI detector", total=seconds)
        while (elapsed := time.monotonic() - start) < seconds:
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * elapsed / seconds))
            inputs, labels, masks = make_batch(faces, rng.choice(train_idx, size=batch_pairs, p=weights), rng)
            logit, mask_logits = net(*_tensors(inputs))
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(labels))
                    + torch.nn.functional.binary_cross_entropy_with_logits(mask_logits, torch.from_numpy(masks)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            steps += 1
            progress.update(task, completed=min(seconds, time.monotonic() - start))
    return net, {"steps": steps, "pairs_seen": steps * batch_pairs, "seconds": round(time.monotonic() - start, 1),
                 "final_loss_mean_last_50": round(float(np.mean(losses[-50:])), 4)}


def export(net: object, path: Path) -> float:
    """ONNX export (opset 17, dynamic batch); returns the max |onnxruntime - torch| on random input."""
    import onnxruntime as ort
    import torch

    from facetrust.forensics.training.model import ExportedSBINet

    wrapped = ExportedSBINet(net).eval()
    rgb, spec = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE), torch.randn(2, 1, INPUT_SIZE, INPUT_SIZE)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.onnx")
    torch.onnx.export(wrapped, (rgb, spec), str(tmp), dynamo=False, opset_version=17,
                      input_names=["rgb", "spectrum"], output_names=["score", "heatmap"],
                      dynamic_axes={"rgb": {0: "n"}, "spectrum": {0: "n"}, "score": {0: "n"}, "heatmap": {0: "n"}})
    tmp.replace(path)
    wrapped.eval()  # the exporter restores the module's previous mode; compare in eval mode
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"rgb": rgb.numpy(), "spectrum": spec.numpy()})
    with torch.no_grad():
        want = [t.numpy() for t in wrapped(rgb, spec)]
    return float(max(np.abs(g - w).max() for g, w in zip(got, want)))


def main(argv: list[str] | None = None) -> None:
    import torch

    from facetrust.zoo.store import cache_dir, sha256_of

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_shared = os.environ.get("FACETRUST_SHARED", Path(__file__).resolve().parents[3].parent / "shared")
    parser.add_argument("--shared", type=Path, default=Path(default_shared), help="the shared/ data folder")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write (recipe: same name, .json)")
    parser.add_argument("--seconds", type=float, default=240.0, help="wall-clock training budget")
    parser.add_argument("--lfw-images", type=int, default=2000)
    parser.add_argument("--batch-pairs", type=int, default=16, help="real crops per batch (each + its blend)")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--luminance", action="store_true",
                        help="spatial branch sees luminance only (colour faces are few; LFW-a is gray)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (results are reproducible per count)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    files = training_files(args.shared, args.lfw_images, args.seed)
    digest = files_digest(files)
    cached = cache_dir().parent / "forensics" / f"sbi_faces_{digest[:16]}_{INPUT_SIZE}.npz"
    if cached.is_file():
        faces = FaceSet.load(cached)
    else:
        faces = build_face_set(files, INPUT_SIZE, CROP_MARGIN, MIN_FACE_SIDE)
        faces.save(cached)
    train_idx, val_idx = split_by_source(faces, args.seed)
    net, stats = train(faces, train_idx, args.seconds, args.batch_pairs, args.lr, args.seed, args.luminance)
    validation = evaluate(net, faces, val_idx, args.seed + 1)
    max_diff = export(net, args.out)
    relative = sorted(str(p.relative_to(args.shared)) for p in files)
    recipe = {
        "model": args.out.name, "sha256": sha256_of(args.out), "bytes": args.out.stat().st_size,
        "input": {"size": INPUT_SIZE, "crop_margin": CROP_MARGIN, "heatmap_size": HEATMAP_SIZE,
                  "spatial_branch": "luminance" if args.luminance else "rgb"},
        "data": {"files": len(files), "files_sha256_digest": digest, "faces": int(len(faces.crops)),
                 "colour_faces": int(faces.colour.sum()), "train_faces": int(len(train_idx)),
                 "validation_faces": int(len(val_idx)), "lfw_images": args.lfw_images,
                 "file_list": relative},
        "settings": {"seconds": args.seconds, "batch_pairs": args.batch_pairs, "lr": args.lr, "seed": args.seed,
                     "optimizer": "AdamW(weight_decay=1e-4), cosine decay over the time budget",
                     "loss": "BCE(score) + BCE(24x24 blending mask)", "torch_threads": args.threads,
                     "augmentation": (f"flip 0.5, image border {BORDER_PROBABILITY}, rescale {RESCALE_PROBABILITY} "
                                      f"x{RESCALE_RANGE[0]}-{RESCALE_RANGE[1]}, JPEG {JPEG_QUALITY[0]}-"
                                      f"{JPEG_QUALITY[1] - 1} {JPEG_PROBABILITY}, noise 0.2"),
                     "torch": torch.__version__},
        "training": stats, "validation_self_blended_held_out_sources": validation,
        "onnx_max_abs_diff_vs_torch": max_diff,
    }
    recipe_path = args.out.with_suffix(".json")
    recipe_path.write_text(json.dumps(recipe, indent=1) + "\n")
    print(json.dumps({k: v for k, v in recipe.items() if k != "data"}, indent=1))


if __name__ == "__main__":
    main()
