"""The subset of CompreFace's REST API that its official Python SDK (``compreface-sdk``) uses.

Recognition (subjects, examples, recognize, verify against an example), detection and
verification, authenticated by the ``x-api-key`` header, with CompreFace's paths,
parameters, answer shapes and error shape (``{"message", "code"}``). Mapping:

* a CompreFace *face collection* is a facetrust gallery: the one a key is scoped to when
  it is scoped to exactly one, else ``compreface_gallery`` from the config ("default");
* a *subject* is an identity id; an *example* (``image_id``) is a template id;
* ``similarity`` is the recognizer's cosine similarity (in [-1, 1]; CompreFace's is in
  [0, 1]); ``box.probability`` is the detector's score (an SVM margin for dlib-hog);
  ``det_prob_threshold`` is compared with that score.

CompreFace lets a subject exist without examples, a facetrust identity cannot: such
subjects (names only) are kept in ``<gallery>.subjects.json`` beside the gallery (in the
shared database with ``database_url``) until their first example arrives. Renaming a
subject re-enrols its templates under the new id, so their ``image_id`` values change
(CompreFace keeps them).
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import APIRouter, Body, Depends, Query, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from facetrust.attributes.check import compreface_plugins
from facetrust.errors import DuplicateIdentityError, FaceNotFoundError, IdentityNotFoundError
from facetrust.gallery import Gallery, NewTemplate
from facetrust.gallery.enrolment import EnrolmentFace
from facetrust.gallery.identity_id import check_new_identity_id
from facetrust.server import worker
from facetrust.server.api import ImageFile, api_key_header, image_input, services
from facetrust.server.errors import ConflictError, NotFoundError
from facetrust.types import Face

router = APIRouter(prefix="/api/v1", dependencies=[Depends(api_key_header)], tags=["CompreFace-compatible"])

NO_FACE = "No face is found in the given image"


# --------------------------------------------------------------------------- subjects without examples

class EmptySubjects:
    """Names of subjects that have no example yet, in a small JSON file written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def names(self) -> set[str]:
        try:
            return set(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return set()

    def _write(self, names: set[str]) -> None:
        handle, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(sorted(names), stream)
        os.replace(tmp, self.path)

    def change(self, add: set[str] = frozenset(), remove: set[str] = frozenset(), clear: bool = False) -> None:
        with self._lock:
            names = set() if clear else self.names()
            updated = (names - set(remove)) | set(add)
            if updated != names or clear:
                self._write(updated)


class Collection:
    """A gallery seen as a CompreFace face collection."""

    def __init__(self, gallery: Gallery, empty: Any) -> None:
        self.gallery = gallery
        self.empty = empty

    def subjects(self) -> list[str]:
        enrolled = {identity.id for identity in self.gallery.list()}
        return sorted(enrolled | self.empty.names())

    def exists(self, subject: str) -> bool:
        return subject in self.gallery or subject in self.empty.names()

    def template(self, image_id: str) -> tuple[str, int, np.ndarray, int]:
        """(subject, template id, vector, templates of that subject) of an example.
        The gallery API has no lookup by template id, so this walks its export iterator."""
        try:
            wanted = int(image_id)
        except ValueError:
            raise NotFoundError(f"image {image_id!r} not found") from None
        for identity, vectors in self.gallery.backend.iter_export():
            for template, vector in zip(identity.templates, vectors):
                if template.id == wanted:
                    return identity.id, template.id, vector, len(identity.templates)
        raise NotFoundError(f"image {image_id!r} not found")

    def templates(self, subject: str) -> list[NewTemplate]:
        """A subject's templates with their vectors and records (to move them to another id)."""
        for identity, vectors in self.gallery.backend.iter_export():
            if identity.id == subject:
                return [NewTemplate(v, t.quality, t.source, t.quality_method, t.detector, t.box)
                        for t, v in zip(identity.templates, vectors)]
        raise IdentityNotFoundError(f"subject {subject!r} not found")

    def add_example(self, subject: str, face: EnrolmentFace) -> int:
        try:
            if subject not in self.gallery:
                template_id = self.gallery.enroll(subject, [face]).templates[0].id
                self.empty.change(remove={subject})
                return template_id
        except DuplicateIdentityError:
            pass  # enrolled by a concurrent request: add to it
        return self.gallery.add_templates(subject, [face])[0]

    def remove_subject(self, subject: str, keep_name: bool) -> int:
        """Erase a subject's examples; returns how many. ``keep_name`` keeps the subject itself."""
        count = len(self.gallery.get(subject).templates) if subject in self.gallery else 0
        if count:
            self.gallery.remove(subject)
        if keep_name:
            self.empty.change(add={subject})
        else:
            self.empty.change(remove={subject})
        return count

    def rename(self, old: str, new: str, recognizer: str) -> None:
        if old == new:
            return
        if old in self.gallery:
            identity = self.gallery.get(old)
            templates = self.templates(old)
            if new in self.gallery:  # CompreFace merges into the existing subject
                self.gallery.add_templates(new, embeddings=templates, model=recognizer)
            else:
                self.gallery.enroll(new, embeddings=templates, name=identity.name, metadata=identity.metadata,
                                    model=recognizer)
            self.gallery.remove(old)
            self.empty.change(remove={old, new})
        elif new in self.gallery:
            self.empty.change(remove={old})
        else:
            self.empty.change(add={new}, remove={old})


async def collection(request: Request) -> Collection:
    key = getattr(request.state, "api_key", None)
    config = services(request).config
    name = key.galleries[0] if key is not None and key.galleries and len(key.galleries) == 1 \
        else config.compreface_gallery
    if key is not None:
        key.check_gallery(name)
    galleries = services(request).galleries
    gallery = await run_in_threadpool(galleries.get_or_create, name)
    return Collection(gallery, galleries.empty_subjects(name))


# --------------------------------------------------------------------------- answer shapes

def _plugins(face_plugins: str) -> set[str]:
    return {p.strip() for p in face_plugins.split(",") if p.strip()}


def _keep(found: worker.ImageFaces, limit: int, det_prob_threshold: float | None) -> list[Face]:
    faces = [f for f in found.faces if det_prob_threshold is None or f.score >= det_prob_threshold]
    return faces[:limit] if limit > 0 else faces


def _face_json(face: Face, found: worker.ImageFaces, plugins: set[str], status: bool, elapsed_ms: float,
               ) -> dict[str, Any]:
    x1, y1, x2, y2 = face.box
    clip_x = lambda v: int(round(min(max(v, 0.0), found.width)))  # noqa: E731
    clip_y = lambda v: int(round(min(max(v, 0.0), found.height)))  # noqa: E731
    item: dict[str, Any] = {"box": {"probability": round(float(face.score), 5), "x_max": clip_x(x2),
                                    "y_max": clip_y(y2), "x_min": clip_x(x1), "y_min": clip_y(y1)}}
    if "landmarks" in plugins:
        item["landmarks"] = [[int(round(float(x))), int(round(float(y)))] for x, y in face.landmarks]
    if "calculator" in plugins and face.embedding is not None:
        item["embedding"] = [float(v) for v in face.embedding]
    for name, value in face.extras.items():  # facetrust extras (quality, liveness …) requested by name
        if name in plugins:
            item[name] = value
    item.update(compreface_plugins(face.extras.get("attributes"), plugins))  # age, gender: CompreFace's shapes
    if status:
        item["execution_time"] = {"total": round(elapsed_ms, 1)}
    return item


def _versions(request: Request) -> dict[str, str]:
    config = services(request).config
    return {"detector": f"facetrust.{config.detector}", "calculator": f"facetrust.{config.recognizer}"}


async def _faces(request: Request, upload: UploadFile | None, field: str, embed: bool, limit: int,
                 det_prob_threshold: float | None) -> tuple[worker.ImageFaces, list[Face], float]:
    """Faces of an upload (CompreFace answers 400 / code 28 when there is none) and the time taken."""
    start = time.perf_counter()
    found = await services(request).pool.run(worker.analyze, await image_input(request, upload, field), embed)
    faces = _keep(found, limit, det_prob_threshold)
    if not faces:
        raise FaceNotFoundError(NO_FACE)
    return found, faces, (time.perf_counter() - start) * 1000.0


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return round(float(np.dot(a, b)), 5)


LimitQuery = Query(0, ge=0, description="Faces to process, biggest first; 0 = all.")
ThresholdQuery = Query(None, ge=0, description="Minimum detector score of a face.")
PluginsQuery = Query("", description="Comma-separated: landmarks, calculator (embedding), age and gender (with the "
                     "attributes check enabled), or a facetrust extra.")
StatusQuery = Query(False, description="Include execution_time and plugins_versions.")


# --------------------------------------------------------------------------- subjects

@router.post("/recognition/subjects", summary="Add a subject (without examples)")
async def add_subject(request: Request, subject: str = Body(..., embed=True)) -> dict[str, Any]:
    faces = await collection(request)

    def add() -> None:
        check_new_identity_id(subject)
        if faces.exists(subject):
            raise ConflictError(f"subject {subject!r} already exists")
        faces.empty.change(add={subject})

    await run_in_threadpool(add)
    return {"subject": subject}


@router.get("/recognition/subjects", summary="List subjects")
async def list_subjects(request: Request) -> dict[str, Any]:
    faces = await collection(request)
    return {"subjects": await run_in_threadpool(faces.subjects)}


@router.put("/recognition/subjects/{subject:path}", summary="Rename a subject (merging into an existing one)")
async def rename_subject(request: Request, subject: str, new_name: str = Body(..., embed=True, alias="subject"),
                         ) -> dict[str, Any]:
    faces = await collection(request)
    recognizer = services(request).config.recognizer

    def rename() -> None:
        if not faces.exists(subject):
            raise IdentityNotFoundError(f"subject {subject!r} not found")
        if not faces.exists(new_name):
            check_new_identity_id(new_name)
        faces.rename(subject, new_name, recognizer)

    await run_in_threadpool(rename)
    return {"updated": True}


@router.delete("/recognition/subjects/{subject:path}", summary="Delete a subject and its examples")
async def delete_subject(request: Request, subject: str) -> dict[str, Any]:
    faces = await collection(request)

    def delete() -> None:
        if not faces.exists(subject):
            raise IdentityNotFoundError(f"subject {subject!r} not found")
        faces.remove_subject(subject, keep_name=False)

    await run_in_threadpool(delete)
    return {"subject": subject}


@router.delete("/recognition/subjects", summary="Delete every subject and example")
async def delete_all_subjects(request: Request) -> dict[str, Any]:
    faces = await collection(request)

    def delete_all() -> int:
        subjects = faces.subjects()
        enrolled = [s for s in subjects if s in faces.gallery]
        if enrolled:
            faces.gallery.remove(enrolled)
        faces.empty.change(clear=True)
        return len(subjects)

    return {"deleted": await run_in_threadpool(delete_all)}


# --------------------------------------------------------------------------- examples

@router.post("/recognition/faces", summary="Add an example (one face) of a subject")
async def add_example(request: Request, subject: str = Query(...), det_prob_threshold: float | None = ThresholdQuery,
                      file: UploadFile | None = ImageFile()) -> dict[str, Any]:
    faces = await collection(request)
    face = await services(request).pool.run(worker.enrolment_face, await image_input(request, file, "file"), None,
                                            det_prob_threshold, file.filename if file else None)
    template_id = await run_in_threadpool(faces.add_example, subject, face)
    return {"image_id": str(template_id), "subject": subject}


@router.get("/recognition/faces", summary="List examples, paged")
async def list_examples(request: Request, page: int = Query(0, ge=0), size: int = Query(20, ge=1),
                        subject: str | None = Query(None)) -> dict[str, Any]:
    faces = await collection(request)

    def examples() -> list[dict[str, str]]:
        if subject:
            identities = [faces.gallery.get(subject)] if subject in faces.gallery else []
        else:
            identities = faces.gallery.list()
        return [{"image_id": str(t.id), "subject": i.id} for i in identities for t in i.templates]

    every = await run_in_threadpool(examples)
    return {"faces": every[page * size:(page + 1) * size], "page_number": page, "page_size": size,
            "total_pages": math.ceil(len(every) / size), "total_elements": len(every)}


@router.delete("/recognition/faces", summary="Delete all examples of a subject (or of every subject)")
async def delete_examples(request: Request, subject: str | None = Query(None)) -> dict[str, Any]:
    faces = await collection(request)

    def delete() -> int:
        subjects = [subject] if subject else [i.id for i in faces.gallery.list()]
        return sum(faces.remove_subject(s, keep_name=True) for s in subjects if s in faces.gallery)

    return {"deleted": await run_in_threadpool(delete)}


@router.delete("/recognition/faces/{image_id}", summary="Delete one example")
async def delete_example(request: Request, image_id: str) -> dict[str, Any]:
    faces = await collection(request)

    def delete() -> str:
        subject, template_id, _, count = faces.template(image_id)
        if count > 1:
            faces.gallery.remove_template(template_id)
        else:  # a facetrust identity keeps at least one template; the subject lives on without it
            faces.remove_subject(subject, keep_name=True)
        return subject

    return {"image_id": image_id, "subject": await run_in_threadpool(delete)}


@router.post("/recognition/faces/{image_id}/verify", summary="Compare the faces of an image with one example")
async def verify_example(request: Request, image_id: str, file: UploadFile | None = ImageFile(),
                         limit: int = LimitQuery,
                         det_prob_threshold: float | None = ThresholdQuery, face_plugins: str = PluginsQuery,
                         status: bool = StatusQuery) -> dict[str, Any]:
    faces = await collection(request)
    _, _, reference, _ = await run_in_threadpool(faces.template, image_id)
    found, kept, elapsed = await _faces(request, file, "file", True, limit, det_prob_threshold)
    plugins = _plugins(face_plugins)
    result = [{**_face_json(f, found, plugins, status, elapsed), "similarity": _similarity(f.embedding, reference)}
              for f in kept]
    return {"result": result, **({"plugins_versions": _versions(request)} if status else {})}


# --------------------------------------------------------------------------- recognition, detection, verification

@router.post("/recognition/recognize", summary="Recognize every face of an image")
async def recognize(request: Request, file: UploadFile | None = ImageFile(), limit: int = LimitQuery,
                    prediction_count: int = Query(1, ge=0, le=1000, description="Subjects per face, most similar "
                                                                                "first."),
                    det_prob_threshold: float | None = ThresholdQuery, face_plugins: str = PluginsQuery,
                    status: bool = StatusQuery) -> dict[str, Any]:
    faces = await collection(request)
    found, kept, elapsed = await _faces(request, file, "file", True, limit, det_prob_threshold)
    recognizer = services(request).config.recognizer
    vectors = np.stack([f.embedding for f in kept])
    results = await run_in_threadpool(lambda: faces.gallery.search_embeddings(
        vectors, k=max(1, prediction_count), model=recognizer))
    plugins = _plugins(face_plugins)
    out = []
    for face, found_subjects in zip(kept, results):
        item = _face_json(face, found, plugins, status, elapsed)
        item["subjects"] = [{"subject": m.identity_id, "similarity": round(m.score, 5)}
                            for m in found_subjects.matches]
        out.append(item)
    return {"result": out, **({"plugins_versions": _versions(request)} if status else {})}


@router.post("/detection/detect", summary="Detect every face of an image")
async def detect(request: Request, file: UploadFile | None = ImageFile(), limit: int = LimitQuery,
                 det_prob_threshold: float | None = ThresholdQuery, face_plugins: str = PluginsQuery,
                 status: bool = StatusQuery) -> dict[str, Any]:
    plugins = _plugins(face_plugins)
    found, kept, elapsed = await _faces(request, file, "file", "calculator" in plugins, limit, det_prob_threshold)
    return {"result": [_face_json(f, found, plugins, status, elapsed) for f in kept],
            **({"plugins_versions": _versions(request)} if status else {})}


@router.post("/verification/verify", summary="Compare the face of a source image with the faces of a target image")
async def verify(request: Request, source_image: UploadFile | None = ImageFile(),
                 target_image: UploadFile | None = ImageFile(),
                 limit: int = LimitQuery, det_prob_threshold: float | None = ThresholdQuery,
                 face_plugins: str = PluginsQuery, status: bool = StatusQuery) -> dict[str, Any]:
    plugins = _plugins(face_plugins)
    (source, source_faces, elapsed_a), (target, target_faces, elapsed_b) = await asyncio.gather(
        _faces(request, source_image, "source_image", True, 1, det_prob_threshold),
        _faces(request, target_image, "target_image", True, limit, det_prob_threshold))
    reference = source_faces[0]  # the biggest face of the source image
    matches = [{**_face_json(f, target, plugins, status, elapsed_b),
                "similarity": _similarity(f.embedding, reference.embedding)} for f in target_faces]
    item: dict[str, Any] = {"source_image_face": _face_json(reference, source, plugins, status, elapsed_a),
                            "face_matches": matches}
    if status:
        item["plugins_versions"] = _versions(request)
    return {"result": [item]}
