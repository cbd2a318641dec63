"""Named registries of component implementations, imported lazily.

Each capability keeps one :class:`Registry`; an entry maps a public name to
``"module.path:ClassName"`` so that ``import facetrust`` imports no backend
(dlib, onnxruntime, torch …). Adding a model = one file + one ``register`` line.

A component class declares the type and range of each constructor option in
``OPTIONS`` (a dict of :class:`Option`); :meth:`Registry.create` and
:meth:`Registry.check_options` refuse anything else with a :class:`ConfigError`
before any model loads, so that ``upsample="x"`` or ``upsample=10**9`` never
reaches the backend.
"""
from __future__ import annotations

import importlib
import inspect
import math
import os
import reprlib
from dataclasses import dataclass
from typing import Any, Generic, Mapping, TypeVar

from facetrust.errors import ConfigError

T = TypeVar("T")

_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", os.PathLike: "a path",
               list: "names (a list of strings or one comma-separated string)"}


@dataclass(frozen=True)
class Option:
    """Type (int, float, str, bool, os.PathLike for a str or Path, or list for names) and inclusive range
    of one component option; ``optional`` allows ``None``."""

    kind: type
    low: float | None = None
    high: float | None = None
    optional: bool = False

    def describe(self) -> str:
        text = _KIND_NAMES[self.kind]
        if self.low is not None and self.high is not None:
            text += f" from {self.low:g} to {self.high:g}"
        elif self.low is not None:
            text += f" >= {self.low:g}"
        elif self.high is not None:
            text += f" <= {self.high:g}"
        return text + (" or null" if self.optional else "")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if isinstance(value, bool) or self.kind is bool:
            return isinstance(value, bool) and self.kind is bool
        if self.kind is os.PathLike:
            return isinstance(value, (str, os.PathLike))
        if self.kind is list:
            return isinstance(value, str) or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value))
        if self.kind is float:
            ok = isinstance(value, (int, float)) and math.isfinite(value)
        else:
            ok = isinstance(value, self.kind)
        if ok and self.kind in (int, float):
            ok = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        return ok


def validate_options(cls: type, options: Mapping[str, Any], label: str, partial: bool = False) -> None:
    """ConfigError unless ``options`` are constructor arguments of ``cls`` of the declared
    type and range. ``partial``: required arguments supplied later (e.g. ``analyzer``) may be
    missing. A class without ``OPTIONS`` (a plugin) gets its argument names checked only; one
    that takes ``**kwargs`` passes undeclared names on to a component that checks them."""
    signature = inspect.signature(cls)
    try:
        (signature.bind_partial if partial else signature.bind)(**options)
    except TypeError as exc:
        raise ConfigError(f"bad options for {label}: {exc}") from None
    declared: Mapping[str, Option] | None = getattr(cls, "OPTIONS", None)
    if declared is None:
        return
    for key, value in options.items():
        spec = declared.get(key)
        if spec is not None and not spec.accepts(value):
            raise ConfigError(f"bad option for {label}: {key} must be {spec.describe()}, got {reprlib.repr(value)}")


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

    def check_options(self, name: str, options: Mapping[str, Any], partial: bool = False) -> type[T]:
        """The class for ``name``, after checking ``options`` against its declared ``OPTIONS``."""
        cls = self.get_class(name)
        validate_options(cls, options, f"{self.kind} {name!r}", partial)
        return cls

    def create(self, name: str, **options: Any) -> T:
        return self.check_options(name, options)(**options)
