"""The recognition trainer: backbone + margin head over (Partial FC) class centres, SGD/AdamW with
polynomial decay, gradient accumulation, DDP under ``torchrun``, atomic checkpoints, exact resume.

Every random choice of a step (epoch order, flips, Partial FC sampling, dropout) is drawn from a
generator seeded by (seed, step, micro-batch), so a resumed run repeats the uninterrupted one
exactly, and N DDP processes see the same micro-batches as one process accumulating N of them.
"""
from __future__ import annotations

import json
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from facetrust.progress import Progress, track
from facetrust.training.backbones import create_backbone
from facetrust.training.checkpoint import load_checkpoint, save_checkpoint
from facetrust.training.config import TrainConfig
from facetrust.training.data import DataReport, FaceDataset, build_aligned_cache, load_dataset
from facetrust.training.errors import CheckpointError, DatasetError, TrainingConfigError
from facetrust.training.frozen_prefix import FrozenFeatures, FrozenPrefix, freeze_all_but_last
from facetrust.training.heads import create_head
from facetrust.training.partial_fc import PartialFC

CHECKPOINT = "checkpoint.pt"


class RecognitionModel(nn.Module):
    """Backbone + Partial FC in one module, so that DDP syncs both."""

    def __init__(self, backbone: nn.Module, classifier: PartialFC) -> None:
        super().__init__()
        self.backbone, self.classifier = backbone, classifier
        self.register_buffer("mean", torch.tensor(backbone.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(backbone.STD).view(1, 3, 1, 1), persistent=False)

    def embed(self, crops: torch.Tensor) -> torch.Tensor:
        """Embeddings of (N, 3, 112, 112) float RGB crops in 0-255."""
        return self.backbone((crops - self.mean) / self.std)

    def forward(self, crops: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                frozen_features: bool = False) -> torch.Tensor:
        """The loss; with ``frozen_features``, ``crops`` is what the first trainable block receives
        (the frozen prefix skipped, see ``facetrust.training.frozen_prefix``)."""
        return self.classifier(self.backbone(crops) if frozen_features else self.embed(crops), labels, generator)


@dataclass
class TrainResult:
    steps: int
    losses: list[float]                      # mean loss of every optimiser step run in this call
    checkpoint: Path
    identities: list[str]
    data: DataReport


def _distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world size); under torchrun, joins the process group: NCCL when training on CUDA
    (after selecting this process's GPU), gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world


def training_device(config: TrainConfig) -> torch.device:
    """The device of this process: the CPU, or under torchrun the GPU of its local rank;
    TrainingConfigError when CUDA is asked for and there is none."""
    if config.device == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise TrainingConfigError("device = cuda, but torch sees no CUDA device (use device = cpu)")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def _barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


def prepare_data(config: TrainConfig, rank: int = 0, world: int = 1, progress: Progress = True) -> FaceDataset:
    if not config.data:
        raise TrainingConfigError("set data = the folder of identity folders (or --set data=PATH)")
    root = Path(config.data)
    if config.aligned:
        return load_dataset(root, config.min_images_per_identity)
    cache = Path(config.cache_dir) if config.cache_dir else Path(config.output) / "aligned"
    if rank == 0:
        build_aligned_cache(root, cache, config.detector, progress)
    _barrier(world)
    return load_dataset(cache, config.min_images_per_identity,
                        json.loads((cache / "index.json").read_text()))


def _load_pretrained(backbone: nn.Module, config: TrainConfig) -> None:
    if not config.pretrained:
        return
    if config.pretrained == "zoo":
        weights = getattr(backbone, "ZOO_WEIGHTS", None)
        if weights is None:
            raise TrainingConfigError(f"{config.network} has no zoo weights; set pretrained to a .pt file")
        from facetrust.zoo.store import model_dir

        base = model_dir()
        path = (base / weights) if base else Path(weights)
    else:
        path = Path(config.pretrained)
    if not path.is_file():
        where = "" if config.pretrained != "zoo" else " (set FACETRUST_MODEL_DIR to the model store)"
        raise CheckpointError(f"pretrained weights not found: {path}{where}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"cannot read pretrained weights {path}: {exc}") from None
    if isinstance(state, dict) and isinstance(state.get("model"), dict):  # a facetrust training checkpoint
        state = {key.removeprefix("backbone."): value for key, value in state["model"].items()
                 if key.startswith("backbone.")}
    try:
        backbone.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:  # wrong keys/shapes, or not a state_dict
        raise CheckpointError(f"{path} does not fit {config.network}: {str(exc).splitlines()[0]}") from None


def _generator(seed: int, *parts: int) -> torch.Generator:
    value = seed
    for part in parts:
        value = (value * 1_000_003 + part) % (2**63 - 1)
    return torch.Generator().manual_seed(value)


def _micro_batch(dataset: FaceDataset, indices: np.ndarray, generator: torch.Generator,
                 features: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(crops, labels), or with ``features`` (the frozen prefix's outputs, as is and mirrored) the
    stored outputs of the same crops with the same flips."""
    labels = torch.from_numpy(dataset.labels[indices])
    if features is not None:
        flip = torch.rand(len(indices), generator=generator) < 0.5
        return features[torch.from_numpy(indices), flip.long()], labels
    crops = torch.from_numpy(dataset.load(indices)).permute(0, 3, 1, 2).float()
    flip = torch.rand(len(indices), generator=generator) < 0.5  # horizontal-flip augmentation
    crops[flip] = crops[flip].flip(3)
    return crops, labels


class _TrainableTail:
    """``trainable_last_layers``: the layers before the N-th last dense layer are frozen (inference
    mode); their outputs for every image, as is and mirrored, are computed once (kept under
    ``frozen_cache``) and the backbone then runs from the first trainable block. The shortcut is
    checked against the whole network on the first images; if they differ (a backbone that does not
    chain its children in order), the whole network runs with the same layers frozen."""

    def __init__(self, model: RecognitionModel, config: TrainConfig, dataset: FaceDataset, rank: int, world: int,
                 progress: Progress) -> None:
        first, self.frozen = freeze_all_but_last(model.backbone, config.trainable_last_layers)
        self.prefix: FrozenPrefix | None = FrozenPrefix(model.backbone, first)
        folder = Path(config.frozen_cache) if config.frozen_cache else Path(config.output) / "frozen"
        store = FrozenFeatures(self.prefix, folder)

        def crops(indices: list[int]) -> torch.Tensor:
            return (torch.from_numpy(dataset.load(np.asarray(indices))).permute(0, 3, 1, 2).float()
                    - model.mean) / model.std

        model.eval()
        if rank == 0:
            store.load(dataset.paths, crops, progress)
        _barrier(world)
        self.features: torch.Tensor | None = store.load(dataset.paths, crops, False)
        sample = list(range(min(8, len(dataset))))
        with torch.no_grad():
            whole = model.backbone(crops(sample))
            self.prefix.engage()
            shortcut = model.backbone(self.features[sample, 0])
        if not torch.allclose(shortcut, whole, atol=1e-4, rtol=1e-4):
            self.prefix.release()
            self.prefix, self.features = None, None

    def train(self, model: nn.Module) -> None:
        model.train()
        for module in self.frozen:
            module.eval()

    def state_dict(self, model: nn.Module) -> dict[str, Any]:
        """The whole model's state (the skipped modules put back for it)."""
        if self.prefix is None:
            return model.state_dict()
        self.prefix.release()
        try:
            return model.state_dict()
        finally:
            self.prefix.engage()

    def close(self) -> None:
        if self.prefix is not None:
            self.prefix.release()


def build_model(config: TrainConfig, num_classes: int) -> RecognitionModel:
    backbone = create_backbone(config.network, config.embedding_size)
    _load_pretrained(backbone, config)
    head = create_head(config.head, config.scale, config.margin)
    return RecognitionModel(backbone, PartialFC(head, num_classes, config.embedding_size, config.sample_rate,
                                                config.cifp, config.cifp_threshold))


def train_recognizer(config: TrainConfig, progress: Progress = True, stop_after: int | None = None,
                     on_step: Callable[[int, float], None] | None = None) -> TrainResult:
    """Train per ``config``; resumes from ``<output>/checkpoint.pt`` when ``config.resume``.
    ``stop_after`` ends (with a checkpoint) after that many steps of this call, as an interrupt would."""
    device = training_device(config)
    rank, world = _distributed(device)
    dataset = prepare_data(config, rank, world, progress and rank == 0)
    global_batch = config.batch_size * config.gradient_acc * world
    steps_per_epoch = len(dataset) // global_batch
    if steps_per_epoch == 0:
        raise DatasetError(f"{len(dataset)} images are fewer than one global batch of {global_batch} "
                           f"(batch_size x gradient_acc x processes)")
    total = config.max_steps or config.epochs * steps_per_epoch
    torch.manual_seed(config.seed)
    model = build_model(config, len(dataset.identities))
    if config.resume:
        state = load_checkpoint(Path(config.output) / CHECKPOINT, config, dataset.identities)
        model.load_state_dict(state["model"])
    tail = _TrainableTail(model, config, dataset, rank, world, progress if rank == 0 else False) \
        if config.trainable_last_layers else None
    features = tail.features if tail is not None else None  # stays on the CPU; batches move
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                                           weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: (1 - step / total) ** 2)
    # float16 needs its gradients scaled against underflow; bfloat16 (the CPU's) has float32's range.
    scaler = torch.amp.GradScaler(device.type, enabled=config.amp and device.type == "cuda")
    precision = torch.float16 if device.type == "cuda" else torch.bfloat16
    output = Path(config.output)
    checkpoint_path = output / CHECKPOINT
    start = 0
    if config.resume:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        start = state["step"]
    trained: nn.Module = model
    if world > 1:
        trained = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    writer = _tensorboard(config, output) if rank == 0 else None

    def save(step: int) -> None:
        if rank == 0:
            save_checkpoint({"config": config.to_dict(), "step": step, "identities": dataset.identities,
                             "model": tail.state_dict(model) if tail is not None else model.state_dict(),
                             "optimizer": optimizer.state_dict(),
                             "scheduler": scheduler.state_dict(),
                             **({"scaler": scaler.state_dict()} if scaler.is_enabled() else {})}, checkpoint_path)
        _barrier(world)

    losses: list[float] = []
    end = total if stop_after is None else min(total, start + stop_after)
    if tail is not None:
        tail.train(model)
    else:
        model.train()
    step = start
    try:
        for step in track(range(start, end), end - start, "training", progress and rank == 0, unit="steps"):
            epoch, position = divmod(step, steps_per_epoch)
            order = torch.randperm(len(dataset), generator=_generator(config.seed, epoch)).numpy()
            chunk = order[position * global_batch:(position + 1) * global_batch]
            step_loss = 0.0
            for k in range(config.gradient_acc):
                micro = rank * config.gradient_acc + k
                generator = _generator(config.seed, epoch, step, micro)
                torch.manual_seed(int(torch.randint(2**31, (1,), generator=generator)))  # dropout etc.
                crops, labels = _micro_batch(dataset, chunk[micro * config.batch_size:(micro + 1) * config.batch_size],
                                             generator, features)
                crops, labels = crops.to(device, non_blocking=True), labels.to(device, non_blocking=True)
                sync = k == config.gradient_acc - 1 or world == 1
                with (nullcontext() if sync else trained.no_sync()):
                    with torch.autocast(device.type, dtype=precision, enabled=config.amp):
                        loss = trained(crops, labels, generator, features is not None) / config.gradient_acc
                    scaler.scale(loss).backward()
                step_loss += loss.item()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(step_loss)
            if writer is not None:
                writer.add_scalar("loss", step_loss, step + 1)
                writer.add_scalar("lr", scheduler.get_last_lr()[0], step + 1)
            if on_step is not None:
                on_step(step + 1, step_loss)
            if (step + 1) % config.save_every == 0 and step + 1 < end:
                save(step + 1)
        step = end
    except KeyboardInterrupt:
        save(start + len(losses))  # keep the finished steps; resume continues from here
        raise
    save(step)
    if tail is not None:
        tail.close()
    if writer is not None:
        writer.close()
    if world > 1:
        torch.distributed.destroy_process_group()
    return TrainResult(step, losses, checkpoint_path, dataset.identities, dataset.report)


def _tensorboard(config: TrainConfig, output: Path) -> Any:
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainingConfigError("tensorboard = true needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(str(output / "tensorboard"))
