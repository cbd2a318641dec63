"""Dodging the face detector itself: PGD (L-inf, adversarial-robustness-toolbox) on the whole photo against
the detector's face score, so that the deployed detector no longer finds the face.

The detector's ONNX graph (the weights the detector runs) is converted to PyTorch with onnx2torch; the
torch model reproduces its pre-processing (BGR, the detector's mean, zero padding to a multiple of 32) and
its per-candidate face score (YuNet: sqrt(cls * obj); RetinaFace: the softmax face probability). The
attacked model is wrapped as a 2-class classifier with logits ``[log max score, log threshold]``
(class 0 = a face is found) and attacked untargeted away from class 0. Success is measured on the attacked
photo rounded to 8 bits with the deployed (onnxruntime) detector: the face is dodged when no detection
overlaps the clean face box with IoU >= 0.5; again after purification, and with the other detector
(transfer, over the photos it finds the face in when clean).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from facetrust.audit.adversarial import PURIFICATIONS, CleanFace, art_attack, detect_faces, wilson
from facetrust.errors import ConfigError
from facetrust.tracking import iou

#: Detectors whose ONNX graph converts to PyTorch exactly (checked against onnxruntime by a test).
CONVERTIBLE = ("yunet", "retinaface")
#: IoU with the clean face box above which a detection on the attacked photo still counts as the face.
SAME_FACE_IOU = 0.5


def _require_convertible(detector: Any) -> None:
    if getattr(detector, "name", None) not in CONVERTIBLE:
        raise ConfigError(f"detector {getattr(detector, 'name', detector)!r} cannot be attacked here: "
                          f"detection attacks need one of {', '.join(CONVERTIBLE)}")


def deciding_detector(detector: Any) -> Any:
    """The detector whose scores decide that a face is there: one that reports another detector's boxes
    and scores (``boxes_and_scores_of``: ``yunet-retinaface``, whose RetinaFace only places landmarks) is
    attacked through that one, its ``finder``."""
    return detector.finder if getattr(detector, "boxes_and_scores_of", None) else detector


def torch_face_score(detector: Any) -> Any:
    """A PyTorch module x (N, 3, H, W) RGB in [0, 1] -> (N,) the log of the largest per-candidate face score,
    before NMS, as ``detector`` (YuNet or RetinaFace, at the photo's own resolution) computes it."""
    _require_convertible(detector)
    import onnx
    import torch
    from onnx2torch import convert

    from facetrust.zoo import model_file

    path = str(model_file(detector.model))
    outputs = [o.name for o in onnx.load(path).graph.output]
    net = convert(path).eval()
    retina = detector.name == "retinaface"
    mean = torch.tensor([104.0, 117.0, 123.0] if retina else [0.0, 0.0, 0.0]).view(1, 3, 1, 1)

    class FaceScore(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            bgr = torch.flip(x * 255.0, dims=[1]) - mean
            height, width = x.shape[2:]
            # As the deployed detectors: zero-padded bottom / right to a multiple of the coarsest stride.
            blob = torch.nn.functional.pad(bgr, (0, -width % 32, 0, -height % 32))
            best = []
            for one in blob:  # one image per call: the exported graphs fix or assume batch 1
                named = dict(zip(outputs, self.net(one[None])))
                # log(score) of the best candidate, with no clamp near 1 (a face scores 0.9999…; a clamp there
                # would zero the gradient); the floor only keeps log(0) out of hopeless candidates.
                if retina:
                    best.append(torch.log(named[outputs[1]][0, :, 1].clamp_min(1e-30)).max())
                else:
                    best.append(0.5 * torch.cat([torch.log(named[f"cls_{s}"].reshape(-1).clamp(1e-30, 1))
                                                 + torch.log(named[f"obj_{s}"].reshape(-1).clamp(1e-30, 1))
                                                 for s in (8, 16, 32)]).max())
            return torch.stack(best)

    return FaceScore()


def finds_face(detector: Any, photo: np.ndarray, box: Sequence[float]) -> bool:
    """Whether ``detector`` finds a face overlapping ``box`` (IoU >= SAME_FACE_IOU) in ``photo``."""
    return any(iou(d.box, box) >= SAME_FACE_IOU for d in detector.detect(photo))


class DetectorAttacker:
    """PGD against ``detector``'s face score on whole photos of one size."""

    def __init__(self, detector: Any) -> None:
        import torch

        self.score = torch_face_score(detector)
        limit = float(np.log(detector.score_threshold))

        class Found(torch.nn.Module):
            """Photo -> logits [log max face score, log threshold] (class 0 = a face is found)."""

            def __init__(self, score: Any) -> None:
                super().__init__()
                self.score = score

            def forward(self, x: Any) -> Any:
                best = self.score(x)[:, None]
                return torch.cat([best, torch.full_like(best, limit)], dim=1)

        self.model = Found(self.score)

    def attack(self, photos: Sequence[np.ndarray], eps_255: float, steps: int) -> list[np.ndarray]:
        import torch
        from art.estimators.classification import PyTorchClassifier

        x = np.stack(photos).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        classifier = PyTorchClassifier(self.model, loss=torch.nn.CrossEntropyLoss(), input_shape=x.shape[1:],
                                       nb_classes=2, clip_values=(0.0, 1.0))
        attack = art_attack("pgd", classifier, min(eps_255, 255) / 255.0, targeted=False, batch=len(photos), steps=steps)
        generated = attack.generate(x, np.zeros(len(photos), dtype=int))
        return list(np.clip(np.round(generated.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8))


def audit_detection_attack(paths: Sequence[Path], analyzer: Any, eps_255: Sequence[float] = (1, 2, 4, 8),
                           steps: int = 10, transfer: Sequence[str] = CONVERTIBLE, batch_size: int = 16,
                           faces: dict[Path, CleanFace] | None = None, cache: Any = None,
                           progress: bool = True) -> dict[str, Any]:
    """Per eps: how often PGD on the whole photo makes ``analyzer``'s detector lose the face (white-box), after
    purification, and for the ``transfer`` detectors (black-box, over the photos each finds when clean).
    Only photos the detector finds a face in are attacked; photos are grouped by size. ``faces``: the clean
    detections when already made; ``cache``: an adversarial ``_Cache`` keeping the attacked photos."""
    from facetrust.detection import DETECTORS as REGISTRY
    from facetrust.progress import track

    detector = deciding_detector(analyzer.detector)
    attacker = DetectorAttacker(detector)
    faces = faces if faces is not None else detect_faces(list(paths), analyzer, progress)
    # The analyzer's fallback box is not a detection: attack only faces the detector found.
    targets = [p for p in dict.fromkeys(paths) if p in faces and finds_face(detector, faces[p].image,
                                                                           faces[p].detection.box)]
    others = {name: REGISTRY.create(name) for name in transfer if name != detector.name}
    clean_found = {name: {p: finds_face(d, faces[p].image, faces[p].detection.box) for p in targets}
                   for name, d in others.items()}
    groups: dict[tuple[int, ...], list[Path]] = {}
    for path in targets:
        groups.setdefault(faces[path].image.shape, []).append(path)
    batches = [group[i:i + batch_size] for group in groups.values() for i in range(0, len(group), batch_size)]
    outcomes: dict[float, dict[str, list[bool]]] = {eps: {} for eps in eps_255}
    # Photos attacked now / read from the cache, and the wall and CPU seconds spent attacking.
    timing = {"photos_attacked": 0, "photos_from_cache": 0, "attack_wall_s": 0.0, "attack_cpu_s": 0.0}

    def attack_all() -> Any:
        for eps in eps_255:
            for batch in batches:
                key = cache.key(detector.name, detector.model, eps, steps, [str(p) for p in batch]) if cache else None
                adversarial = cache.photos(key) if cache else None
                if adversarial is None:
                    wall, cpu = time.perf_counter(), time.process_time()
                    adversarial = attacker.attack([faces[p].image for p in batch], eps, steps)
                    timing["attack_wall_s"] += time.perf_counter() - wall
                    timing["attack_cpu_s"] += time.process_time() - cpu
                    timing["photos_attacked"] += len(batch)
                    if cache:
                        cache.save_photos(key, adversarial)
                else:
                    timing["photos_from_cache"] += len(batch)
                entry = outcomes[eps]
                for path, photo in zip(batch, adversarial):
                    box = faces[path].detection.box
                    entry.setdefault("dodged_none", []).append(not finds_face(detector, photo, box))
                    for name, purify in PURIFICATIONS.items():
                        entry.setdefault(f"dodged_{name}", []).append(not finds_face(detector, purify(photo), box))
                    for name, other in others.items():
                        if clean_found[name][path]:
                            entry.setdefault(f"transfer {name}", []).append(not finds_face(other, photo, box))
                yield None

    for _ in track(attack_all(), len(batches) * len(eps_255), "attacking the detector (eps x batches)", progress,
                   unit="batches"):
        pass
    return {"detector": detector.name, "score_threshold": float(detector.score_threshold), "pgd_steps": steps,
            "photos": len(set(paths)), "attacked": len(targets),
            "transfer": {name: {"found_clean": sum(found.values())} for name, found in clean_found.items()},
            "timing": {k: round(v, 1) if isinstance(v, float) else v for k, v in timing.items()},
            "attacks": {f"detector eps={eps:g}": {key: wilson(sum(v), len(v)) for key, v in sorted(entry.items())}
                        for eps, entry in outcomes.items()}}
