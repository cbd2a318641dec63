"""The rule for identity ids that are new to a gallery.

A new id must be a non-empty string of at most 256 characters, without control,
format or line-separator characters (Unicode categories Cc, Cf, Cs, Zl, Zp: NUL, newline,
the right-to-left override U+202E, zero-width characters …), without leading or trailing
whitespace, and not ``"."`` or ``".."`` (which URLs cannot carry as a path segment).
Slashes and any other printable character are allowed: the REST routes take an id as
the rest of the path. Ids already stored are never checked against this rule, so an old
gallery's ids can always be read, searched and erased.
"""
from __future__ import annotations

import unicodedata
from typing import Any

from facetrust.errors import GalleryError

MAX_LENGTH = 256
#: Control, format, surrogate and line/paragraph-separator characters.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def check_new_identity_id(identity_id: Any) -> str:
    """``identity_id`` if it may name a new identity, else :class:`GalleryError` saying why."""
    if not isinstance(identity_id, str):
        raise GalleryError(f"identity id must be a string, got {type(identity_id).__name__}")
    if not identity_id:
        raise GalleryError("identity id must not be empty")
    if len(identity_id) > MAX_LENGTH:
        raise GalleryError(f"identity id must be at most {MAX_LENGTH} characters, got {len(identity_id)}")
    for position, char in enumerate(identity_id):
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise GalleryError(f"identity id {identity_id!r} contains the control or format character "
                               f"U+{ord(char):04X} at position {position}")
    if identity_id != identity_id.strip():
        raise GalleryError(f"identity id {identity_id!r} must not start or end with whitespace")
    if identity_id in (".", ".."):
        raise GalleryError(f"identity id {identity_id!r} is not allowed ('.' and '..' cannot travel in a URL path)")
    return identity_id
