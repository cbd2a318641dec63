"""Typed view of ``manifest.json``: every model facetrust knows, with provenance."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative path inside the model directory (or the package's models/ folder)
    url: str
    sha256: str
    bytes: int
    package: str | None = None  # set when the file ships inside a PyPI package
    member: str | None = None  # the url is a zip archive; this is the file's name inside it
    derived: str | None = None  # no upstream file: the command that makes it from the url's download


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: str
    license: str
    commercial_use: bool
    files: tuple[ModelFile, ...]
    input: str
    source: str

    @property
    def embedded(self) -> bool:
        """True when no download is ever needed (files ship in a PyPI dependency)."""
        return all(f.package for f in self.files)


@lru_cache(maxsize=1)
def _load() -> dict[str, ModelSpec]:
    raw = json.loads(resources.files("facetrust.zoo").joinpath("manifest.json").read_text())
    specs = {}
    for item in raw["models"]:
        files = tuple(ModelFile(**f) for f in item.pop("files"))
        specs[item["name"]] = ModelSpec(files=files, **item)
    return specs


def list_models(task: str | None = None) -> list[ModelSpec]:
    """The packaged models, then the ones registered on this machine (facetrust.zoo.local)."""
    from facetrust.zoo.local import local_models

    every = [*_load().values(), *(m.spec for m in local_models().values())]
    return [m for m in every if task is None or m.task == task]


def get_model(name: str) -> ModelSpec:
    from facetrust.zoo.local import local_models

    found = _load().get(name) or getattr(local_models().get(name), "spec", None)
    if found is None:
        raise ConfigError(f"unknown model {name!r} (see `facetrust models list`)")
    return found
