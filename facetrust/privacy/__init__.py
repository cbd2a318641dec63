"""Privacy: keyed template protection (``PROTECTIONS`` registry), keys, and their evaluation."""
from __future__ import annotations

from typing import Any

from facetrust.errors import ConfigError
from facetrust.privacy.base import TemplateProtector
from facetrust.privacy.keys import KEY_ENV, KeyFilePermissionWarning, ProtectionKey, load_key, read_key_file, save_key
from facetrust.registry import Registry

PROTECTIONS: Registry[TemplateProtector] = Registry("protection scheme")
PROTECTIONS.register("slerp", "facetrust.privacy.slerp:SlerpProtector", "keyed rotation + spherical interpolation towards keyed noise + keyed group dropout; cosine")
PROTECTIONS.register("biohash", "facetrust.privacy.biohash:BioHashProtector", "keyed orthonormal projection + binarisation; Hamming")


def create_protector(scheme: str, key: ProtectionKey, dim: int, **params: Any) -> TemplateProtector:
    """The protector ``scheme`` under ``key`` for ``dim``-dimensional embeddings."""
    if not isinstance(key, ProtectionKey):
        raise ConfigError("create_protector needs a ProtectionKey (see facetrust.privacy.load_key)")
    return PROTECTIONS.create(scheme, key=key, dim=dim, **params)


def protector_from_spec(spec: dict[str, Any], key: ProtectionKey) -> TemplateProtector:
    """Recreate a protector from :meth:`TemplateProtector.spec`; refuses a key with another fingerprint."""
    key.check(spec.get("key_fingerprint"), "the gallery or export")
    return create_protector(spec["scheme"], key, int(spec["dim"]), **spec.get("params", {}))


__all__ = ["KEY_ENV", "KeyFilePermissionWarning", "PROTECTIONS", "ProtectionKey", "TemplateProtector",
           "create_protector", "load_key", "protector_from_spec", "read_key_file", "save_key"]
