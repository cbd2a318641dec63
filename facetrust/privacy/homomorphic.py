"""Matching on encrypted templates with homomorphic encryption (CKKS, TenSEAL).

The client holds the secret key; the server holds only the public context (no secret key)
and encrypted templates, computes encrypted similarities and returns them; only the client
can decrypt a score. Two layouts:

* 1:1: one ciphertext per template; the server's score is an encrypted dot product
  (multiplication, then rotations to sum the slots).
* 1:N: the gallery is packed column-wise (ciphertext j holds component j of up to
  ``slots`` templates) and the probe is sent as ``dim`` ciphertexts, each its component j
  repeated; the scores of ``slots`` templates are then ``dim`` ciphertext multiplications
  and additions, without rotations.

CKKS is approximate: scores differ from plaintext ones by ~1e-6 (measured in docs/privacy.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from facetrust.errors import ConfigError, EmbeddingError

POLY_MODULUS_DEGREE = 8192
COEFF_MOD_BIT_SIZES = (60, 40, 40, 60)  # one multiplication level
SCALE_BITS = 40


def _tenseal():  # type: ignore[no-untyped-def]
    try:
        import tenseal
    except ImportError as exc:
        raise ConfigError(f"homomorphic matching needs TenSEAL: pip install 'facetrust[privacy]' ({exc})") from None
    return tenseal


def _unit_rows(vectors: np.ndarray, dim: int | None = None) -> np.ndarray:
    array = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    if array.ndim != 2 or (dim is not None and array.shape[1] != dim) or not np.isfinite(array).all():
        raise EmbeddingError(f"expected finite embeddings of dimension {dim}, got shape {np.shape(vectors)}")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if (norms == 0).any():
        raise EmbeddingError("cannot encrypt a zero embedding")
    return array / norms


@dataclass(frozen=True)
class EncryptedGallery:
    """A column-packed encrypted gallery: ``blocks[b][j]`` holds component j of templates b*slots … (b+1)*slots-1."""

    blocks: list[list[bytes]]
    size: int
    dim: int


class HomomorphicClient:
    """Holds the secret key: encrypts templates and probes, decrypts scores."""

    def __init__(self, dim: int) -> None:
        ts = _tenseal()
        self.dim = int(dim)
        self._context = ts.context(ts.SCHEME_TYPE.CKKS, POLY_MODULUS_DEGREE, -1, list(COEFF_MOD_BIT_SIZES))
        self._context.global_scale = 2**SCALE_BITS
        self._context.generate_galois_keys()
        self.slots = POLY_MODULUS_DEGREE // 2

    def public_context(self) -> bytes:
        """What the server gets: encryption, evaluation and Galois keys, not the secret key."""
        return self._context.serialize(save_public_key=True, save_secret_key=False, save_galois_keys=True,
                                       save_relin_keys=True)

    def encrypt_template(self, vector: np.ndarray) -> bytes:
        ts = _tenseal()
        return ts.ckks_vector(self._context, _unit_rows(vector, self.dim)[0].tolist()).serialize()

    def encrypt_gallery(self, vectors: np.ndarray) -> EncryptedGallery:
        ts = _tenseal()
        rows = _unit_rows(vectors, self.dim)
        width = min(len(rows), self.slots)  # every block as wide as the probe (the last one zero-padded)
        blocks = []
        for start in range(0, len(rows), self.slots):
            block = np.zeros((width, self.dim))
            part = rows[start:start + self.slots]
            block[:len(part)] = part
            blocks.append([ts.ckks_vector(self._context, block[:, j].tolist()).serialize() for j in range(self.dim)])
        return EncryptedGallery(blocks, len(rows), self.dim)

    def encrypt_probe_columns(self, vector: np.ndarray, size: int) -> list[bytes]:
        """The probe for 1:N against a gallery of ``size`` templates: ciphertext j holds component j, repeated."""
        ts = _tenseal()
        probe = _unit_rows(vector, self.dim)[0]
        width = min(size, self.slots)
        return [ts.ckks_vector(self._context, [float(value)] * width).serialize() for value in probe]

    def decrypt_scores(self, encrypted: bytes | Sequence[bytes], count: int | None = None) -> np.ndarray:
        """Plain scores of one ciphertext (1:1) or of a 1:N answer, the first ``count`` of them."""
        ts = _tenseal()
        parts = [encrypted] if isinstance(encrypted, bytes) else list(encrypted)
        values = np.concatenate([ts.ckks_vector_from(self._context, part).decrypt() for part in parts])
        return values if count is None else values[:count]


class HomomorphicServer:
    """Holds only the public context and encrypted templates; never sees a score in the clear."""

    def __init__(self, public_context: bytes) -> None:
        ts = _tenseal()
        self._context = ts.context_from(public_context)
        if self._context.is_private():
            raise ConfigError("the server must get the public context only, not the secret key")

    def _vector(self, data: bytes):  # type: ignore[no-untyped-def]
        return _tenseal().ckks_vector_from(self._context, data)

    def score(self, probe: bytes, template: bytes) -> bytes:
        """Encrypted similarity of two encrypted templates (1:1)."""
        return self._vector(probe).dot(self._vector(template)).serialize()

    def score_gallery(self, probe_columns: Sequence[bytes], gallery: EncryptedGallery) -> list[bytes]:
        """Encrypted similarities of the probe to every gallery template, one ciphertext per block (1:N)."""
        if len(probe_columns) != gallery.dim:
            raise EmbeddingError(f"the probe has {len(probe_columns)} components, the gallery {gallery.dim}")
        probe = [self._vector(column) for column in probe_columns]
        answers = []
        for block in gallery.blocks:
            total = probe[0] * self._vector(block[0])
            for j in range(1, gallery.dim):
                total += probe[j] * self._vector(block[j])
            answers.append(total.serialize())
        return answers
