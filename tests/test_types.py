"""Result types print short summaries (shape, dtype, key numbers), never whole arrays."""
from __future__ import annotations

from facetrust.analyzer import FaceAnalyzer


def test_reprs_of_results_on_real_images_are_short(astronaut, grace_hopper_path):
    analyzer = FaceAnalyzer()
    faces = analyzer.analyze(astronaut)
    face_text = repr(faces[0])
    assert "embedding=float32[512]" in face_text and "landmarks=float32[5, 2]" in face_text
    assert len(face_text) < 160 and "\n" not in face_text

    verification = analyzer.verify(astronaut, grace_hopper_path)
    text = repr(verification)
    assert text.startswith("Verification(same=False, similarity=") and f"{verification.similarity:.4f}" in text
    assert len(text) < 160

    embeddings = analyzer.embed([astronaut, grace_hopper_path])
    assert repr(embeddings) == "Embeddings(2 images, 2 with a face, vectors=float32[2, 512])"

    detection = analyzer.detector.detect(astronaut)[0]
    assert repr(detection).startswith("Detection(box=(") and len(repr(detection)) < 120
