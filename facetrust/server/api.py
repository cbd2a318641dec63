"""Native endpoints: detect, analyze, verify, embed; health and version; the web UI."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles

import facetrust
from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError
from facetrust.server import worker

#: Declared so that /docs shows an "Authorize" button; the Gate middleware does the checking.
api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="API key from `facetrust keys create`")

router = APIRouter(dependencies=[Depends(api_key_header)])
public = APIRouter()


def services(request: Request) -> Any:
    return request.app.state.services


def parse_select(select: str) -> Any:
    """'largest', 'best', 'center' or a face index."""
    text = select.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text not in ("largest", "best", "center"):
        raise ConfigError(f"select must be 'largest', 'best', 'center' or a face index, got {select!r}")
    return text


SelectQuery = Query("largest", description="Face to use when there are several: largest, best, center or an index.")


def faces_json(found: worker.ImageFaces, include_embedding: bool) -> dict[str, Any]:
    return {"width": found.width, "height": found.height,
            "faces": [f.to_dict(include_embedding=include_embedding) for f in found.faces]}


@router.post("/v1/detect", summary="Faces with box, score and 5 landmarks")
async def detect(request: Request, image: UploadFile = File(..., description="An image file.")) -> dict[str, Any]:
    found = await services(request).pool.run(worker.analyze, await image.read(), False, False)
    return faces_json(found, include_embedding=False)


@router.post("/v1/analyze", summary="Every per-face result: box, landmarks, configured checks, embedding on request")
async def analyze(request: Request, image: UploadFile = File(...),
                  embedding: bool = Query(False, description="Include each face's embedding.")) -> dict[str, Any]:
    found = await services(request).pool.run(worker.analyze, await image.read(), True)
    return faces_json(found, include_embedding=embedding)


@router.post("/v1/verify", summary="Are the faces in two images the same person?")
async def verify(request: Request, image_a: UploadFile = File(...), image_b: UploadFile = File(...),
                 fmr: float | None = Query(None, gt=0, lt=1, description="False-match rate of the threshold "
                                                                        f"(default {DEFAULT_FMR:g})."),
                 select: str = SelectQuery) -> dict[str, Any]:
    result = await services(request).pool.run(worker.verify, await image_a.read(),
                                              await image_b.read(), fmr, parse_select(select))
    return result.to_dict()


@router.post("/v1/embed", summary="The embedding of one face")
async def embed(request: Request, image: UploadFile = File(...), select: str = SelectQuery) -> dict[str, Any]:
    face, count = await services(request).pool.run(worker.embed_one, await image.read(), parse_select(select))
    return {"recognizer": services(request).config.recognizer, "dim": int(face.embedding.shape[0]),
            "faces_in_image": count, "embedding": [round(float(v), 6) for v in face.embedding],
            "face": face.to_dict(include_embedding=False)}


@public.get("/health", summary="Liveness probe: the inference pool's state")
async def health(request: Request) -> dict[str, Any]:
    pool = services(request).pool
    return {"status": "ok", "workers": pool.workers, "in_flight": pool.in_flight, "pending": pool.pending}


@public.get("/version", summary="facetrust version and the models in use")
async def version(request: Request) -> dict[str, Any]:
    config = services(request).config
    return {"facetrust": facetrust.__version__, "api": "v1", "detector": config.detector,
            "recognizer": config.recognizer, "checks": list(config.checks), "auth": config.auth}



def mount_ui(app: FastAPI, static_dir: Path) -> None:
    """The web page at /ui/ (plain HTML + JS, no build step); / redirects there."""
    app.mount("/ui", StaticFiles(directory=static_dir, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/ui/")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(static_dir / "favicon.svg", media_type="image/svg+xml")
