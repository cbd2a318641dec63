"""Forgetting identities on request (the GS-LoRA idea, Zhao et al., CVPR 2024): low-rank adapters
(peft LoRA) on the backbone's convolutions and linear layers (all, or the last ``last_layers``) are
trained so that the forgotten identities' embeddings turn away from their templates while every
other identity keeps its embedding; a group-sparsity penalty (the sum of each adapted layer's
adapter norm) keeps the change to few layers. The adapters are then merged into the weights, so the
result is an ordinary checkpoint (same network, same export), plus the adapters on their own for
inspection.

Losses per step (the backbone frozen, batch norm in inference mode):

* forget: ``relu(cos(e, t_y) - margin)`` towards each image's identity template ``t_y`` (the mean
  of the original model's embeddings of that identity), plus the hinge ``relu(cos - pair_margin)``
  on every pair of images of one forgotten identity in the batch (the forgotten half of a batch comes from a few
  identities with several images each), so that re-enrolling them with the new model does not
  recreate a consistent template;
  With ``mirror_forgotten``, mirrored copies of the forgotten images join them as more images of
  each person (more views for the same two hinges);
* retain: ``1 - cos(e, e_original)`` on images of the other identities (distillation);
* group sparsity: ``lambda * sum_layers ||(A, B)||_2``.

The checkpoint's classifier rows of the forgotten identities (their class centres, i.e. templates)
are erased (set to zero), and the identities are recorded as forgotten.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facetrust.progress import Progress, track
from facetrust.training.checkpoint import save_checkpoint
from facetrust.training.config import TrainConfig
from facetrust.training.errors import CheckpointError, DatasetError, TrainingConfigError
from facetrust.training.frozen_prefix import FrozenPrefix as _FrozenPrefix
from facetrust.training.frozen_prefix import dense_layers as _adapted_modules

ADAPTER = "adapter.pt"


@dataclass(frozen=True)
class ForgetOptions:
    rank: int = 8                   # LoRA rank of every adapted layer
    alpha: float = 16.0             # LoRA scaling numerator (scale = alpha / rank)
    steps: int = 200
    lr: float = 5e-3                # AdamW on the adapters only, cosine decay to 0 over the steps
    batch_size: int = 48            # per step: half forgotten identities' images, half others'
    identities_per_batch: int = 4   # the forgotten half comes from this many forgotten identities (pairs of one person)
    margin: float = -0.2            # forget hinge: cosine to the template pushed below this
    pair_margin: float | None = None  # hinge on pairs of one forgotten identity's images (None: ``margin``)
    retain_weight: float = 5.0
    group_sparsity: float = 1e-4    # lambda of the group-lasso penalty over adapted layers
    last_layers: int = 8            # adapt only the last N dense layers of the backbone (0: all)
    mirror_forgotten: bool = False  # add mirrored copies of the forgotten images (more views of each person)
    seed: int = 2048

    def __post_init__(self) -> None:
        for name in ("rank", "steps", "batch_size", "identities_per_batch"):
            if getattr(self, name) < (2 if name == "batch_size" else 1):
                raise TrainingConfigError(f"forget {name} must be a positive integer, got {getattr(self, name)}")
        pair_margin = self.margin if self.pair_margin is None else self.pair_margin
        if not (self.lr > 0 and self.alpha > 0 and self.retain_weight >= 0 and self.group_sparsity >= 0
                and -1.0 <= self.margin < 1.0 and -1.0 <= pair_margin < 1.0 and self.last_layers >= 0):
            raise TrainingConfigError("forget options out of range: lr, alpha > 0; retain_weight, group_sparsity, "
                                      "last_layers >= 0; -1 <= margin, pair_margin < 1")


@dataclass
class ForgetResult:
    checkpoint: Path                # merged model, loadable and exportable like any training checkpoint
    adapter: Path                   # the LoRA weights alone
    adapter_parameters: int
    adapter_bytes: int
    adapted_layers: int
    active_layers: int              # adapted layers whose adapter norm is above 1e-3 after training
    forgotten: list[str]
    steps: int
    seconds: float
    losses: list[dict[str, float]] = field(default_factory=list)  # per step: forget, retain, sparsity


def _adapter_groups(backbone: nn.Module) -> list[list[nn.Parameter]]:
    from peft.tuners.lora import LoraLayer

    return [[p for n, p in module.named_parameters() if "lora_" in n]
            for module in backbone.modules() if isinstance(module, LoraLayer)]


def _merge(backbone: nn.Module) -> nn.Module:
    """The backbone with every LoRA layer merged into its base layer and the wrapper removed."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(backbone.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = backbone.get_submodule(parent_name) if parent_name else backbone
            setattr(parent, child, module.get_base_layer())
    return backbone


