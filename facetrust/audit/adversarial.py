"""White-box adversarial attacks on a differentiable recognizer, with the
adversarial-robustness-toolbox (ART): FGSM, PGD (L-inf) and a PGD restricted to the eye region
(the adversarial-makeup / eyeglasses threat), made on the probe *photo*.

The attacked model is photo -> the recognizer's own alignment warp (bilinear, as cv2.warpAffine)
-> recognizer -> verification decision, wrapped as a 2-class classifier whose logits are
``scale * [cosine(f(x), enrolled), threshold]``: class 0 = "same person". Dodging attacks a genuine
pair's probe untargeted away from class 0; impersonation attacks an impostor pair's probe targeted to
class 0. ART's ``mask`` keeps every pixel outside the face region (the pixels the alignment reads) or,
for ``eyes``, outside a band over both eyes unchanged, so the result is a real adversarial photo.

Success is measured on that photo rounded to 8 bits: with the deployed (ONNX) recognizer re-aligning it
from the clean detection, after purification (JPEG 75, a 1-px blur) of the whole photo, and (black-box
transfer) with other recognizers, each with its own alignment and its own shipped threshold at the audit
FMR. The quality, liveness and forgery checks are run on the clean and on the attacked photos: how many
they flag says whether they notice the attack, and how far each check's score moves per photo. Rates carry
Wilson 95% intervals.

With a ``cache`` folder every attacked batch (the uint8 photos) and its measurements are kept on disk, one
file per attack, eps and batch: an interrupted run resumes where it stopped, and a rerun with the same pairs
only re-reads them. Attacks run in the order given (all batches of the first attack first).

Only MobileFaceNet is differentiable here: its ONNX graph is converted to PyTorch with onnx2torch
(the same weights the recognizer runs). Other recognizers (dlib-resnet) are a ConfigError.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import Pair
from facetrust.io.atomic import atomic_file
from facetrust.perturb import blur, jpeg, sunglasses

DIFFERENTIABLE = ("mobilefacenet",)
#: fgsm, pgd and eyes attack the recognizer; detector attacks the face detector (adversarial_detection.py).
ATTACKS = ("fgsm", "pgd", "eyes", "detector")
#: Black-box recognizers the photos are re-scored with by default (SFace is not in the model zoo;
#: reid-0095 needs openvino).
TRANSFER = ("edgeface-xs", "edgeface-xxs", "w600k-mbf", "dlib-resnet", "reid-0095")
#: Checks run on the clean and attacked photos, and the statuses that count as "flagged".
CHECKS = {"quality": ("low",), "liveness": ("spoof",), "forgery": ("fake",)}
#: Height of the eye band in eye distances (2 eye distances wide): the perturbation module's
#: ``sunglasses`` occlusion at its middle severity, about where eyeglasses frames sit.
EYE_BAND = 0.6
#: Purifications applied to the adversarial photo before it is re-measured.
PURIFICATIONS = {"jpeg75": lambda photo: jpeg(photo, 75), "blur1": lambda photo: blur(photo, 1.0)}
_SCALE = 10.0
#: PGD iterations (each of eps/4; more steps than 4 let it move back and forth inside the budget).
PGD_STEPS = 10


@dataclass
class CleanFace:
    image: np.ndarray
    detection: Any  # Detection (fallback box where nothing was detected)


def detect_faces(paths: Sequence[Path], analyzer: Any, progress: bool = True) -> dict[Path, CleanFace]:
    """Load each image and pick its centre face (or the analyzer's fallback box); the attacks
    need the decoded photo itself, so this is not the robustness audit's detection cache."""
    from facetrust.analyzer import select_face
    from facetrust.parallel import progress_map

    def one(path: Path) -> tuple[Path, CleanFace | None]:
        image = analyzer.load(path)
        found = analyzer.detect_rgb(image)
        return path, CleanFace(image, found[select_face(found, "center", image.shape)]) if found else None

    faces = dict(progress_map((one(p) for p in paths), len(paths), "detecting (clean)", enabled=progress))
    return {p: f for p, f in faces.items() if f is not None}


def wilson(successes: int, trials: int) -> dict[str, Any]:
    """Rate with its Wilson score 95% interval (None for no trials)."""
    if trials == 0:
        return {"rate": None, "successes": 0, "trials": 0, "ci95": None}
    z, p = 1.959964, successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return {"rate": p, "successes": successes, "trials": trials,
            "ci95": [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]}


def _require_differentiable(recognizer: Any) -> None:
    if getattr(recognizer, "name", None) not in DIFFERENTIABLE:
        raise ConfigError(f"recognizer {getattr(recognizer, 'name', recognizer)!r} is not differentiable here: "
                          f"white-box attacks need one of {', '.join(DIFFERENTIABLE)}")


def check_attacks(attacks: Sequence[str]) -> None:
    unknown = [name for name in attacks if name not in ATTACKS]
    if unknown:
        raise ConfigError(f"unknown attack {', '.join(map(repr, unknown))}; known: {', '.join(ATTACKS)}")


def check_budgets(eps_255: Sequence[float], eye_eps_255: Sequence[float], steps: int) -> None:
    """L-inf budgets are in (0, 255] (1/255 units; 255 = unbounded), steps at least 1: else a ConfigError."""
    bad = [eps for eps in (*eps_255, *eye_eps_255) if not 0 < eps <= 255]
    if bad:
        got = ", ".join(f"{b:g}" for b in bad)
        raise ConfigError(f"attack budgets are in 1/255 and must lie in (0, 255]; got {got}")
    if steps < 1:
        raise ConfigError(f"attack steps must be at least 1, got {steps}")


def torch_recognizer(recognizer: Any) -> Any:
    """A PyTorch module x (N, 3, 112, 112) in [0, 1] -> L2-normalised embedding, equal to ``recognizer``."""
    _require_differentiable(recognizer)
    import torch
    from onnx2torch import convert

    from facetrust.zoo import model_file

    net = convert(str(model_file(recognizer.zoo_models[0]))).eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    flip = bool(recognizer.flip)

    class Embedder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            z = (x - mean) / std
            # The exported graph ends in Reshape([1, -1]): its convolutions take a batch, the reshape
            # flattens it row-major, so reshaping back to (N, -1) recovers one row per crop.
            features = self.net(z).reshape(len(z), -1)
            if flip:
                features = features + self.net(torch.flip(z, dims=[3])).reshape(len(z), -1)
            return torch.nn.functional.normalize(features, dim=1)

    return Embedder()


def alignment_matrix(landmarks: np.ndarray) -> np.ndarray:
    """The 2x3 photo -> 112x112 crop similarity warp of the ArcFace alignment (what MobileFaceNet uses)."""
    from facetrust.alignment.similarity import ARCFACE_TEMPLATE_112, estimate_similarity

    return estimate_similarity(np.asarray(landmarks).reshape(5, 2), ARCFACE_TEMPLATE_112)


def sampling_grid(matrix: np.ndarray, shape: tuple[int, ...], size: int = 112) -> np.ndarray:
    """(size, size, 2) grid for torch's grid_sample (align_corners=False) reproducing
    cv2.warpAffine(photo, matrix, (size, size)) (pixel centres at integer coordinates)."""
    import cv2

    inverse = cv2.invertAffineTransform(matrix)
    u, v = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    source = np.stack([u, v, np.ones_like(u)], axis=-1) @ inverse.T
    height, width = shape[:2]
    return np.stack([(2 * source[..., 0] + 1) / width - 1, (2 * source[..., 1] + 1) / height - 1],
                    axis=-1).astype(np.float32)


def face_mask(matrix: np.ndarray, shape: tuple[int, ...], size: int = 112) -> np.ndarray:
    """Boolean (H, W): the photo pixels the alignment reads (the only ones an attack may change)."""
    import cv2

    ones = np.ones((size, size), dtype=np.float32)
    return cv2.warpAffine(ones, matrix, (shape[1], shape[0]), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) > 0


def eye_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean (H, W): the band over both eyes (the perturbation module's sunglasses geometry)."""
    band = sunglasses(np.ones(tuple(shape[:2]) + (1,), dtype=np.uint8), landmarks, EYE_BAND)
    return band[..., 0] == 0


def _decision(embedder: Any, threshold: float) -> Any:
    import torch

    class Decision(torch.nn.Module):
        """Photo -> alignment warp -> logits scale * [cosine to the enrolled embedding, threshold]
        (class 0 = accepted as the same person). ``grid`` and ``enrolled`` hold one row per photo of
        the batch being attacked (ART is given the whole batch at once)."""

        def __init__(self) -> None:
            super().__init__()
            self.embedder = embedder
            self.grid = torch.zeros(1, 112, 112, 2)
            self.enrolled = torch.zeros(1, 1)

        def forward(self, x: Any) -> Any:
            crops = torch.nn.functional.grid_sample(x, self.grid, mode="bilinear", padding_mode="zeros",
                                                    align_corners=False)
            similarity = (self.embedder(crops) * self.enrolled).sum(dim=1, keepdim=True)
            return _SCALE * torch.cat([similarity, torch.full_like(similarity, threshold)], dim=1)

    return Decision()


def art_attack(name: str, classifier: Any, eps: float, targeted: bool, batch: int, steps: int) -> Any:
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    if name == "fgsm":
        return FastGradientMethod(classifier, norm=np.inf, eps=eps, targeted=targeted, batch_size=batch)
    return ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=eps / 4, max_iter=steps,
                                    targeted=targeted, batch_size=batch, verbose=False)


class PhotoAttacker:
    """Attacks probe photos of one size against enrolled embeddings through ``recognizer``'s alignment."""

    def __init__(self, recognizer: Any, threshold: float) -> None:
        _require_differentiable(recognizer)
        self.decision = _decision(torch_recognizer(recognizer), threshold)

    def attack(self, photos: Sequence[np.ndarray], detections: Sequence[Any], enrolled: np.ndarray, name: str,
               eps_255: float, same: bool, steps: int = PGD_STEPS) -> list[np.ndarray]:
        """Adversarial uint8 photos: dodging when ``same`` (genuine pairs), else impersonation of ``enrolled``
        (N, dim). Pixels outside the face region (``eyes``: outside the eye band) are the originals."""
        import torch
        from art.estimators.classification import PyTorchClassifier

        check_attacks([name])
        matrices = [alignment_matrix(d.landmarks) for d in detections]
        region = np.stack([face_mask(m, photo.shape) for m, photo in zip(matrices, photos)])
        if name == "eyes":
            region &= np.stack([eye_mask(d.landmarks, photo.shape) for d, photo in zip(detections, photos)])
        grids = [sampling_grid(m, photo.shape) for m, photo in zip(matrices, photos)]
        self.decision.grid = torch.tensor(np.stack(grids))
        self.decision.enrolled = torch.tensor(np.asarray(enrolled, dtype=np.float32))
        x = np.stack(photos).astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        classifier = PyTorchClassifier(self.decision, loss=torch.nn.CrossEntropyLoss(), input_shape=x.shape[1:],
                                       nb_classes=2, clip_values=(0.0, 1.0))
        mask = np.repeat(region[:, None], 3, axis=1).astype(np.float32)
        attack = art_attack("pgd" if name == "eyes" else name, classifier, min(eps_255, 255) / 255.0,
                         targeted=not same, batch=len(photos), steps=steps)
        generated = attack.generate(x, np.zeros(len(photos), dtype=int), mask=mask)
        rounded = np.clip(np.round(generated.transpose(0, 2, 3, 1) * 255), 0, 255).astype(np.uint8)
        # Outside the mask the photo is the original, byte for byte.
        return [np.where(r[..., None], a, photo) for r, a, photo in zip(region, rounded, photos)]


class _Scorer:
    """A recognizer with its own alignment and shipped threshold, and the enrolled embeddings."""

    def __init__(self, analyzer: Any, fmr: float, enrolled: dict[Any, tuple[np.ndarray, Any]]) -> None:
        self.recognizer = analyzer.recognizer
        self.threshold = analyzer.threshold(fmr)
        paths = list(enrolled)
        crops = [self.recognizer.align(*enrolled[p]) for p in paths]
        self.enrolled = dict(zip(paths, self.recognizer.embed_aligned(crops)))

    def accepted(self, photos: Sequence[np.ndarray], detections: Sequence[Any], enrolled: Sequence[Any]) -> np.ndarray:
        vectors = self.recognizer.embed_aligned([self.recognizer.align(p, d) for p, d in zip(photos, detections)])
        return np.einsum("ij,ij->i", vectors, np.stack([self.enrolled[p] for p in enrolled])) >= self.threshold


def _flags(checker: Any, photo: np.ndarray, detection: Any) -> dict[str, tuple[bool | None, float | None]]:
    """Per check: (flagged, score), each None when the check had no answer (e.g. liveness on grey photos)."""
    from facetrust.types import Face

    face = Face(box=detection.box, score=detection.score, landmarks=detection.landmarks)
    checker.run_checks(photo, [face])
    out: dict[str, tuple[bool | None, float | None]] = {}
    for name, flagged in CHECKS.items():
        result = face.extras.get(name, {})
        status = result.get("status")
        if name == "quality" and "acceptable" in result:
            status = "acceptable" if result["acceptable"] else "low"
        unavailable = status in (None, "unavailable")
        out[name] = (None if unavailable else status in flagged,
                     None if unavailable or result.get("score") is None else float(result["score"]))
    return out


def _batches(pairs: Sequence[Pair], shapes: dict[Any, tuple[int, ...]], size: int) -> Iterator[list[Pair]]:
    """Pairs of one goal and one probe photo size, ``size`` at a time (ART attacks a batch at once)."""
    groups: dict[tuple[bool, tuple[int, ...]], list[Pair]] = {}
    for pair in pairs:
        groups.setdefault((pair.same, shapes[pair.path_b]), []).append(pair)
    for group in groups.values():
        for start in range(0, len(group), size):
            yield group[start:start + size]


class _Cache:
    """One folder of attacked batches (``.npz``, the uint8 photos) and their measurements (``.json``), keyed by
    everything they depend on; None folder = no caching. Writes are atomic (temporary file, then rename)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(*parts: Any) -> str:
        return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:16]

    def _write(self, path: Path, write: Any) -> None:
        with atomic_file(path) as stream:
            write(stream)

    def photos(self, key: str) -> list[np.ndarray] | None:
        if self.folder is None or not (self.folder / f"{key}.npz").is_file():
            return None
        with np.load(self.folder / f"{key}.npz") as stored:
            return list(stored["photos"])

    def save_photos(self, key: str, photos: Sequence[np.ndarray]) -> None:
        if self.folder is not None:
            self._write(self.folder / f"{key}.npz", lambda stream: np.savez_compressed(stream, photos=np.stack(photos)))

    def measures(self, key: str) -> dict[str, list[Any]] | None:
        path = None if self.folder is None else self.folder / f"{key}.json"
        return json.loads(path.read_text()) if path is not None and path.is_file() else None

    def save_measures(self, key: str, measures: dict[str, list[Any]]) -> None:
        if self.folder is not None:
            self._write(self.folder / f"{key}.json", lambda stream: stream.write(json.dumps(measures).encode()))


def audit_adversarial(pairs: Sequence[Pair], analyzer: Any, fmr: float, attacks: Sequence[str] = ATTACKS,
                      eps_255: Sequence[float] = (1, 2, 4, 8), eye_eps_255: Sequence[float] = (16, 32, 255),
                      transfer: Sequence[str] = TRANSFER, checks: bool = True, batch_size: int = 16,
                      steps: int = PGD_STEPS, cache: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Dodging (genuine pairs) and impersonation (impostor pairs) success per attack and eps, white-box,
    after purification and transferred to ``transfer`` recognizers; and how often the checks flag the
    clean and the attacked photos, and how far their scores move.

    ``eps_255`` applies to fgsm, pgd and detector, ``eye_eps_255`` to eyes (255 = unbounded inside the eye band);
    ``detector`` (PGD against the face detector on the whole photo, :mod:`adversarial_detection`) attacks the
    probe photos of the pairs and adds ``detector eps=…`` entries and a ``detection`` summary.
    Only pairs the clean system decides right are attacked; a transfer recognizer's rates count only the
    pairs it decides right itself when clean. Rates are :func:`wilson` entries. ``cache``: a folder that
    keeps every attacked batch and its measurements (resumable runs; see the module docstring).
    """
    from facetrust.analyzer import AnalyzerConfig, FaceAnalyzer
    from facetrust.progress import track

    started, cpu_started = time.perf_counter(), time.process_time()
    check_attacks(attacks)
    check_budgets(eps_255, eye_eps_255, steps)
    recognizer = analyzer.recognizer
    threshold = analyzer.threshold(fmr)
    scorers_config = {name: AnalyzerConfig(detector=analyzer.config.detector, recognizer=name) for name in transfer}
    attacker = PhotoAttacker(recognizer, threshold)
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    faces = detect_faces(paths, analyzer, progress)
    # The ArcFace alignment needs landmarks (a fallback box has none).
    usable = [p for p in pairs if all(path in faces and faces[path].detection.landmarks is not None
                                      for path in (p.path_a, p.path_b))]
    found = {p: (f.image, f.detection) for p, f in faces.items()}
    enrolled = {p.path_a: found[p.path_a] for p in usable}
    white = _Scorer(analyzer, fmr, enrolled)
    # Attack only what the clean system gets right.
    targets = [p for p in usable if bool(white.accepted([faces[p.path_b].image], [faces[p.path_b].detection],
                                                         [p.path_a])[0]) == p.same]
    scorers = {name: _Scorer(FaceAnalyzer(config), fmr, enrolled) for name, config in scorers_config.items()}
    checker = FaceAnalyzer(AnalyzerConfig(detector=analyzer.config.detector, recognizer=recognizer.name,
                                          checks=tuple(CHECKS))) if checks else None
    probes = [faces[p.path_b] for p in targets]
    clean_right = {name: {p: bool(s.accepted([f.image], [f.detection], [p.path_a])[0]) == p.same
                          for p, f in zip(targets, probes)} for name, s in scorers.items()}
    clean_checks = {p: _flags(checker, f.image, f.detection) for p, f in zip(targets, probes)} if checker else {}

    configs = [(name, eps) for name in attacks if name != "detector"
               for eps in (eye_eps_255 if name == "eyes" else eps_255)]
    outcomes: dict[tuple[str, float], dict[str, list[Any]]] = {c: {} for c in configs}
    batches = list(_batches(targets, {p: found[p][0].shape for p in found}, batch_size))
    store = _Cache(cache)
    counts = {"attacked": 0, "from_cache": 0}
    attack_seconds = [0.0, 0.0]  # wall, CPU spent generating attacks (not read from the cache)

    def measure(batch: list[Pair], adversarial: list[np.ndarray]) -> dict[str, list[Any]]:
        detections = [faces[p.path_b].detection for p in batch]
        enrolled_paths = [p.path_a for p in batch]
        same = batch[0].same
        kind = "dodging" if same else "impersonation"
        measures: dict[str, list[Any]] = {}
        for purification in ("none", *PURIFICATIONS):
            purified = adversarial if purification == "none" else [PURIFICATIONS[purification](a) for a in adversarial]
            flips = white.accepted(purified, detections, enrolled_paths) != same
            measures[f"{kind}_{purification}"] = [bool(f) for f in flips]
        for scorer_name, scorer in scorers.items():
            right = [clean_right[scorer_name][p] for p in batch]
            flips = scorer.accepted(adversarial, detections, enrolled_paths) != same
            measures[f"transfer {scorer_name} {kind}"] = [bool(f) for f, r in zip(flips, right) if r]
        if checker is not None:
            for pair, photo, detection in zip(batch, adversarial, detections):
                for check, (flag, score) in _flags(checker, photo, detection).items():
                    clean_flag, clean_score = clean_checks[pair][check]
                    measures.setdefault(f"flagged {check}", []).append(flag)
                    # Per photo: clean and attacked (flag, score), to see whether a check's score moves.
                    measures.setdefault(f"check {check}", []).append([clean_flag, clean_score, flag, score])
        return measures

    def attack_all() -> Iterator[None]:
        for name, eps in configs:
            for batch in batches:
                photos = [faces[p.path_b].image for p in batch]
                detections = [faces[p.path_b].detection for p in batch]
                same = batch[0].same
                photo_key = _Cache.key(recognizer.name, threshold, name, eps, steps if name != "fgsm" else None,
                                       [(str(p.path_a), str(p.path_b), p.same) for p in batch])
                measures_key = _Cache.key(photo_key, sorted(transfer), checks, {n: s.threshold for n, s in scorers.items()})
                measures = store.measures(measures_key)
                if measures is None:
                    adversarial = store.photos(photo_key)
                    if adversarial is None:
                        wall, cpu = time.perf_counter(), time.process_time()
                        target = np.stack([white.enrolled[p.path_a] for p in batch])
                        adversarial = attacker.attack(photos, detections, target, name, eps, same, steps)
                        attack_seconds[0] += time.perf_counter() - wall
                        attack_seconds[1] += time.process_time() - cpu
                        store.save_photos(photo_key, adversarial)
                        counts["attacked"] += len(batch)
                    else:
                        counts["from_cache"] += len(batch)
                    measures = measure(batch, adversarial)
                    store.save_measures(measures_key, measures)
                else:
                    counts["from_cache"] += len(batch)
                entry = outcomes[(name, eps)]
                for key, values in measures.items():
                    entry.setdefault(key, []).extend(values)
                yield None

    for _ in track(attack_all(), len(batches) * len(configs), "attacking (attacks x batches)", progress,
                   unit="batches"):
        pass
    result = _summary(usable, targets, threshold, fmr, steps, scorers, clean_right, list(clean_checks.values()),
                      outcomes)
    if "detector" in attacks:
        from facetrust.audit.adversarial_detection import audit_detection_attack

        detection = audit_detection_attack([p.path_b for p in usable], analyzer, eps_255, steps,
                                           batch_size=batch_size, faces=faces, cache=store if cache else None,
                                           progress=progress)
        result["attacks"].update(detection.pop("attacks"))
        result["detection"] = detection
    result["timing"] = {"wall_s": round(time.perf_counter() - started, 1),
                        "cpu_s": round(time.process_time() - cpu_started, 1),
                        "attack_wall_s": round(attack_seconds[0], 1), "attack_cpu_s": round(attack_seconds[1], 1),
                        "probes_attacked": counts["attacked"], "probes_from_cache": counts["from_cache"]}
    return result


def _rate(flags: Sequence[bool | None]) -> dict[str, Any]:
    known = [f for f in flags if f is not None]
    entry = wilson(sum(known), len(known))
    if len(known) < len(flags):
        entry["unavailable"] = len(flags) - len(known)
    return entry


def _score_shift(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Per-photo (clean flag, clean score, attacked flag, attacked score) -> how the check reacted: mean scores
    over the photos scored both times, the mean and largest absolute change, and how often the decision changed."""
    both = [(c, a) for _, c, _, a in rows if c is not None and a is not None]
    decided = [(c, a) for c, _, a, _ in rows if c is not None and a is not None]
    shifts = [a - c for c, a in both]
    return {"photos": len(rows), "scored_both": len(both),
            "clean_mean": round(float(np.mean([c for c, _ in both])), 4) if both else None,
            "attacked_mean": round(float(np.mean([a for _, a in both])), 4) if both else None,
            "mean_shift": round(float(np.mean(shifts)), 4) if both else None,
            "max_abs_shift": round(float(np.max(np.abs(shifts))), 4) if both else None,
            "decision_changed": wilson(sum(c != a for c, a in decided), len(decided)),
            "newly_flagged": sum((not c) and a for c, a in decided), "unflagged": sum(c and (not a) for c, a in decided)}


def _summary(usable: Sequence[Pair], targets: Sequence[Pair], threshold: float, fmr: float, steps: int,
             scorers: dict[str, Any], clean_right: dict[str, dict[Pair, bool]],
             clean_checks: list[dict[str, tuple[bool | None, float | None]]],
             outcomes: dict[tuple[str, float], dict[str, list[Any]]]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "pairs": len(usable), "fmr": fmr, "threshold": threshold, "pgd_steps": steps,
        "dodging_pairs": sum(p.same for p in targets), "impersonation_pairs": sum(not p.same for p in targets),
        "transfer": {name: {"threshold": s.threshold,
                            "dodging_pairs": sum(r for p, r in clean_right[name].items() if p.same),
                            "impersonation_pairs": sum(r for p, r in clean_right[name].items() if not p.same)}
                     for name, s in scorers.items()},
        "clean_flagged": {check: _rate([f[check][0] for f in clean_checks]) for check in CHECKS} if clean_checks else {},
        "attacks": {}, "check_scores": {}}
    for (name, eps), entry in outcomes.items():
        label = f"{name} eps={eps:g}"
        result["attacks"][label] = {key: _rate(flags) for key, flags in sorted(entry.items())
                                    if not key.startswith("check ")}
        scores = {key.removeprefix("check "): _score_shift(rows) for key, rows in sorted(entry.items())
                  if key.startswith("check ")}
        if scores:
            result["check_scores"][label] = scores
    return result
