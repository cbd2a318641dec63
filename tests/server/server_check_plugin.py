"""A per-face check loaded by the test server as a plugin (``checks =
["server_check_plugin:InterocularDistance"]``): a real measurement, the distance between
the eye landmarks in pixels, so that answers can be checked against the landmarks."""
from __future__ import annotations

import numpy as np


class InterocularDistance:
    name = "interocular_px"

    def __call__(self, image: np.ndarray, faces: list) -> None:
        for face in faces:
            face.extras[self.name] = round(float(np.linalg.norm(face.landmarks[0] - face.landmarks[1])), 2)
