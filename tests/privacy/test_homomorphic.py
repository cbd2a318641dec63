"""Encrypted matching (TenSEAL CKKS) on real dlib-resnet embeddings: scores match plaintext, the server cannot decrypt."""
from __future__ import annotations

import numpy as np
import pytest

from facetrust.errors import ConfigError, EmbeddingError

tenseal = pytest.importorskip("tenseal", reason="TenSEAL is in the privacy and test extras")

from facetrust.privacy.homomorphic import HomomorphicClient, HomomorphicServer  # noqa: E402


@pytest.fixture(scope="module")
def client() -> HomomorphicClient:
    return HomomorphicClient(128)


def test_encrypted_scores_equal_plaintext_ones(client, lfw_faces):
    server = HomomorphicServer(client.public_context())
    vectors = lfw_faces.vectors
    plain = vectors @ vectors.T
    one = server.score(client.encrypt_template(vectors[0]), client.encrypt_template(vectors[1]))
    assert abs(client.decrypt_scores(one)[0] - plain[0, 1]) < 1e-4
    gallery = client.encrypt_gallery(vectors)
    for probe in (2, 5):
        answer = server.score_gallery(client.encrypt_probe_columns(vectors[probe], gallery.size), gallery)
        scores = client.decrypt_scores(answer, gallery.size)
        np.testing.assert_allclose(scores, plain[probe], atol=1e-4)
        assert int(np.argmax(scores)) == probe


def test_the_server_holds_no_secret_key(client, lfw_faces):
    public = client.public_context()
    server_context = tenseal.context_from(public)
    assert not server_context.is_private()
    encrypted = tenseal.ckks_vector_from(server_context, client.encrypt_template(lfw_faces.vectors[0]))
    with pytest.raises(ValueError):
        encrypted.decrypt()
    private = client._context.serialize(save_secret_key=True)
    with pytest.raises(ConfigError, match="public context only"):
        HomomorphicServer(private)


def test_bad_input(client, lfw_faces):
    with pytest.raises(EmbeddingError):
        client.encrypt_template(lfw_faces.vectors[0][:64])
    with pytest.raises(EmbeddingError):
        client.encrypt_template(np.zeros(128))
    server = HomomorphicServer(client.public_context())
    gallery = client.encrypt_gallery(lfw_faces.vectors[:4])
    with pytest.raises(EmbeddingError, match="components"):
        server.score_gallery(client.encrypt_probe_columns(lfw_faces.vectors[0], 4)[:10], gallery)
