"""Template protection on real dlib-resnet embeddings of LFW faces."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, EmbeddingError, WrongKeyError
from facetrust.evaluation.metrics import auc
from facetrust.privacy import PROTECTIONS, ProtectionKey, create_protector, protector_from_spec
from facetrust.privacy.evaluation import eval_key

SCHEMES = ["slerp", "biohash"]


def _auc(scores: np.ndarray, faces) -> float:  # type: ignore[no-untyped-def]
    upper = np.triu_indices(len(faces.identities), 1)
    return auc(scores[upper], faces.mated_mask()[upper])


@pytest.mark.parametrize("scheme", SCHEMES)
def test_protected_templates_still_match_the_same_person(scheme, lfw_faces):
    assert _auc(lfw_faces.vectors @ lfw_faces.vectors.T, lfw_faces) == 1.0
    for index in range(3):  # fixed keys: the test sees the same transforms every run
        protector = create_protector(scheme, eval_key(index), 128, recognizer="dlib-resnet")
        protected = protector.protect(lfw_faces.vectors)
        assert protected.shape == (len(lfw_faces.paths), protector.out_dim)
        np.testing.assert_allclose(np.linalg.norm(protected, axis=1), 1.0, atol=1e-5)
        assert _auc(protector.similarity(protected, protected), lfw_faces) >= 0.99


@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_key_reproduces_and_other_keys_do_not_match(scheme, lfw_faces):
    key = ProtectionKey.generate()
    first = create_protector(scheme, key, 128, recognizer="dlib-resnet").protect(lfw_faces.vectors)
    again = create_protector(scheme, ProtectionKey(key.secret), 128, recognizer="dlib-resnet").protect(lfw_faces.vectors)
    np.testing.assert_array_equal(first, again)
    other = create_protector(scheme, ProtectionKey.generate(), 128, recognizer="dlib-resnet").protect(lfw_faces.vectors)
    same_key = first @ first.T
    cross_key = first @ other.T
    # The same image under two keys scores no higher than an impostor does under one key.
    impostor_max = same_key[lfw_faces.nonmated_mask()].max()
    assert np.diag(cross_key).max() < impostor_max
    assert abs(float(np.diag(cross_key).mean())) < 0.25


def test_slerp_without_rotation_links_across_keys(lfw_faces):
    """Why slerp rotates first: interpolation alone leaves the same face matching under another key."""
    def cross_key_auc(rotate: bool) -> float:
        a, b = (create_protector("slerp", eval_key(index), 128, recognizer="dlib-resnet", rotate=rotate, drop=0.0)
                .protect(lfw_faces.vectors) for index in (10, 11))
        cross = a @ b.T
        same_image, other_people = np.diag(cross), cross[lfw_faces.nonmated_mask()]
        return auc(np.r_[same_image, other_people], np.r_[np.ones(len(same_image), bool), np.zeros(len(other_people), bool)])

    assert cross_key_auc(rotate=False) > 0.95
    assert cross_key_auc(rotate=True) < 0.8


def test_biohash_scores_are_hamming_similarities(lfw_faces):
    from facetrust.privacy.biohash import BioHashProtector

    protector = BioHashProtector(ProtectionKey.generate(), 128, bits=64)
    protected = protector.protect(lfw_faces.vectors)
    bits = protected > 0
    equal = (bits[:, None, :] == bits[None, :, :]).mean(axis=2)
    np.testing.assert_allclose(protector.hamming_similarity(protected, protected), equal, atol=1e-6)


def test_spec_recreates_the_protector_and_refuses_another_key(lfw_faces):
    key = ProtectionKey.generate()
    protector = create_protector("slerp", key, 128, alpha=0.3, drop=0.125)
    spec = protector.spec()
    assert spec["key_fingerprint"] == key.fingerprint and spec["params"]["alpha"] == 0.3
    again = protector_from_spec(spec, key)
    np.testing.assert_array_equal(again.protect(lfw_faces.vectors), protector.protect(lfw_faces.vectors))
    with pytest.raises(WrongKeyError, match=key.fingerprint):
        protector_from_spec(spec, ProtectionKey.generate())


def test_bad_input_gets_typed_errors(lfw_faces):
    key = ProtectionKey.generate()
    with pytest.raises(ConfigError, match="unknown protection scheme 'rot13'"):
        create_protector("rot13", key, 128)
    assert set(PROTECTIONS.names()) == set(SCHEMES)
    protector = create_protector("slerp", key, 128)
    with pytest.raises(EmbeddingError, match="expected 128-d"):
        protector.protect(lfw_faces.vectors[:, :64])
    with pytest.raises(EmbeddingError, match="NaN"):
        protector.protect(np.full(128, np.nan))
    with pytest.raises(EmbeddingError, match="zero"):
        protector.protect(np.zeros(128))
    with pytest.raises(ConfigError, match="alpha"):
        create_protector("slerp", key, 128, alpha=2.0)
    with pytest.raises(ConfigError, match="groups"):
        create_protector("slerp", key, 128, groups=7)
    with pytest.raises(ConfigError, match="bits"):
        create_protector("biohash", key, 128, bits=512)
    with pytest.raises(ConfigError, match="no embedding centre"):
        create_protector("biohash", key, 128, recognizer="no-such-recognizer")
    with pytest.raises(ConfigError, match="bad options"):
        create_protector("biohash", key, 128, alpha=0.1)
