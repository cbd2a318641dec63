"""Renewing a protected gallery: the same scheme under a new key, from re-enrolment images.

Protected templates cannot be moved to another key (that would need the embeddings, which
the gallery does not keep), so renewal re-enrols: a new gallery with the source's scheme,
parameters and recognizer, under the new key, from a folder of images (one sub-folder per
identity). Names and metadata are carried over; identities without images are reported.
The source gallery is left as it is (delete it once the new one is in service); an
interrupted run resumes when repeated (identities already enrolled are skipped).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facetrust.errors import ConfigError
from facetrust.privacy.gallery import KeySource
from facetrust.privacy.keys import ProtectionKey, load_key


@dataclass
class RekeyReport:
    key_fingerprint: str
    enrolled: list[str] = field(default_factory=list)  # this run and any earlier, interrupted one
    not_reenrolled: list[str] = field(default_factory=list)  # in the source, no images given
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"key_fingerprint": self.key_fingerprint, "enrolled": len(self.enrolled),
                "not_reenrolled": self.not_reenrolled, "failed": self.failed}


def rekey_gallery(source: str | os.PathLike[str], target: str | os.PathLike[str], images: str | os.PathLike[str],
                  old_key: KeySource, new_key: KeySource, *, select: Any = None, workers: int = 1,
                  progress: bool = False) -> RekeyReport:
    """Create ``target``: ``source``'s protection under ``new_key``, enrolled from ``images``."""
    from facetrust.gallery import Gallery

    new = load_key(new_key)
    with Gallery.open(source, key=old_key, readonly=True) as old:
        spec = old.model.protection
        if spec is None:
            raise ConfigError(f"{source} is not a protected gallery")
        if new.fingerprint == spec["key_fingerprint"]:
            raise ConfigError("the new key is the gallery's current key")
        identities = {i.id: i for i in old.list()}
        params = {k: v for k, v in spec["params"].items() if k != "recognizer"}
        if Path(target).exists():  # a repeated run resumes
            fresh = Gallery.open(target, key=new)
        else:
            fresh = Gallery.create(target, old.model.name, protection=spec["scheme"], key=new,
                                   protection_options=params)
        with fresh:
            folder = fresh.enroll_folder(images, select=select, workers=workers, progress=progress)
            for identity_id in folder.enrolled:
                if identity_id in identities:
                    known = identities[identity_id]
                    fresh.update(identity_id, name=known.name, metadata=known.metadata)
    done = set(folder.enrolled) | set(folder.skipped)
    return RekeyReport(new.fingerprint, sorted(done), sorted(set(identities) - done), dict(folder.failed))


def issue_key(path: str | os.PathLike[str]) -> ProtectionKey:
    """A new key written to ``path`` (refuses to overwrite an existing key file)."""
    from facetrust.privacy.keys import save_key

    key = ProtectionKey.generate()
    save_key(key, path)
    return key

