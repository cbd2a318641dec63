"""Backbones: ``network`` names in training configs. Each entry builds an ``nn.Module`` mapping
(N, 3, 112, 112) float images, normalised by its ``MEAN``/``STD`` (0-255 scale), to embeddings.
One file + one register line per backbone; ``timm:<name>`` builds any timm model (if installed)."""
from __future__ import annotations

from torch import nn

from facetrust.registry import Registry
from facetrust.training.errors import TrainingConfigError

BACKBONES: Registry = Registry("backbone")
BACKBONES.register("mobilefacenet", "facetrust.training.backbones.mobilefacenet:MobileFaceNet",
                   "foamliu MobileFaceNet, 128-d, ImageNet normalisation; pretrained='zoo' loads its weights")
BACKBONES.register("iresnet18", "facetrust.training.backbones.iresnet:iresnet18", "insightface-style IR-18")
BACKBONES.register("iresnet50", "facetrust.training.backbones.iresnet:iresnet50", "insightface-style IR-50")


def create_backbone(network: str, embedding_size: int) -> nn.Module:
    """The backbone named ``network`` (or ``timm:<model>``) producing ``embedding_size``-d embeddings."""
    if network.startswith("timm:"):
        from facetrust.training.backbones.timm_model import TimmBackbone

        return TimmBackbone(network.removeprefix("timm:"), embedding_size)
    model = BACKBONES.get_class(network)(embedding_size=embedding_size)
    return model


def check_embedding_size(network: str, embedding_size: int, fixed: int) -> None:
    if embedding_size != fixed:
        raise TrainingConfigError(f"{network} produces {fixed}-d embeddings; set embedding_size = {fixed}")
