"""Template protection at a gallery's boundary: what :class:`facetrust.gallery.Gallery` calls.

A protected gallery stores only protected templates. Its :class:`ModelIdentity` carries the
protector's spec (scheme, public parameters, key fingerprint) and the protected dimension;
every embedding entering the gallery (enrolment, search) is protected on the way in, so
search, erasure and export work unchanged on the stored vectors. Opening it needs the key:
a key with another fingerprint is refused, never used to produce garbage matches.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facetrust.errors import ConfigError, PrivacyKeyError, ProtectedTemplateError, WrongKeyError
from facetrust.privacy import TemplateProtector, create_protector, load_key, protector_from_spec
from facetrust.privacy.keys import ProtectionKey

if TYPE_CHECKING:
    from facetrust.gallery.base import ModelIdentity

KeySource = ProtectionKey | str | os.PathLike[str] | None
_CALIBRATION = Path(__file__).with_name("calibration.json")


def protected_model(model: "ModelIdentity", protection: str | TemplateProtector, key: KeySource,
                    options: dict[str, Any] | None = None) -> tuple["ModelIdentity", TemplateProtector]:
    """The identity of a new gallery of ``model`` embeddings protected by ``protection``."""
    from facetrust.gallery.base import ModelIdentity

    if isinstance(protection, TemplateProtector):
        if options:
            raise ConfigError("protection options go to the protector itself when one is given")
        protector = protection
    else:
        if options is None:  # the parameters calibrated for this recognizer, where there are some
            options = calibrated_params(model.name, protection)
        protector = create_protector(protection, load_key(key), model.dim, recognizer=model.name, **options)
    if protector.dim != model.dim:
        raise ConfigError(f"the protector takes {protector.dim}-d embeddings; {model.name} gives {model.dim}-d")
    return ModelIdentity(model.name, model.sha256, protector.out_dim, protector.spec()), protector


def open_protector(model: "ModelIdentity", key: KeySource) -> TemplateProtector | None:
    """The protector of a gallery of ``model`` (None when unprotected), checked against ``key``."""
    if model.protection is None:
        if key is not None:
            raise ConfigError("this gallery is not protected: it takes no key")
        return None
    try:
        given = load_key(key)
    except PrivacyKeyError as exc:
        raise PrivacyKeyError(f"this gallery is protected ({model.protection['scheme']}, key "
                              f"{model.protection['key_fingerprint']}): {exc}") from None
    return protector_from_spec(model.protection, given)


def check_import(gallery_model: "ModelIdentity", export_model: "ModelIdentity", path: object) -> None:
    """Refuse an export whose templates are protected differently from the gallery's."""
    mine, theirs = gallery_model.protection, export_model.protection
    if theirs is not None and mine is None:
        raise ProtectedTemplateError(f"{path} holds protected templates ({theirs['scheme']}); "
                                     "this gallery is not protected")
    if mine is not None and theirs is None:
        raise ProtectedTemplateError(f"{path} holds unprotected templates; this gallery stores only protected ones "
                                     "(enrol from the embeddings instead)")
    if mine is not None and theirs is not None:
        if theirs.get("key_fingerprint") != mine.get("key_fingerprint"):
            raise WrongKeyError(f"{path} was protected with key {theirs.get('key_fingerprint')}, "
                                f"this gallery with key {mine.get('key_fingerprint')}")
        if theirs != mine:
            raise ProtectedTemplateError(f"{path} was protected with other parameters ({theirs}) than this gallery")


@lru_cache(maxsize=None)
def _calibration() -> dict[str, Any]:
    return json.loads(_CALIBRATION.read_text()) if _CALIBRATION.is_file() else {}


def calibrated_params(recognizer: str, scheme: str) -> dict[str, Any]:
    """The parameters chosen on LFW folds 1-5 for ``recognizer`` (docs/privacy.md); {} (the scheme's defaults) if none."""
    entry = _calibration().get(recognizer, {}).get(scheme)
    return dict(entry["params"]) if entry else {}


def protected_threshold(spec: dict[str, Any], fmr: float) -> float:
    """Score threshold at ``fmr`` for protected templates, measured on LFW (docs/privacy.md).

    Calibrated for each recognizer's default parameters (and the earlier defaults, for galleries made with
    them); other parameters need an explicit threshold.
    """
    current = _calibration().get(spec.get("params", {}).get("recognizer") or "", {}).get(spec["scheme"])
    params = {k: v for k, v in spec.get("params", {}).items() if k != "recognizer"}
    # A gallery protected with an earlier default keeps that default's thresholds.
    calibrated = [current, *current.get("earlier", [])] if current else []
    entry = next((c for c in calibrated if c["params"] == params), None)
    if entry is None:
        raise ConfigError(f"no calibrated threshold for {spec['scheme']} with {params}: pass threshold=")
    thresholds = {float(k): float(v) for k, v in entry["thresholds"].items()}
    if fmr not in thresholds:
        raise ConfigError(f"protected thresholds are calibrated at FMR {sorted(thresholds)}; pass threshold= for {fmr}")
    return thresholds[fmr]
