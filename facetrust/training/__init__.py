"""Training recognition models (``[train]`` extra: torch): typed configs, margin heads with the
CIFP add-on, Partial FC, a trainer with exact resume and DDP. See docs/training.md."""
