"""Galleries over HTTP: create, enrol, search, list, update, remove, export.

Each gallery is ``<gallery_dir>/<name>.gallery`` (the embedded SQLite + FAISS backend of
:mod:`facetrust.gallery`), opened once and shared; with ``database_url``, a pgvector gallery
in the database that several instances share (:mod:`facetrust.server.shared_galleries`).
Enrolment faces are prepared in the inference workers by the library's enrolment path (:mod:`facetrust.gallery.enrolment`:
selection rule, embedding, quality) and gated and stored by the gallery, which refuses
faces of another model. Gallery calls
run in a thread (the backend is thread-safe) to keep the event loop free.

Encrypted galleries (``encrypt_galleries``) take their key from the server's configuration
(``encryption_key_file``) or environment (``$FACETRUST_ENCRYPTION_KEY``,
``$FACETRUST_ENCRYPTION_KEY_FILE``), loaded at start-up; no request carries or chooses a key.
"""
from __future__ import annotations

import json
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from facetrust.defaults import DEFAULT_FMR
from facetrust.errors import ConfigError, GalleryError
from facetrust.gallery import Gallery
from facetrust.gallery.enrolment import EnrolmentFace
from facetrust.server import worker
from facetrust.gallery.identity_id import check_new_identity_id
from facetrust.server.api import (
    ImageFile, SelectQuery, api_key_header, image_input, image_inputs, json_body, parse_select, services,
)
from facetrust.server.errors import ConflictError, NotFoundError

SUFFIX = ".gallery"
#: Limits of an identity's metadata, checked before it reaches the gallery.
MAX_METADATA_DEPTH = 32
MAX_METADATA_CHARS = 64 * 1024
#: SQLite integers are 64-bit: larger offsets and template ids cannot exist.
MAX_INT = 2**63 - 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_gallery_name(name: str) -> None:
    if not _NAME.match(name) or name.endswith(SUFFIX):
        raise ConfigError(f"gallery name {name!r} must be 1-64 letters, digits, '_', '-' or '.', "
                          "starting with a letter or digit")


def get_or_create(registry: Any, name: str) -> Gallery:
    """``registry``'s gallery ``name``, created when missing (by this or a concurrent request)."""
    try:
        return registry.get(name)
    except NotFoundError:
        try:
            return registry.create(name)
        except ConflictError:  # created by a concurrent request meanwhile
            return registry.get(name)


class Galleries:
    """The open galleries of one server, by name."""

    def __init__(self, folder: Path, recognizer: str, encrypt: bool = False,
                 encryption_key_file: str | None = None) -> None:
        from facetrust.privacy.encryption import load_encryption_key

        self.folder = folder
        self.recognizer = recognizer
        self.encrypt = encrypt
        self._open: dict[str, Gallery] = {}
        self._lock = threading.Lock()
        # Loaded now, so that a missing or unreadable key stops the start-up, not a request.
        self._key = load_encryption_key(encryption_key_file) if encrypt or encryption_key_file else None

    def path(self, name: str) -> Path:
        check_gallery_name(name)
        return self.folder / f"{name}{SUFFIX}"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name[:-len(SUFFIX)] for p in self.folder.glob(f"*{SUFFIX}") if _NAME.match(p.name))

    def get(self, name: str) -> Gallery:
        path = self.path(name)
        with self._lock:
            if name not in self._open:
                if not path.is_file():
                    raise NotFoundError(f"no gallery named {name!r}")
                from facetrust.gallery.sqlite import stored_encryption

                key = self._key if stored_encryption(path) is not None else None
                self._open[name] = Gallery.open(path, encryption_key=key)
            return self._open[name]

    def create(self, name: str) -> Gallery:
        path = self.path(name)
        with self._lock:
            if path.exists():
                raise ConflictError(f"gallery {name!r} already exists")
            self.folder.mkdir(parents=True, exist_ok=True)
            self._open[name] = Gallery.create(path, self.recognizer, encryption_key=self._key if self.encrypt else None)
            return self._open[name]

    def get_or_create(self, name: str) -> Gallery:
        return get_or_create(self, name)

    def empty_subjects(self, name: str) -> Any:
        """CompreFace subjects without an example yet: ``<name>.gallery.subjects.json`` beside the gallery."""
        from facetrust.server.compreface import EmptySubjects

        path = self.path(name)
        return EmptySubjects(path.with_name(path.name + ".subjects.json"))

    def close(self) -> None:
        with self._lock:
            for gallery in self._open.values():
                gallery.close()
            self._open.clear()


