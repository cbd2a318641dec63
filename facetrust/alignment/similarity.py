"""5-point similarity alignment to the standard ArcFace 112x112 template."""
from __future__ import annotations

import cv2
import numpy as np

#: InsightFace's reference landmarks for a 112x112 crop, in LANDMARK_ORDER.
ARCFACE_TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float64,
)


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping ``src`` to ``dst``; 2x3 matrix."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1.0  # forbid reflections
    rotation = u @ sign @ vt
    variance = (src_c**2).sum() / len(src)
    scale = np.trace(np.diag(s) @ sign) / variance if variance > 0 else 1.0
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align_arcface(image: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """Warp ``image`` so the 5 ``landmarks`` land on the ArcFace template (scaled to ``size``)."""
    template = ARCFACE_TEMPLATE_112 * (size / 112.0)
    matrix = estimate_similarity(np.asarray(landmarks).reshape(5, 2), template)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
