"""Train the project's self-blended-images (SBI) forgery detector on CPU and export it to ONNX.

    pip install -e '.[train]'
    python -m facetrust.forensics.training.train_sbi --seconds 3600 --lfw-images 6000 --luminance \\
        --utkface --clip-share 0.25 --colour-augment 0.5 --threads 2 \\
        --out runs/sbi-rgbfreq-96.onnx      # the second-pass run (docs/forensics.md)
    # the follow-up adds --balance-groups --aligned112 500 and starts from the shipped model (--init)

Only real faces are used (:mod:`facetrust.forensics.training.data`); every batch holds
each sampled real crop and a self-blended copy of it (:func:`facetrust.forensics.synthesis.self_blend`),
so the only difference the network can learn is the blending. Both halves get the same
kind of random flips, image borders (:func:`image_border`), JPEG, re-scaling, colour changes and noise.
``--clip-share`` of the pairs come from consecutive video frames blended as a clip
(:func:`facetrust.forensics.synthesis.blend_clip`, one perturbation per clip or one per frame).
``--balance-groups`` draws the UTKFace faces equally per race and age band, and ``--aligned112 N``
adds their aligned 112x112 form as the false-alarm evaluation makes it
(:mod:`facetrust.forensics.training.sampling`).
Training stops after ``--seconds`` of wall time or Ctrl-C (cosine learning-rate decay over the budget), and
the final weights are exported — no checkpoint is picked on any evaluation data. The loss of every step is
appended to ``<out>.loss.csv``; the weights are saved to ``<out>.ckpt.pt`` every ``--checkpoint-every``
seconds, and ``--init CKPT --seconds 0`` exports a checkpoint of an interrupted run. A recipe JSON next
to the model records the data (the rule that regenerates the file list, its counts and digests —
``bench/sbi_training_files.py`` rebuilds and verifies it), the settings, the proxy
validation AUC on held-out source files, and the sha256 of the ONNX file.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.forensics.sbi_inputs import CROP_MARGIN, HEATMAP_SIZE, INPUT_SIZE, model_inputs
from facetrust.forensics.synthesis import blend_clip, self_blend
from facetrust.forensics.training.data import (FaceSet, build_aligned112_set, build_face_set, file_names_sha256,
                                               file_rule, files_digest, files_per_folder, training_files)
from facetrust.forensics.training.sampling import is_aligned112, sampling_weights, utkface_groups

MIN_FACE_SIDE = 32
VALIDATION_SHARE = 0.15
BORDER_PROBABILITY = 0.3
#: Of the image borders, the share cut on all four sides by 8-18%: what re-cropping a stored
#: 112x112 ArcFace crop with the 30% margin looks like (about 11.5% reflected per side).
STORED_CROP_SHARE, STORED_CROP_CUT = 0.4, (0.08, 0.18)
CLIP_LENGTH = 4
#: Down-and-up re-scaling of real and fake alike: video faces are often 50-100 px wide and
#: upsampled to the input, so the network must not read "soft texture" as "blended".
RESCALE_PROBABILITY, RESCALE_RANGE = 0.5, (0.35, 0.9)
JPEG_PROBABILITY, JPEG_QUALITY = 0.6, (30, 96)


def colour_change(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A whole-image photometric change (gamma, per-channel gain, saturation) that real photos
    show too, so that colour casts and white balance never mean "blended"."""
    import cv2

    out = 255.0 * (image.astype(np.float32) / 255.0) ** rng.uniform(0.7, 1.4)
    out *= rng.uniform(0.85, 1.15, size=3)
    out = np.clip(out, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] *= rng.uniform(0.5, 1.4)
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)