async def gallery_for(request: Request, name: str) -> Gallery:
    """The named gallery, if the request's key may use it (403 otherwise, 404 if missing).
    Opened in a thread: a first open may rebuild the search index."""
    key = getattr(request.state, "api_key", None)
    if key is not None:
        key.check_gallery(name)
    return await run_in_threadpool(services(request).galleries.get, name)


def summary(name: str, gallery: Gallery) -> dict[str, Any]:
    identities, templates = gallery.backend.counts()
    return {"name": name, "identities": identities, "templates": templates, "recognizer": gallery.model.name}


router = APIRouter(prefix="/v1/galleries", dependencies=[Depends(api_key_header)], tags=["galleries"])


@router.get("", summary="Galleries this key may use")
async def list_galleries(request: Request) -> dict[str, Any]:
    key = getattr(request.state, "api_key", None)
    names = [n for n in await run_in_threadpool(services(request).galleries.names) if key is None or key.allows(n)]
    return {"galleries": [await run_in_threadpool(summary, n, await gallery_for(request, n)) for n in names]}


@router.post("", status_code=201, summary="Create an empty gallery tied to the server's recognizer")
async def create_gallery(request: Request, name: str = Body(..., embed=True)) -> dict[str, Any]:
    key = getattr(request.state, "api_key", None)
    if key is not None:
        key.check_gallery(name)
    gallery = await run_in_threadpool(services(request).galleries.create, name)
    return await run_in_threadpool(summary, name, gallery)


@router.get("/{name}", summary="Statistics of a gallery")
async def gallery_stats(request: Request, name: str) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    stats = await run_in_threadpool(gallery.stats)
    stats.pop("location", None)  # the server's file path is none of the client's business
    return {**await run_in_threadpool(summary, name, gallery), "stats": stats}


async def _enrolment_faces(request: Request, images: list[UploadFile] | None,
                           select: str | None) -> list[EnrolmentFace]:
    """Each image's face (multipart uploads or base64 in JSON), prepared in an inference worker by
    the library's enrolment path."""
    chosen = parse_select(select) if select else None
    images_data = await image_inputs(request, images, "images")
    sources = [image.filename for image in images] if images else [None] * len(images_data)
    return [await services(request).pool.run(worker.enrolment_face, data, chosen, None, source)
            for data, source in zip(images_data, sources)]


async def _enrolment_fields(request: Request, identity_id: str | None, display_name: str | None,
                            metadata: str | None) -> tuple[str, str | None, dict[str, Any]]:
    """Id, display name and metadata from the multipart form, else from the JSON body."""
    if identity_id is not None:
        return check_new_identity_id(identity_id), display_name, _json_object(metadata)
    body = await json_body(request)
    if "id" not in body:
        raise RequestValidationError([{"type": "missing", "loc": ("body", "id"), "msg": "Field required"}])
    display_name, meta = body.get("name"), body.get("metadata") or {}
    if display_name is not None and not isinstance(display_name, str):
        raise GalleryError("name must be a string")
    if not isinstance(meta, dict):
        raise GalleryError("metadata must be a JSON object")
    return check_new_identity_id(body["id"]), display_name, checked_metadata(meta)


@router.post("/{name}/identities", status_code=201, summary="Enrol an identity from one or more images")
async def enrol(request: Request, name: str, id: str | None = Form(None, description="Identity id (required)."),
                images: list[UploadFile] | None = ImageFile("One face per image (or JSON: base64 strings)."),
                display_name: str | None = Form(None, alias="name", description="Display name."),
                metadata: str | None = Form(None, description="JSON object stored with the identity."),
                select: str | None = Query(None, description="Face to use when an image has several "
                                                             "(default: refuse such images).")) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    identity_id, display_name, meta = await _enrolment_fields(request, id, display_name, metadata)
    faces = await _enrolment_faces(request, images, select)
    identity = await run_in_threadpool(lambda: gallery.enroll(identity_id, faces, name=display_name, metadata=meta))
    return identity.to_dict()


@router.post("/{name}/identities/{identity_id:path}/templates", status_code=201,
             summary="Add templates (images) to an enrolled identity")
async def add_templates(request: Request, name: str, identity_id: str,
                        images: list[UploadFile] | None = ImageFile("Images (or JSON: base64 strings)."),
                        select: str | None = Query(None)) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    faces = await _enrolment_faces(request, images, select)
    ids = await run_in_threadpool(lambda: gallery.add_templates(identity_id, faces))
    return {"id": identity_id, "template_ids": ids}


@router.get("/{name}/identities", summary="Enrolled identities, paged")
async def list_identities(request: Request, name: str, offset: int = Query(0, ge=0, le=MAX_INT),
                          limit: int = Query(100, ge=1, le=10_000)) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    identities = await run_in_threadpool(gallery.list, offset, limit)
    total = await run_in_threadpool(len, gallery)
    return {"total": total, "offset": offset, "limit": limit, "identities": [i.to_dict() for i in identities]}


