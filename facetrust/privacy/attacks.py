"""Irreversibility: can an attacker who knows the scheme turn protected templates back into embeddings?

The attacker holds many (embedding, protected template) pairs made under a key of their
own and fits an inversion (ridge regression, and a small MLP, both scikit-learn). The
attack succeeds on a victim template when the recovered embedding matches the victim's
original embedding at the unprotected system's threshold for FMR = 1e-3. Attacking
templates protected under the attacker's own key is reported too: it shows the inversion
itself works, so a low success rate under the victim's key is the key's doing.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def threshold_at_fmr(vectors: np.ndarray, identities: np.ndarray, fmr: float) -> float:
    """Cosine threshold at which a fraction ``fmr`` of different-person image pairs match."""
    scores = vectors @ vectors.T
    nonmated = scores[identities[:, None] != identities[None, :]]
    return float(np.quantile(nonmated, 1.0 - fmr))


def _success(recovered: np.ndarray, original: np.ndarray, threshold: float) -> float:
    recovered = recovered / np.maximum(np.linalg.norm(recovered, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.einsum("ij,ij->i", recovered, original) >= threshold))


def inversion_attack(train_plain: np.ndarray, train_protected: np.ndarray, test_plain: np.ndarray,
                     victim: np.ndarray, same_key: np.ndarray, threshold: float) -> dict[str, Any]:
    """Success rates of ridge and MLP inversions fitted on (``train_protected`` -> ``train_plain``)."""
    from sklearn.linear_model import Ridge
    from sklearn.neural_network import MLPRegressor

    attackers = {
        "ridge": Ridge(alpha=1.0),
        # Early stopping holds out 10% of the pairs, which needs enough of them.
        "mlp": MLPRegressor(hidden_layer_sizes=(256,), max_iter=300, early_stopping=len(train_plain) >= 200,
                            random_state=0),
    }
    out: dict[str, Any] = {"train_pairs": int(len(train_plain)), "test_templates": int(len(test_plain))}
    for name, model in attackers.items():
        model.fit(train_protected, train_plain)
        out[name] = {"success_other_key": _success(model.predict(victim), test_plain, threshold),
                     "success_same_key": _success(model.predict(same_key), test_plain, threshold)}
    return out
