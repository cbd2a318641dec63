"""Evaluation reports (folders written by ``facetrust eval … --report DIR``) for the web UI.

``reports_dir`` in the config names a folder; each sub-folder holding a ``report.json``
is one report (the folder itself counts too). Only files directly inside a report
folder, with a known extension, are ever served.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from facetrust.errors import PermissionDeniedError
from facetrust.server.api import api_key_header, services
from facetrust.server.errors import NotFoundError

router = APIRouter(prefix="/v1/reports", dependencies=[Depends(api_key_header)], tags=["reports"])

_SERVED = {".png": "image/png", ".json": "application/json", ".md": "text/markdown", ".html": "text/html",
           ".csv": "text/csv"}
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)]+)\)")
ROOT_NAME = "."


def _root(request: Request) -> Path:
    """The reports folder. Reports are server-wide (not tied to a gallery), so a key limited
    to some galleries may not read them (403)."""
    key = getattr(request.state, "api_key", None)
    if key is not None and key.galleries is not None:
        raise PermissionDeniedError(f"API key {key.id} is limited to galleries; reports need a key for every gallery")
    root = services(request).config.reports_path()
    if root is None or not root.is_dir():
        raise NotFoundError("no reports folder is configured (set reports_dir in the server config)")
    return root


def _report_dirs(root: Path) -> dict[str, Path]:
    found = {ROOT_NAME: root} if (root / "report.json").is_file() else {}
    for child in sorted(root.iterdir()):
        if child.is_dir() and (child / "report.json").is_file():
            found[child.name] = child
    return found


def _folder(request: Request, name: str) -> Path:
    folder = _report_dirs(_root(request)).get(name)
    if folder is None:
        raise NotFoundError(f"no report named {name!r}")
    return folder


def _plots(folder: Path) -> list[dict[str, str]]:
    """Captioned plots from report.md (the order the report shows them), else every PNG."""
    markdown = folder / "report.md"
    plots = []
    if markdown.is_file():
        for caption, src in _IMAGE.findall(markdown.read_text(encoding="utf-8")):
            if "/" not in src and (folder / src).is_file():
                plots.append({"caption": caption, "file": src})
    return plots or [{"caption": p.stem, "file": p.name} for p in sorted(folder.glob("*.png"))]


@router.get("", summary="Evaluation reports in the configured reports folder")
async def list_reports(request: Request) -> dict[str, Any]:
    reports = []
    for name, folder in _report_dirs(_root(request)).items():
        data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        reports.append({"name": name, "protocol": data.get("protocol"), "plots": len(_plots(folder))})
    return {"reports": reports}


@router.get("/{name}", summary="One report: its result JSON and its plots")
async def get_report(request: Request, name: str) -> dict[str, Any]:
    folder = _folder(request, name)
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    plots = [{**p, "url": f"/v1/reports/{name}/files/{p['file']}"} for p in _plots(folder)]
    return {"name": name, "protocol": data.get("protocol"), "metrics": data.get("metrics"),
            "configuration": data.get("configuration"), "plots": plots, "result": data}


@router.get("/{name}/files/{filename}", summary="A file of a report (plots, report.html …)")
async def report_file(request: Request, name: str, filename: str) -> FileResponse:
    folder = _folder(request, name)
    path = folder / filename
    if "/" in filename or filename.startswith(".") or path.suffix not in _SERVED or not path.is_file():
        raise NotFoundError(f"report {name!r} has no file {filename!r}")
    return FileResponse(path, media_type=_SERVED[path.suffix])
