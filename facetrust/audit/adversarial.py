"""White-box adversarial attacks on a differentiable recognizer, with the
adversarial-robustness-toolbox (ART): FGSM and PGD (L-inf), on the aligned face crop.

The verification decision is wrapped as a 2-class classifier whose logits are
``scale * [cosine(f(x), enrolled), threshold]``: class 0 = "same person". Dodging attacks a
genuine pair's probe untargeted away from class 0; impersonation attacks an impostor pair's probe
targeted to class 0. Success is measured with the deployed (ONNX) recognizer on the adversarial crop
rounded to 8 bits, at the threshold for the audit FMR. Purification re-measures success after a
JPEG re-encoding and a small Gaussian blur of the adversarial crop (facetrust.perturb).

Only MobileFaceNet is differentiable here: its ONNX graph is converted to PyTorch with onnx2torch
(the same weights the recognizer runs). Other recognizers (dlib-resnet) are a ConfigError.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from facetrust.errors import ConfigError
from facetrust.evaluation.lfw import Pair
from facetrust.perturb import blur, jpeg

DIFFERENTIABLE = ("mobilefacenet",)
#: Purifications applied to the adversarial crop before it is re-measured.
PURIFICATIONS = {"jpeg75": lambda crop: jpeg(crop, 75), "blur1": lambda crop: blur(crop, 1.0)}
_SCALE = 10.0


def torch_recognizer(recognizer: Any) -> Any:
    """A PyTorch module x (1, 3, 112, 112) in [0, 1] -> L2-normalised embedding, equal to ``recognizer``."""
    if getattr(recognizer, "name", None) not in DIFFERENTIABLE:
        raise ConfigError(f"recognizer {getattr(recognizer, 'name', recognizer)!r} is not differentiable here: "
                          f"white-box attacks need one of {', '.join(DIFFERENTIABLE)}")
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
            # The exported graph has a fixed batch of 1.
            features = torch.cat([self.net(item[None]) for item in z])
            if flip:
                features = features + torch.cat([self.net(item[None]) for item in torch.flip(z, dims=[3])])
            return torch.nn.functional.normalize(features, dim=1)

    return Embedder()


def _decision(embedder: Any, threshold: float) -> Any:
    import torch

    class Decision(torch.nn.Module):
        """Logits scale * [cosine to the enrolled embedding, threshold]: class 0 = accepted as the same person."""

        def __init__(self) -> None:
            super().__init__()
            self.embedder = embedder
            self.enrolled = torch.zeros(1, 1)

        def forward(self, x: Any) -> Any:
            similarity = self.embedder(x) @ self.enrolled.T
            return _SCALE * torch.cat([similarity, torch.full_like(similarity, threshold)], dim=1)

    return Decision()


def _attack(name: str, classifier: Any, eps: float, targeted: bool) -> Any:
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent

    if name == "fgsm":
        return FastGradientMethod(classifier, norm=np.inf, eps=eps, targeted=targeted)
    if name == "pgd":
        return ProjectedGradientDescent(classifier, norm=np.inf, eps=eps, eps_step=eps / 4, max_iter=10,
                                        targeted=targeted, verbose=False)
    raise ConfigError(f"unknown attack {name!r}; known: fgsm, pgd")


def audit_adversarial(pairs: Sequence[Pair], analyzer: Any, threshold: float, attacks: Sequence[str] = ("fgsm", "pgd"),
                      eps_255: Sequence[float] = (1, 2, 4, 8), progress: bool = True) -> dict[str, Any]:
    """Dodging (genuine pairs) and impersonation (impostor pairs) success rates per attack and eps.

    Only pairs the clean system decides right are attacked (a genuine pair already rejected needs no
    dodging). Returns {"pairs", "dodging_pairs", "impersonation_pairs", "threshold", "attacks": {...}}.
    """
    import torch
    from art.estimators.classification import PyTorchClassifier

    from facetrust.audit.robustness import detect_faces
    from facetrust.parallel import progress_map

    for name in attacks:
        if name not in ("fgsm", "pgd"):
            raise ConfigError(f"unknown attack {name!r}; known: fgsm, pgd")
    recognizer = analyzer.recognizer
    decision = _decision(torch_recognizer(recognizer), threshold)
    classifier = PyTorchClassifier(decision, loss=torch.nn.CrossEntropyLoss(), input_shape=(3, 112, 112),
                                   nb_classes=2, clip_values=(0.0, 1.0))
    faces = detect_faces(list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b))), analyzer, progress)
    crops = {p: recognizer.align(f.image, f.detection) for p, f in faces.items()}
    usable = [p for p in pairs if p.path_a in crops and p.path_b in crops]
    vectors = dict(zip(crops, recognizer.embed_aligned(list(crops.values()))))
    # Attack only what the clean system gets right.
    targets = [p for p in usable if (float(vectors[p.path_a] @ vectors[p.path_b]) >= threshold) == p.same]
    counts: dict[tuple[str, float], dict[str, list[bool]]] = {}

    def run(pair: Pair) -> None:
        decision.enrolled = torch.tensor(vectors[pair.path_a])[None]
        x = (crops[pair.path_b].astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        for name in attacks:
            for eps in eps_255:
                adversarial = _attack(name, classifier, eps / 255.0, targeted=not pair.same).generate(
                    x, np.array([0]))
                crop = np.clip(np.round(adversarial[0].transpose(1, 2, 0) * 255), 0, 255).astype(np.uint8)
                versions = {"none": crop, **{k: f(crop) for k, f in PURIFICATIONS.items()}}
                embedded = recognizer.embed_aligned(list(versions.values()))
                accepted = embedded @ vectors[pair.path_a] >= threshold
                entry = counts.setdefault((name, eps), {})
                kind = "dodging" if pair.same else "impersonation"
                for purification, flag in zip(versions, accepted):
                    entry.setdefault(f"{kind}_{purification}", []).append(bool(flag) != pair.same)

    for _ in progress_map((run(p) for p in targets), len(targets), "attacking (pairs)", enabled=progress):
        pass
    result: dict[str, Any] = {"pairs": len(usable), "threshold": threshold,
                              "dodging_pairs": sum(p.same for p in targets),
                              "impersonation_pairs": sum(not p.same for p in targets), "attacks": {}}
    for (name, eps), entry in counts.items():
        result["attacks"][f"{name} eps={eps:g}"] = {  # eps in 1/255
            key: float(np.mean(flags)) for key, flags in sorted(entry.items())}
    return result