def augment(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
            colour_probability: float = 0.0, shift_pixels: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same random distortions for real and fake crops: flip, shift, image border, re-scaling, colour,
    JPEG, noise. ``shift_pixels``: every crop moves by a random whole-pixel offset of at most that much."""
    import cv2

    if rng.uniform() < colour_probability:
        image = colour_change(image, rng)
    if rng.uniform() < 0.5:
        image, mask = image[:, ::-1], mask[:, ::-1]
    if shift_pixels:
        image, mask = shift(image, mask, *rng.integers(-shift_pixels, shift_pixels + 1, 2))
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


def shift(image: np.ndarray, mask: np.ndarray, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Move the crop (and its blending mask) ``dx`` pixels right and ``dy`` down, the uncovered edge filled
    by reflection: a real face a few pixels off the alignment template must not look blended (the shipped
    model's P(fake) of real faces rose from 0.22 to 0.34–0.52 on average under a 2-pixel move;
    docs/forensics.md, follow-up 4)."""
    d = max(abs(dx), abs(dy))
    if d == 0:
        return image, mask
    size_y, size_x = image.shape[:2]
    window = (slice(d - dy, d - dy + size_y), slice(d - dx, d - dx + size_x))
    padded_image = np.pad(image, ((d, d), (d, d), (0, 0)), mode="reflect")
    padded_mask = np.pad(mask, ((d, d), (d, d)), mode="reflect")
    return padded_image[window], padded_mask[window]


def image_border(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pretend the source image ended inside the crop: cut up to 25% off random sides and refill them
    by reflection, as :func:`facetrust.forensics.crop.aligned_crop` does for tight face crops
    (e.g. datasets of detector crops). Mirror seams then appear on real and fake faces alike."""
    import cv2

    size = image.shape[0]
    if rng.uniform() < STORED_CROP_SHARE:
        top, bottom, left, right = (int(v) for v in rng.uniform(*STORED_CROP_CUT, 4) * size)
    else:
        top, bottom, left, right = (int(v) if rng.uniform() < 0.5 else 0 for v in rng.uniform(0, 0.25 * size, 4))
    inner = (slice(top, size - bottom), slice(left, size - right))
    pad = (top, bottom, left, right)
    return (cv2.copyMakeBorder(np.ascontiguousarray(image[inner]), *pad, cv2.BORDER_REFLECT_101),
            cv2.copyMakeBorder(np.ascontiguousarray(mask[inner]), *pad, cv2.BORDER_REFLECT_101))


def make_batch(faces: FaceSet, indices: np.ndarray, rng: np.random.Generator, clips: Sequence[np.ndarray] = (),
               colour_probability: float = 0.0, shift_pixels: int = 0) -> tuple[dict, np.ndarray, np.ndarray]:
    """Inputs, labels (0 real / 1 fake) and 24x24 mask targets for real crops + their self-blends;
    each of ``clips`` (consecutive video crops) is blended as one clip."""
    import cv2

    pairs = [(faces.crops[i], self_blend(faces.crops[i], faces.landmarks[i], rng)) for i in indices]
    for clip in clips:
        blends = blend_clip([faces.crops[i] for i in clip], [faces.landmarks[i] for i in clip],
                            int(rng.integers(2**31)), consistent=bool(rng.uniform() < 0.5))
        pairs += [(faces.crops[i], blend) for i, blend in zip(clip, blends)]
    images, masks, labels = [], [], []
    for crop, blend in pairs:
        for image, mask, label in ((crop, np.zeros(crop.shape[:2], np.float32), 0.0), (blend.image, blend.mask, 1.0)):
            image, mask = augment(image, mask, rng, colour_probability, shift_pixels)
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


def clip_starts(faces: FaceSet, indices: np.ndarray) -> np.ndarray:
    """Indices (among ``indices``) that start a run of CLIP_LENGTH consecutive crops of one video."""
    videos = np.array([s.split("#")[0] if "#" in s else "" for s in faces.sources])
    chosen = set(indices.tolist())
    return np.array([i for i in indices if videos[i] and i + CLIP_LENGTH - 1 < len(videos)
                     and all(j in chosen and videos[j] == videos[i] for j in range(i, i + CLIP_LENGTH))], dtype=int)


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
          luminance: bool = False, clip_share: float = 0.0, colour_probability: float = 0.0,
          log_path: Path | None = None, checkpoint_path: Path | None = None, checkpoint_every: float = 300.0,
          init: Path | None = None, weights: np.ndarray | None = None, shift_pixels: int = 0) -> tuple:
    """Train for ``seconds``; ``weights`` (one per face of ``faces``, :func:`sampling_weights`) say how
    often each face is drawn (default: half colour, half gray, each uniform)."""
    import torch
    from rich.progress import Progress

    from facetrust.forensics.training.model import SBINet

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = SBINet(luminance)
    frozen = init is not None and init.suffix == ".onnx"
    if frozen:
        init_from_onnx(net, init)
    elif init is not None:
        net.load_state_dict(torch.load(init, map_location="cpu"))
    set_train_mode(net, frozen)
    starts = clip_starts(faces, train_idx) if clip_share > 0 else np.array([], dtype=int)
    clips_per_batch = int(round(batch_pairs * clip_share / CLIP_LENGTH)) if len(starts) else 0
    single_pairs = batch_pairs - clips_per_batch * CLIP_LENGTH
    log = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("w", newline="")
        log.write("step,seconds,lr,loss,loss_score,loss_mask\n")
    last_checkpoint = time.monotonic()
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    # half the pairs from colour faces: the evaluation data is colour, the pool mostly gray LFW
    weights = sampling_weights(faces.colour[train_idx]) if weights is None else \
        weights[train_idx] / weights[train_idx].sum()
    start, steps, losses = time.monotonic(), 0, []
    interrupted = False
    try:
        with Progress() as progress:
            task = progress.add_task("training SBI detector", total=seconds)
            while (elapsed := time.monotonic() - start) < seconds:
                rate = lr * 0.5 * (1 + math.cos(math.pi * elapsed / seconds))
                for group in optimizer.param_groups:
                    group["lr"] = rate
                clips = [np.arange(s, s + CLIP_LENGTH) for s in rng.choice(starts, size=clips_per_batch)] \
                    if clips_per_batch else []
                inputs, labels, masks = make_batch(faces, rng.choice(train_idx, size=single_pairs, p=weights), rng,
                                                   clips, colour_probability, shift_pixels)
                logit, mask_logits = net(*_tensors(inputs))
                score_loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, torch.from_numpy(labels))
                mask_loss = torch.nn.functional.binary_cross_entropy_with_logits(mask_logits, torch.from_numpy(masks))
                loss = score_loss + mask_loss
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                set_train_mode(net, frozen)  # a checkpoint or evaluation may have switched modes
                losses.append(loss.item())
                steps += 1
                if log is not None:
                    log.write(f"{steps},{time.monotonic() - start:.1f},{rate:.6g},{losses[-1]:.5f},"
                              f"{score_loss.item():.5f},{mask_loss.item():.5f}\n")
                    log.flush()
                if checkpoint_path is not None and time.monotonic() - last_checkpoint >= checkpoint_every:
                    _save_checkpoint(net, checkpoint_path)
                    last_checkpoint = time.monotonic()
                progress.update(task, completed=min(seconds, time.monotonic() - start))
    except KeyboardInterrupt:  # stop cleanly: the weights so far are exported
        interrupted = True
    finally:
        if log is not None:
            log.close()
    if checkpoint_path is not None:
        _save_checkpoint(net, checkpoint_path)
    return net, {"steps": steps, "pairs_seen": steps * batch_pairs, "seconds": round(time.monotonic() - start, 1),
                 "interrupted": interrupted, "clip_pairs_per_batch": clips_per_batch * CLIP_LENGTH,
                 "final_loss_mean_last_50": round(float(np.mean(losses[-50:])), 4) if losses else None}


def init_from_onnx(net: object, path: Path) -> None:
    """Start from an exported model: its convolutions have batch norm folded in, so each conv gets
    the folded weight and its BatchNorm becomes the identity plus the folded bias (train with
    ``freeze_batch_norm`` so batch statistics do not undo that)."""
    import onnx
    import torch
    from onnx import numpy_helper

    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(str(path)).graph.initializer}
    folded = [weights[n] for n in sorted((n for n in weights if n.startswith("onnx::Conv_")),
                                         key=lambda n: int(n.rsplit("_", 1)[1]))]
    convs = [m for stage in (net.stage1, net.stage2, net.stage3, net.stage4, net.frequency) for m in stage.modules()
             if isinstance(m, torch.nn.Sequential) and len(m) == 3 and isinstance(m[0], torch.nn.Conv2d)]
    if len(folded) != 2 * len(convs):
        raise ValueError(f"{path}: {len(folded) // 2} folded convolutions, the network has {len(convs)}")
    with torch.no_grad():
        for (conv, norm, _), weight, bias in zip(convs, folded[0::2], folded[1::2]):
            conv.weight.copy_(weight)
            norm.weight.fill_(1.0)
            norm.bias.copy_(bias)
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
        for name, parameter in net.named_parameters():
            if f"net.{name}" in weights:
                parameter.copy_(weights[f"net.{name}"])


def set_train_mode(net: object, freeze_batch_norm: bool) -> None:
    """Training mode; with ``freeze_batch_norm`` the BatchNorm layers keep their running statistics."""
    import torch

    net.train()
    if freeze_batch_norm:
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()


def _save_checkpoint(net: object, path: Path) -> None:
    """Atomic save of the weights (a killed run leaves the previous checkpoint intact)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(net.state_dict(), tmp)
    tmp.replace(path)


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


def aligned112_files(shared: Path, per_race: int) -> list[Path]:
    """Up to ``per_race`` UTKFace ``train`` files per race (lowest name hash first), for aligned-112 crops."""
    from facetrust.forensics.colour_faces import read_utkface

    return [face.path for face in read_utkface(shared / "data" / "utkface", "train", per_race)] if per_race else []


def cached_aligned112_set(files: list[Path]) -> FaceSet:
    """:func:`build_aligned112_set` of ``files``, cached by their content digest."""
    from facetrust.zoo.store import cache_dir

    cached = cache_dir().parent / "forensics" / f"sbi_aligned112_{files_digest(files)[:16]}_{INPUT_SIZE}.npz"
    if cached.is_file():
        return FaceSet.load(cached)
    faces = build_aligned112_set(files, INPUT_SIZE, CROP_MARGIN)
    faces.save(cached)
    return faces


def _shift_text(pixels: int) -> str:
    return f"shift up to {pixels} px, " if pixels else ""


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
    parser.add_argument("--utkface", action="store_true", help="add the UTKFace train split (colour faces)")
    parser.add_argument("--clip-share", type=float, default=0.0,
                        help="share of the pairs blended as video clips (blend_clip) from consecutive video crops")
    parser.add_argument("--colour-augment", type=float, default=0.0,
                        help="probability of a whole-image colour change, real and fake alike")
    parser.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds between weight checkpoints")
    parser.add_argument("--init", type=Path, help="start from these weights: a checkpoint (.pt; with --seconds 0: "
                        "export it) or an exported model (.onnx: fine-tune it, batch norm frozen)")
    parser.add_argument("--shift-augment", type=int, default=0, metavar="PIXELS",
                        help="move every training crop by a random whole-pixel offset of at most PIXELS (0: off)")
    parser.add_argument("--balance-groups", action="store_true",
                        help="draw UTKFace faces equally per race, then per age band (training/sampling.py)")
    parser.add_argument("--aligned112", type=int, default=0, metavar="N",
                        help="add the aligned-112 form of up to N UTKFace train files per race (with --balance-groups)")
    parser.add_argument("--aligned112-share", type=float, default=0.4,
                        help="share of each group's draws taken from its aligned-112 crops")
    args = parser.parse_args(argv)
    if args.aligned112 and not (args.utkface and args.balance_groups):
        parser.error("--aligned112 needs --utkface and --balance-groups")
    if not 0 <= args.shift_augment < INPUT_SIZE // 4:
        parser.error(f"--shift-augment must be 0 to {INPUT_SIZE // 4 - 1} pixels, got {args.shift_augment}")
    torch.set_num_threads(args.threads)

    files = training_files(args.shared, args.lfw_images, args.seed, args.utkface)
    digest = files_digest(files)
    cached = cache_dir().parent / "forensics" / f"sbi_faces_{digest[:16]}_{INPUT_SIZE}.npz"
    if cached.is_file():
        faces = FaceSet.load(cached)
    else:
        faces = build_face_set(files, INPUT_SIZE, CROP_MARGIN, MIN_FACE_SIDE)
        faces.save(cached)
    base_faces = faces
    aligned_files = aligned112_files(args.shared, args.aligned112)
    if aligned_files:
        faces = faces + cached_aligned112_set(aligned_files)
    train_idx, val_idx = split_by_source(faces, args.seed)
    weights = None
    if args.balance_groups:
        weights = np.zeros(len(faces.crops))  # balanced over the training faces; held-out ones are never drawn
        weights[train_idx] = sampling_weights(
            faces.colour[train_idx], utkface_groups(faces.sources[train_idx], args.shared / "data" / "utkface"),
            is_aligned112(faces.sources[train_idx]), args.aligned112_share)
    net, stats = train(faces, train_idx, args.seconds, args.batch_pairs, args.lr, args.seed, args.luminance,
                       args.clip_share, args.colour_augment, args.out.with_suffix(".loss.csv"),
                       args.out.with_suffix(".ckpt.pt"), args.checkpoint_every, args.init, weights,
                       args.shift_augment)
    # the proxy validation keeps the original faces' held-out split (comparable with earlier models)
    validation = evaluate(net, base_faces, split_by_source(base_faces, args.seed)[1], args.seed + 1)
    max_diff = export(net, args.out)
    recipe = {
        "model": args.out.name, "sha256": sha256_of(args.out), "bytes": args.out.stat().st_size,
        "input": {"size": INPUT_SIZE, "crop_margin": CROP_MARGIN, "heatmap_size": HEATMAP_SIZE,
                  "spatial_branch": "luminance" if args.luminance else "rgb"},
        "data": {"files": len(files), "file_rule": file_rule(args.lfw_images, args.seed, args.utkface),
                 "files_per_folder": files_per_folder(args.shared, files),
                 "file_names_sha256": file_names_sha256(args.shared, files), "files_sha256_digest": digest,
                 "faces": int(len(faces.crops)), "colour_faces": int(faces.colour.sum()),
                 "train_faces": int(len(train_idx)), "validation_faces": int(len(val_idx)),
                 "lfw_images": args.lfw_images,
                 "aligned112": {"files_per_race": args.aligned112, "files": len(aligned_files),
                                "faces": int(len(faces.crops) - len(base_faces.crops)),
                                "file_names_sha256": file_names_sha256(args.shared, aligned_files),
                                "share_of_each_group": args.aligned112_share} if aligned_files else None},
        "settings": {"seconds": args.seconds, "batch_pairs": args.batch_pairs, "lr": args.lr, "seed": args.seed,
                     "optimizer": "AdamW(weight_decay=1e-4), cosine decay over the time budget",
                     "loss": "BCE(score) + BCE(24x24 blending mask)", "torch_threads": args.threads,
                     "init": None if args.init is None else f"{args.init.name} (sha256 {sha256_of(args.init)})",
                     "clip_share": args.clip_share, "colour_augment": args.colour_augment,
                     "sampling": ("UTKFace draws balanced per race, then per age band "
                                  "(facetrust.forensics.training.sampling)" if args.balance_groups
                                  else "half colour, half gray, each uniform"),
                     "augmentation": (f"flip 0.5, {_shift_text(args.shift_augment)}image border {BORDER_PROBABILITY} (all sides "
                                      f"{STORED_CROP_CUT} x{STORED_CROP_SHARE}), rescale {RESCALE_PROBABILITY} "
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
