"""Named registries of component implementations, imported lazily.

Each capability keeps one :class:`Registry`; an entry maps a public name to
``"module.path:ClassName"`` so that ``import facetrust`` imports no backend
(dlib, onnxruntime, torch …). Adding a model = one file + one ``register`` line.
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from facetrust.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry:
    name: str
    target: str
    summary: str


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, RegistryEntry] = {}

    def register(self, name: str, target: str, summary: str = "") -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = RegistryEntry(name, target, summary)

    def names(self) -> list[str]:
        return list(self._entries)

    def entries(self) -> list[RegistryEntry]:
        return list(self._entries.values())

    def get_class(self, name: str) -> type[T]:
        try:
            entry = self._entries[name]
        except KeyError:
            known = ", ".join(self._entries) or "none"
            raise ConfigError(f"unknown {self.kind} {name!r} (known: {known})") from None
        module_name, _, attr = entry.target.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def create(self, name: str, **options: Any) -> T:
        cls = self.get_class(name)
        try:
            inspect.signature(cls).bind(**options)
        except TypeError as exc:
            raise ConfigError(f"bad options for {self.kind} {name!r}: {exc}") from None
        return cls(**options)