def _load(checkpoint: Path) -> tuple[dict, TrainConfig]:
    if not checkpoint.is_file():
        raise CheckpointError(f"no checkpoint at {checkpoint}")
    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        config = TrainConfig(**state["config"])
        state["identities"], state["model"]  # noqa: B018 - present in every trainer checkpoint
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointError(f"{checkpoint} is not a facetrust training checkpoint: "
                              f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    return state, config


def forget_identities(checkpoint: Path, identities: Sequence[str], output: Path, data: Path | None = None,
                      options: ForgetOptions | None = None, progress: Progress = True) -> ForgetResult:
    """Make the model of ``checkpoint`` (from ``facetrust train recognizer``) forget ``identities``.

    ``data`` is the training folder (one folder per identity; default: the checkpoint's own, whose
    aligned-crop cache is reused). Writes ``<output>/checkpoint.pt`` (merged) and
    ``<output>/adapter.pt`` atomically; the input checkpoint is never modified.
    """
    from peft import LoraConfig, inject_adapter_in_model

    from facetrust.training.trainer import build_model, prepare_data

    options = options or ForgetOptions()
    state, config = _load(Path(checkpoint))
    wanted = list(dict.fromkeys(identities))
    if not wanted:
        raise TrainingConfigError("name at least one identity to forget")
    known = state["identities"]
    unseen = [name for name in wanted if name not in known]
    if unseen:
        raise TrainingConfigError(f"the model was not trained on {', '.join(unseen[:5])}"
                                  f"{' …' if len(unseen) > 5 else ''} ({len(known)} identities in {checkpoint})")
    if len(wanted) == len(known):
        raise TrainingConfigError("cannot forget every identity the model knows: nothing would be retained")
    if Path(output).resolve() == Path(checkpoint).resolve().parent:
        raise TrainingConfigError("write the forgetting result to another folder than the original checkpoint's")
    if data is not None:
        config = TrainConfig(**{**config.to_dict(), "data": str(data)})
    dataset = prepare_data(config, progress=progress)
    labels_of = {name: known.index(name) for name in wanted}
    # The dataset's labels index its own identity list (which may differ from the checkpoint's): use names.
    names = np.array(dataset.identities)[dataset.labels]
    forget_mask = np.isin(names, wanted)
    missing = [name for name in wanted if name not in set(names[forget_mask])]
    if missing:
        raise DatasetError(f"no training images of {', '.join(missing[:5])} under {config.data}")
    retain_index = np.flatnonzero(~forget_mask)

    torch.manual_seed(options.seed)
    model = build_model(TrainConfig(**{**config.to_dict(), "pretrained": ""}), len(known))
    model.load_state_dict(state["model"])
    model.eval()
    model.requires_grad_(False)
    targets = _adapted_modules(model.backbone)[-options.last_layers if options.last_layers else 0:]
    inject_adapter_in_model(LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=0.0,
                                       target_modules=targets), model.backbone)
    groups = _adapter_groups(model.backbone)
    parameters = [p for group in groups for p in group]
    for p in parameters:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(parameters, lr=options.lr, weight_decay=0.0)

    def crops(indices: np.ndarray) -> torch.Tensor:
        return (torch.from_numpy(dataset.load(indices)).permute(0, 3, 1, 2).float() - model.mean) / model.std

    # Every image under the original model, once: templates and distillation targets (the adapters
    # start at zero, so the adapted model is still the original here).
    chunks = np.array_split(np.arange(len(names)), max(1, len(names) // 64))
    prefix = _FrozenPrefix(model.backbone, targets[0]) if options.last_layers else None
    with torch.no_grad():
        if prefix is None:
            originals = F.normalize(torch.cat([model.backbone(crops(chunk)) for chunk in chunks]))
        else:
            fed, outputs = zip(*(prefix.run(crops(chunk)) for chunk in chunks))
            fed, originals = torch.cat(fed), F.normalize(torch.cat(outputs))
            prefix.engage()
            if not torch.allclose(F.normalize(model.backbone(fed[chunks[0]])), originals[chunks[0]], atol=1e-4):
                prefix.release()  # not a plain chain of its children: no shortcut
                prefix = None

    templates = {name: F.normalize(originals[names == name].mean(0), dim=0) for name in wanted}
    source, mirrored = np.arange(len(names)), np.zeros(len(names), dtype=bool)
    if options.mirror_forgotten:  # mirrored copies of the forgotten images, appended as more images of each person
        extra = np.flatnonzero(forget_mask)
        if prefix is not None:  # their early layers' output, computed once like the others'
            prefix.release()
            with torch.no_grad():
                fed = torch.cat([fed, *(prefix.run(crops(chunk).flip(-1))[0]
                                        for chunk in np.array_split(extra, max(1, len(extra) // 64)))])
            prefix.engage()
        source, mirrored = np.concatenate([source, extra]), np.concatenate([mirrored, np.ones(len(extra), dtype=bool)])
        names = np.concatenate([names, names[extra]])

    def embed(indices: np.ndarray) -> torch.Tensor:
        if prefix is not None:
            return F.normalize(model.backbone(fed[indices]))
        batch = crops(source[indices])
        flip = torch.from_numpy(mirrored[indices])
        return F.normalize(model.backbone(torch.where(flip[:, None, None, None], batch.flip(-1), batch)))

    by_identity = {name: np.flatnonzero(names == name) for name in wanted}

    rng = np.random.default_rng(options.seed)
    pair_margin = options.margin if options.pair_margin is None else options.pair_margin
    half = options.batch_size // 2
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, options.steps)
    losses: list[dict[str, float]] = []
    started = time.perf_counter()
    for _ in track(range(options.steps), options.steps, "forgetting", progress, unit="steps"):
        # A few forgotten identities per step with several images each, so that the pair hinge has pairs.
        chosen = rng.choice(wanted, size=min(options.identities_per_batch, len(wanted)), replace=False)
        share = max(2, half // len(chosen))
        f_batch = np.concatenate([rng.choice(by_identity[n], size=min(share, len(by_identity[n])), replace=False)
                                  for n in chosen])
        r_batch = rng.choice(retain_index, size=min(options.batch_size - half, len(retain_index)), replace=False)
        f_names = names[f_batch]
        e_forget = embed(f_batch)
        to_template = (e_forget * torch.stack([templates[n] for n in f_names])).sum(1)
        forget = F.relu(to_template - options.margin).mean()
        same = torch.from_numpy(f_names[:, None] == f_names[None, :]) & ~torch.eye(len(f_batch), dtype=torch.bool)
        if same.any():
            forget = forget + F.relu((e_forget @ e_forget.T)[same] - pair_margin).mean()
        retain = (1.0 - (embed(r_batch) * originals[r_batch]).sum(1)).mean()
        sparsity = sum(torch.sqrt(sum((p * p).sum() for p in group) + 1e-12) for group in groups)
        loss = forget + options.retain_weight * retain + options.group_sparsity * sparsity
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append({"forget": forget.item(), "retain": retain.item(), "sparsity": float(sparsity.detach())})
    seconds = time.perf_counter() - started

    if prefix is not None:
        prefix.release()
    norms = [float(torch.sqrt(sum((p.detach() ** 2).sum() for p in group))) for group in groups]
    adapter_state = {n: p.detach().clone() for n, p in model.backbone.named_parameters() if "lora_" in n}
    output = Path(output)
    adapter_path = output / ADAPTER
    save_checkpoint({"lora": adapter_state, "rank": options.rank, "alpha": options.alpha,
                     "target_modules": targets, "forgotten": wanted}, adapter_path)
    _merge(model.backbone)
    merged = model.state_dict()
    classifier = merged["classifier.weight"].clone()
    for name in wanted:  # a class centre is a template of that person: erase it
        classifier[labels_of[name]] = 0.0
    merged["classifier.weight"] = classifier
    forgotten = list(dict.fromkeys([*state.get("forgotten", []), *wanted]))
    merged_path = output / "checkpoint.pt"
    save_checkpoint({**{k: v for k, v in state.items() if k not in ("optimizer", "scheduler")},
                     "model": merged, "forgotten": forgotten,
                     "forget_options": options.__dict__}, merged_path)
    return ForgetResult(merged_path, adapter_path, sum(p.numel() for p in adapter_state.values()),
                        adapter_path.stat().st_size, len(groups), sum(n > 1e-3 for n in norms),
                        wanted, options.steps, seconds, losses)


def read_identity_list(value: str) -> list[str]:
    """Identity names from ``"a,b,c"`` or ``"@file"`` (one per line; blank lines and ``#`` comments skipped)."""
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainingConfigError(f"cannot read the identity list {path}: {exc}") from None
        names = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    else:
        names = [part.strip() for part in value.split(",") if part.strip()]
    if not names:
        raise TrainingConfigError("the identity list is empty")
    return names
