"""Real embeddings for the privacy tests: dlib-resnet on LFW images of a few people."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

#: Six people with at least three LFW images each (the first three are used).
PEOPLE = ["Colin_Powell", "George_W_Bush", "Gerhard_Schroeder", "Tony_Blair", "Donald_Rumsfeld", "Ariel_Sharon"]


@dataclass(frozen=True)
class FaceSet:
    paths: list[Path]
    identities: np.ndarray
    vectors: np.ndarray  # unit rows, dlib-resnet

    def mated_mask(self) -> np.ndarray:
        same = self.identities[:, None] == self.identities[None, :]
        return same & ~np.eye(len(self.identities), dtype=bool)

    def nonmated_mask(self) -> np.ndarray:
        return self.identities[:, None] != self.identities[None, :]


@pytest.fixture(scope="session")
def lfw_faces(shared: Path) -> FaceSet:
    # The protection schemes are calibrated for dlib-resnet (and mobilefacenet), not the default EdgeFace-XS.
    from facetrust import FaceAnalyzer

    analyzer = FaceAnalyzer(preset="dlib")
    paths = [shared / "data" / "lfw" / name / f"{name}_{i:04d}.jpg" for name in PEOPLE for i in (1, 2, 3)]
    embedded = analyzer.embed(paths, select="center")
    assert embedded.found.all(), "every chosen LFW image has a detectable face"
    vectors = embedded.vectors / np.linalg.norm(embedded.vectors, axis=1, keepdims=True)
    return FaceSet(paths, np.repeat(np.arange(len(PEOPLE)), 3), vectors)
