"""Real face photos that ship inside PyPI packages, for demos and smoke tests.

``astronaut`` (Eileen Collins) comes with scikit-image and ``grace_hopper``
with matplotlib: install the ``[examples]`` extra to have both.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from facetrust.errors import ConfigError

_LOCATIONS = {
    "astronaut": ("skimage", "data/astronaut.png", "scikit-image"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "matplotlib"),
}


def example_image(name: str) -> Path:
    """Path of a packaged example photo (found without importing its package)."""
    try:
        module, relative, package = _LOCATIONS[name]
    except KeyError:
        raise ConfigError(f"unknown example {name!r} (known: {', '.join(_LOCATIONS)})") from None
    spec = importlib.util.find_spec(module)
    path = Path(list(spec.submodule_search_locations)[0]) / relative if spec and spec.submodule_search_locations else None
    if path is None or not path.is_file():
        raise ConfigError(f"example {name!r} needs {package}: pip install 'facetrust[examples]'")
    return path


def example_names() -> list[str]:
    return list(_LOCATIONS)
