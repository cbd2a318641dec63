"""Native endpoints: detect, analyze, verify, embed; health and version; the web UI."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles

import facetrust
from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError, ImageDecodeError
from facetrust.io.image import decode_base64_image
from facetrust.server import worker

#: Declared so that /docs shows an "Authorize" button; the Gate middleware does the checking.
api_key_header = APIKeyHeader(name="x-api-key", auto_error=False, description="API key from `facetrust keys create`")

router = APIRouter(dependencies=[Depends(api_key_header)])
public = APIRouter()


def services(request: Request) -> Any:
    return request.app.state.services


def parse_select(select: str, pairs: bool = False) -> Any:
    """'largest', 'best', 'center' or a face index; with ``pairs`` (verify) also 'best-pair'."""
    text = select.strip()
    if re.fullmatch(r"-?[0-9]{1,6}", text):  # ASCII digits only; no image has a million faces
        return int(text)
    if pairs and text == "best-pair":
        return text
    if text not in ("largest", "best", "center"):
        extra = ", 'best-pair'" if pairs else ""
        raise ConfigError(f"select must be 'largest', 'best', 'center'{extra} or a face index, got {select!r}")
    return text


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, when it sent JSON instead of a multipart form; else {}."""
    if "json" not in request.headers.get("content-type", ""):
        return {}
    try:
        value = await request.json()
    except (ValueError, RecursionError):
        raise ConfigError("the request body is not valid JSON (or is nested too deeply)") from None
    if not isinstance(value, dict):
        raise ConfigError("the JSON request body must be an object")
    return value


async def image_inputs(request: Request, uploads: UploadFile | list[UploadFile] | None, field: str) -> list[bytes]:
    """The images of a field: uploaded files (multipart), or base64 strings / ``data:`` URLs in a
    JSON body (as deepface and CompreFace accept), decoded by the library's image loader."""
    if uploads:
        return [await u.read() for u in (uploads if isinstance(uploads, list) else [uploads])]
    value = (await json_body(request)).get(field)
    if value is None:  # answered like any missing field (422; 400 on the CompreFace API)
        raise RequestValidationError([{"type": "missing", "loc": ("body", field), "msg": "Field required "
                                       "(a multipart file, or base64 / a data: URL in a JSON body)"}])
    texts = value if isinstance(value, list) else [value]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise ImageDecodeError(f"{field}: an image in JSON must be a base64 string or a data: URL")
    return [decode_base64_image(text) for text in texts]


async def image_input(request: Request, upload: UploadFile | None, field: str) -> bytes:
    images = await image_inputs(request, upload, field)
    if len(images) != 1:
        raise ImageDecodeError(f"{field}: one image expected, got {len(images)}")
    return images[0]


def ImageFile(description: str = "An image file (or send JSON with the image in base64).") -> Any:  # noqa: N802
    return File(None, description=description)


SelectQuery = Query("largest", description="Face to use when there are several: largest, best, center or an index.")


def faces_json(found: worker.ImageFaces, include_embedding: bool) -> dict[str, Any]:
    return {"width": found.width, "height": found.height,
            "faces": [f.to_dict(include_embedding=include_embedding) for f in found.faces]}


@router.post("/v1/detect", summary="Faces with box, score and 5 landmarks")
async def detect(request: Request, image: UploadFile | None = ImageFile()) -> dict[str, Any]:
    found = await services(request).pool.run(worker.analyze, await image_input(request, image, "image"), False, False)
    return faces_json(found, include_embedding=False)


@router.post("/v1/analyze", summary="Every per-face result: box, landmarks, configured checks, embedding on request")
async def analyze(request: Request, image: UploadFile | None = ImageFile(),
                  embedding: bool = Query(False, description="Include each face's embedding.")) -> dict[str, Any]:
    found = await services(request).pool.run(worker.analyze, await image_input(request, image, "image"), True)
    return faces_json(found, include_embedding=embedding)


@router.post("/v1/verify", summary="Are the faces in two images the same person?")
async def verify(request: Request, image_a: UploadFile | None = ImageFile(), image_b: UploadFile | None = ImageFile(),
                 fmr: float | None = Query(None, gt=0, lt=1, description="False-match rate of the threshold "
                                                                        f"(default {DEFAULT_FMR:g})."),
                 select: str = Query("largest", description="Face to use when there are several: largest, best, "
                                     "center, an index, or best-pair (the most similar pair of faces; the "
                                     "decision's false-match rate is then up to comparisons x fmr).")
                 ) -> dict[str, Any]:
    result = await services(request).pool.run(worker.verify, await image_input(request, image_a, "image_a"),
                                              await image_input(request, image_b, "image_b"), fmr,
                                              parse_select(select, pairs=True))
    return result.to_dict()


@router.post("/v1/embed", summary="The embedding of one face")
async def embed(request: Request, image: UploadFile | None = ImageFile(), select: str = SelectQuery) -> dict[str, Any]:
    face, count = await services(request).pool.run(worker.embed_one, await image_input(request, image, "image"),
                                                   parse_select(select))
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
    return {"facetrust": facetrust.__version__, "api": "v1", "preset": config.preset, "detector": config.detector,
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