@router.get("/{name}/identities/{identity_id:path}", summary="One identity with its templates")
async def get_identity(request: Request, name: str, identity_id: str) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    return (await run_in_threadpool(gallery.get, identity_id)).to_dict()


@router.patch("/{name}/identities/{identity_id:path}", summary="Change display name and/or metadata")
async def update_identity(request: Request, name: str, identity_id: str,
                          display_name: str | None = Body(None, alias="name"),
                          metadata: dict[str, Any] | None = Body(None),
                          merge: bool = Body(False, description="Merge metadata key by key instead of replacing.")
                          ) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    if metadata is not None:
        checked_metadata(metadata)
    identity = await run_in_threadpool(lambda: gallery.update(identity_id, name=display_name, metadata=metadata,
                                                              merge=merge))
    return identity.to_dict()


@router.delete("/{name}/identities/{identity_id:path}", summary="Erase an identity and all its templates")
async def remove_identity(request: Request, name: str, identity_id: str) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    await run_in_threadpool(gallery.remove, identity_id)
    return {"removed": identity_id}


@router.delete("/{name}/identities", summary="Erase the identities named by ?id= (repeatable), atomically")
async def remove_identities(request: Request, name: str,
                            ids: list[str] = Query(..., alias="id", description="Identity id; works for any id, "
                                                   "including '.' and '..', which no URL path can carry.")
                            ) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    await run_in_threadpool(gallery.remove, ids)
    return {"removed": ids}


@router.delete("/{name}/templates/{template_id}", summary="Erase one template")
async def remove_template(request: Request, name: str, template_id: int = PathParam(..., ge=0, le=MAX_INT)
                          ) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    await run_in_threadpool(gallery.remove_template, template_id)
    return {"removed_template": template_id}


@router.post("/{name}/search", summary="Who is this? Top-k identities and the open-set decision")
async def search(request: Request, name: str, image: UploadFile | None = ImageFile(), k: int = Query(5, ge=1, le=1000),
                 fmr: float | None = Query(None, gt=0, lt=1, description="Decision threshold at this FMR "
                                                                        f"(default {DEFAULT_FMR:g})."),
                 threshold: float | None = Query(None, ge=-1, le=1, description="Explicit similarity threshold."),
                 all_faces: bool = Query(False, description="Search every face, not only the selected one."),
                 select: str = SelectQuery) -> dict[str, Any]:
    gallery = await gallery_for(request, name)
    data = await image_input(request, image, "image")
    if all_faces:
        found = await services(request).pool.run(worker.analyze, data, True)
        faces = found.faces
        size: dict[str, Any] = {"width": found.width, "height": found.height}
    else:
        face, count = await services(request).pool.run(worker.embed_one, data, parse_select(select))
        faces, size = [face], {"faces_in_image": count}
    results = []
    if faces:
        vectors = np.stack([f.embedding for f in faces])
        recognizer = services(request).config.recognizer
        results = await run_in_threadpool(lambda: gallery.search_embeddings(vectors, k=k, fmr=fmr, threshold=threshold,
                                                                            model=recognizer))
        for face, result in zip(faces, results):
            result.face = face
    return {**size, "results": [r.to_dict() for r in results]}


@router.get("/{name}/export", summary="Download every identity with its templates (portable .jsonl.gz)")
async def export(request: Request, name: str) -> FileResponse:
    gallery = await gallery_for(request, name)
    folder = Path(tempfile.mkdtemp(prefix="facetrust-export-"))
    path = folder / f"{name}.jsonl.gz"
    await run_in_threadpool(gallery.export, path)

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    return FileResponse(path, media_type="application/gzip", filename=path.name, background=BackgroundTask(cleanup))


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    if len(text) > MAX_METADATA_CHARS:
        raise GalleryError(f"metadata is longer than {MAX_METADATA_CHARS:,} characters")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GalleryError(f"metadata is not valid JSON: {exc}") from None
    except RecursionError:
        raise GalleryError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels") from None
    if not isinstance(value, dict):
        raise GalleryError("metadata must be a JSON object")
    return checked_metadata(value)


def checked_metadata(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` if it is nested at most MAX_METADATA_DEPTH levels and not too long as JSON."""
    level, depth = [value], 1
    while level:  # breadth first, without recursion: a deep value must not exhaust the stack
        if depth > MAX_METADATA_DEPTH:
            raise GalleryError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
        depth += 1
    if len(json.dumps(value)) > MAX_METADATA_CHARS:
        raise GalleryError(f"metadata is longer than {MAX_METADATA_CHARS:,} characters as JSON")
    return value
