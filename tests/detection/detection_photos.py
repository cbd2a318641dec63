"""Photos and helpers shared by the detector tests."""
from __future__ import annotations

from pathlib import Path

# Photos under shared/data/faces.
MULTIFACE = Path("timesler_facenet-pytorch/data/multiface.jpg")
OBAMA_BIDEN = Path("ageitgey_face_recognition/examples/knn_examples/test/obama_and_biden.jpg")
TWO_PEOPLE = Path("ageitgey_face_recognition/examples/two_people.jpg")

# Counted by eye: the six Friends; Biden, Obama and the girl at the bottom
# right (the woman cut off at the right edge shows no face); two portraits.
COUNTS = [(MULTIFACE, 6), (OBAMA_BIDEN, 3), (TWO_PEOPLE, 2)]



def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
