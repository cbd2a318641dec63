"""The REST service and web UI (``facetrust serve``; needs the ``[server]`` extra).

>>> from facetrust.server import create_app, load_config     # doctest: +SKIP
>>> app = create_app(load_config(workers=2))                  # an ASGI app for any server

``facetrust.server.config`` and ``facetrust.server.keys`` import no web framework, so
``facetrust keys …`` works without the extra.
"""
from __future__ import annotations

from typing import Any

from facetrust.server.config import ServerConfig, facetrust_home, load_config

__all__ = ["ServerConfig", "create_app", "facetrust_home", "load_config"]


def create_app(config: ServerConfig | None = None) -> Any:
    from facetrust.server.app import create_app as factory

    return factory(config)
