"""Helpers shared by the privacy tests."""
from __future__ import annotations

from typing import Any


def enrol_first_two(gallery: Any, faces: Any) -> None:
    """Enrol each person of ``faces`` (3 images each) with their first two embeddings, as person0, person1, …"""
    for person in range(len(faces.vectors) // 3):
        gallery.enroll(f"person{person}", embeddings=faces.vectors[3 * person: 3 * person + 2])
