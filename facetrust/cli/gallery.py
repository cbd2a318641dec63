"""``facetrust gallery``: create, enrol, search, list, remove, export and import identities.

GALLERY is a gallery file (embedded SQLite + FAISS backend) or a ``postgresql://`` URL.
An encrypted gallery is opened with the key in ``$FACETRUST_ENCRYPTION_KEY`` (hex) or the key
file named by ``$FACETRUST_ENCRYPTION_KEY_FILE`` (docs/privacy.md).
"""
from __future__ import annotations

import json
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from facetrust.cli.common import PresetOpt, fail, parse_options, print_json, user_errors
from facetrust.defaults import DEFAULT_FMR

app = typer.Typer(help="1:N identification: enrol identities, search faces, erase, export.", no_args_is_help=True)

GalleryArg = typer.Argument(..., help="Gallery file, or a postgresql:// URL.")
BackendOpt = typer.Option(None, "--backend-opt", help="Backend option KEY=VALUE, e.g. schema=staff (repeatable).")
DetectorOpt = typer.Option(None, "--detector", "-d", help="Face detector for images (default: that of the gallery's preset).")
#: Enrol / search use the gallery's own recognizer unless asked for another (which must match it).
UsePresetOpt = typer.Option(None, "--preset", help="Preset to use; its recognizer must be the gallery's "
                                                   "(default: the preset of the gallery's recognizer).")
UseRecognizerOpt = typer.Option(None, "--recognizer", "-r", help="Recognizer to use; must be the gallery's (default: it).")
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON on stdout.")
SelectOpt = typer.Option(None, "--select", help="Face to use when an image has several: largest, best, center, "
                                                 "or an index (default for enrolment: refuse such images).")


def _select(value: Optional[str]) -> Any:
    return int(value) if value is not None and value.lstrip("-").isdigit() else value


def _open(gallery: str, backend_opt: Optional[list[str]], detector: Optional[str] = None, readonly: bool = False,
          preset: Optional[str] = None, recognizer: Optional[str] = None, **gallery_options: Any) -> Any:
    """The gallery, with an analyzer of the asked preset / detector / recognizer if any (a recognizer
    other than the gallery's is a ModelMismatchError naming the preset to use); else the gallery's own."""
    from facetrust.gallery import Gallery

    opened = Gallery.open(gallery, readonly=readonly, **gallery_options, **parse_options(backend_opt))
    if detector is not None or preset is not None or recognizer is not None:
        from facetrust.analyzer import FaceAnalyzer

        if preset is None and recognizer is None:
            recognizer = opened.model.name
        try:
            opened.analyzer = FaceAnalyzer(preset=preset, detector=detector, recognizer=recognizer)
        except BaseException:
            opened.close()
            raise
    return opened


def _metadata(text: Optional[str]) -> Optional[dict[str, Any]]:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--metadata is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail("--metadata must be a JSON object, e.g. '{\"team\": \"a\"}'")
    return value


@contextmanager
def _gallery_warnings() -> Iterator[None]:
    """Print each gallery warning (low quality, erasure delayed, damaged template, index rebuilt) as one
    ``warning: …`` line instead of Python's warning format."""
    from facetrust.gallery import DamagedTemplateWarning, ErasureWarning, GalleryIndexWarning, LowQualityWarning
    from facetrust.privacy import KeyFilePermissionWarning

    ours = (DamagedTemplateWarning, ErasureWarning, GalleryIndexWarning, LowQualityWarning, KeyFilePermissionWarning)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:  # type: ignore[assignment]
            for category in ours:
                warnings.simplefilter("always", category)
            yield
    finally:
        for warning in caught:
            if issubclass(warning.category, ours):
                typer.echo(f"warning: {warning.message}", err=True)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


@app.command()
def create(
    gallery: str = GalleryArg,
    preset: Optional[str] = PresetOpt,
    recognizer: Optional[str] = typer.Option(None, "--recognizer", "-r", help="Recognizer the gallery is tied to "
                                                                              "(default: the preset's)."),
    index: str = typer.Option("auto", "--index", help="Index kind: auto, flat (exact), pq, hnsw, ivf or ivfpq (approximate)."),
    approximate_above: int = typer.Option(50_000, "--approximate-above", help="auto: approximate from this many templates."),
    nlist: Optional[int] = typer.Option(None, "--nlist", help="ivf/ivfpq lists (default by size, docs/gallery.md)."),
    nprobe: Optional[int] = typer.Option(None, "--nprobe", help="ivf/ivfpq lists visited per query (default by nlist)."),
    hnsw_m: Optional[int] = typer.Option(None, "--hnsw-m", help="HNSW links per node (default 32)."),
    ef_construction: Optional[int] = typer.Option(None, "--ef-construction", help="HNSW build list (default 40)."),
    ef_search: Optional[int] = typer.Option(None, "--ef-search", help="HNSW search candidate list (docs/gallery.md)."),
    pq_m: Optional[int] = typer.Option(None, "--pq-m", help="PQ sub-quantisers (default dim/4)."),
    rescore: Optional[int] = typer.Option(None, "--rescore", help="pq/ivf/ivfpq: candidates re-scored exactly per query."),
    refine: Optional[int] = typer.Option(None, "--refine", help="ivfpq: candidates re-ranked by the 8-bit codes in memory."),
    backend_opt: Optional[list[str]] = BackendOpt,
    protection: Optional[str] = typer.Option(None, "--protection", help="Store only protected templates: slerp or biohash (docs/privacy.md)."),
    key: Optional[Path] = typer.Option(None, "--key", help="Protection key file (default: $FACETRUST_PRIVACY_KEY, which every later command reads)."),
    encrypt: bool = typer.Option(False, "--encrypt", help="Encrypt the stored templates and the index (AES-256-GCM) with the key of --encryption-key, $FACETRUST_ENCRYPTION_KEY or $FACETRUST_ENCRYPTION_KEY_FILE."),
    encryption_key: Optional[Path] = typer.Option(None, "--encryption-key", help="Encryption key file (implies --encrypt; later commands read $FACETRUST_ENCRYPTION_KEY_FILE)."),
) -> None:
    """Create an empty gallery."""
    from facetrust.gallery import Gallery, IndexConfig
    from facetrust.presets import resolve

    with user_errors(), _gallery_warnings():
        config = IndexConfig(index, approximate_above, nlist, nprobe, hnsw_m, ef_construction,  # type: ignore[arg-type]
                             ef_search, pq_m, rescore, refine)
        recognizer = resolve(preset, None, recognizer)[1]
        with Gallery.create(gallery, recognizer, index=config, protection=protection, key=key, encrypt=encrypt,
                            encryption_key=encryption_key, **parse_options(backend_opt)) as created:
            encrypted = f", encrypted with key {created.cipher.fingerprint}" if created.cipher else ""
            typer.echo(f"created {gallery} for {created.model}{encrypted}")


@app.command()
def enroll(
    gallery: str = GalleryArg,
    images: Optional[list[str]] = typer.Argument(None, help="Images of the identity (files, folders, globs)."),
    identity: Optional[str] = typer.Option(None, "--id", help="Identity id (new)."),
    name: Optional[str] = typer.Option(None, "--name", help="Display name."),
    metadata: Optional[str] = typer.Option(None, "--metadata", help="JSON object stored with the identity."),
    add: bool = typer.Option(False, "--add", help="Add the images as templates of an enrolled identity."),
    folder: Optional[Path] = typer.Option(None, "--folder", help="Enrol every sub-folder as one identity "
                                                                 "(resumable: enrolled ids are skipped)."),
    embeddings: Optional[Path] = typer.Option(None, "--embeddings", help=".npy file of embeddings (one per row)."),
    select: Optional[str] = SelectOpt,
    quality: Optional[str] = typer.Option(None, "--quality", help="Faces below the quality threshold: reject "
                                          "(refuse the images), warn (enrol with a warning; default) or off."),
    quality_method: Optional[str] = typer.Option(None, "--quality-method", help="Quality method: learned, stability "
                                                 "or explainable (default: learned where calibrated for the "
                                                 "gallery's recognizer, else explainable)."),
    workers: int = typer.Option(1, "--workers", "-w", help="Worker processes for --folder."),
    preset: Optional[str] = UsePresetOpt, recognizer: Optional[str] = UseRecognizerOpt,
    detector: Optional[str] = DetectorOpt, backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt,
) -> None:
    """Enrol one identity (--id ID IMAGE…) or a folder of identities (--folder DIR)."""
    from facetrust.io import expand_inputs

    gallery_options: dict[str, Any] = {"quality_method": quality_method}
    if quality is not None:
        gallery_options["quality_policy"] = quality
    with user_errors(), _gallery_warnings():
        if folder is not None:
            if identity or images or embeddings:
                fail("--folder enrols sub-folders by name; do not combine it with --id, images or --embeddings")
            with _open(gallery, backend_opt, detector, preset=preset, recognizer=recognizer,
                       **gallery_options) as opened:
                report = opened.enroll_folder(folder, select=_select(select), workers=workers, progress=not as_json)
            if as_json:
                print_json(report.to_dict())
            else:
                for path, reason in report.failed.items():
                    typer.echo(f"skipped image {path}: {reason}", err=True)
                typer.echo(f"enrolled {len(report.enrolled)} identities, {len(report.skipped)} already enrolled, "
                           f"{len(report.failed)} image(s) without a usable face or below the quality threshold")
            return
        if not identity:
            fail("give --id ID with images or --embeddings (or --folder DIR)")
        import numpy as np

        vectors = None
        if embeddings is not None:
            try:
                vectors = np.load(embeddings, allow_pickle=False)
            except (OSError, ValueError) as exc:
                fail(f"cannot read {embeddings}: {exc}")
        paths = expand_inputs(images) if images else []
        with _open(gallery, backend_opt, detector, preset=preset, recognizer=recognizer, **gallery_options) as opened:
            if add:
                ids = opened.add_templates(identity, paths, embeddings=vectors, select=_select(select))
                record = opened.get(identity).to_dict()
                new = [t for t in record["templates"] if t["id"] in ids]
                message = f"added {len(ids)} template(s) to {identity}"
            else:
                record = opened.enroll(identity, paths, embeddings=vectors, name=name, metadata=_metadata(metadata),
                                       select=_select(select)).to_dict()
                new = record["templates"]
                message = f"enrolled {identity} with {len(new)} template(s)"
            scores = [f"{t['quality']:.1f}" for t in new if t["quality"] is not None]
            if scores:
                message += f", quality {', '.join(scores)} ({opened.quality_assessor.name})"
        print_json(record) if as_json else typer.echo(message)


@app.command()
def search(
    gallery: str = GalleryArg,
    images: list[str] = typer.Argument(..., help="Images to identify (files, folders, globs)."),
    k: int = typer.Option(5, "-k", help="Identities to return per face."),
    fmr: Optional[float] = typer.Option(None, "--fmr", help=f"False-match rate of the decision threshold ({DEFAULT_FMR:g})."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Similarity threshold (instead of --fmr)."),
    all_faces: bool = typer.Option(False, "--all-faces", help="Identify every face, not only the largest."),
    select: str = typer.Option("largest", "--select", help="Face to identify: largest, best, center or an index."),
    fusion: str = typer.Option("max", "--fusion", help="Identity score: max (best template) or quality-mean "
                                                       "(quality-weighted mean template)."),
    preset: Optional[str] = UsePresetOpt, recognizer: Optional[str] = UseRecognizerOpt,
    detector: Optional[str] = DetectorOpt, backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt,
) -> None:
    """Who is this? Top-k identities per face and the decision against the threshold."""
    from facetrust.errors import FacetrustError
    from facetrust.io import expand_inputs

    with user_errors(), _gallery_warnings():
        records, failed = [], 0
        paths = expand_inputs(images)
        with _open(gallery, backend_opt, detector, readonly=True, preset=preset, recognizer=recognizer) as opened:
            for path in _searching(paths, opened):
                try:
                    if all_faces:
                        results = opened.search_faces(path, k=k, fmr=fmr, threshold=threshold, fusion=fusion)
                    else:
                        results = [opened.search(path, k=k, fmr=fmr, threshold=threshold, select=_select(select),
                                                 fusion=fusion)]
                except FacetrustError as exc:
                    failed += 1
                    typer.echo(f"error: {path}: {exc}", err=True)
                    records.append({"path": str(path), "error": str(exc)})
                    continue
                records.append({"path": str(path), "results": [r.to_dict() for r in results]})
        if as_json:
            print_json(records)
        else:
            for record in records:
                for result in record.get("results", []):
                    best = result["matches"][0] if result["matches"] else None
                    if result["identity"]:
                        verdict = f"{result['identity']} (score {best['score']:.4f})"
                    else:
                        verdict = (f"not enrolled (best {best['id']} {best['score']:.4f}" if best else "not enrolled (")
                        verdict += f" < threshold {result['threshold']:.4f})"
                    typer.echo(f"{record['path']}: {verdict}")
                    if len(result["matches"]) > 1:  # the top k, not only the best
                        for rank, match in enumerate(result["matches"], 1):
                            name = f"  {match['name']}" if match["name"] else ""
                            typer.echo(f"  {rank}. {match['id']}  {match['score']:.4f}{name}")
        if failed:
            raise typer.Exit(1)


def _searching(paths: list[Path], opened: Any) -> Iterator[Path]:
    """``paths``, with progress on stderr (loading the models takes seconds, each photo about one
    more on a CPU) when several photos are searched or stderr is a terminal."""
    import sys

    if len(paths) < 2 and not sys.stderr.isatty():
        yield from paths
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True)) as bar:
        task = bar.add_task("loading models", total=len(paths))
        opened.analyzer.load_models()
        bar.update(task, description="searching")
        for path in paths:
            yield path
            bar.advance(task)


@app.command()
def remove(
    gallery: str = GalleryArg,
    identities: Optional[list[str]] = typer.Argument(None, help="Identities to erase."),
    id_options: Optional[list[str]] = typer.Option(None, "--id", help="Identity to erase (repeatable; same as "
                                                                       "giving it after GALLERY)."),
    templates: Optional[list[int]] = typer.Option(None, "--template", help="Template id to erase (repeatable)."),
    backend_opt: Optional[list[str]] = BackendOpt,
) -> None:
    """Erase identities (with all their templates) or single templates, from the database file and the index."""
    with user_errors(), _gallery_warnings():
        ids = [*(identities or []), *(id_options or [])]
        if not ids and not templates:
            fail("give the identity ids to erase (gallery remove GALLERY ID…) or --template TEMPLATE_ID")
        done = []
        with _open(gallery, backend_opt) as opened:
            if ids:
                removed = opened.remove(ids)
                done.append(f"{_count(removed.identities, 'identity', 'identities')} with "
                            f"{_count(removed.templates, 'template', 'templates')}")
            for template in templates or []:
                opened.remove_template(template)
            if templates:
                done.append(_count(len(templates), "single template", "single templates"))
        typer.echo(f"removed {' and '.join(done)}")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@app.command("list")
def list_(
    gallery: str = GalleryArg,
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many identities."),
    offset: int = typer.Option(0, "--offset", help="Skip this many identities."),
    backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt,
) -> None:
    """Enrolled identities in enrolment order."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt, readonly=True) as opened:
            identities = [i.to_dict() for i in opened.list(offset, limit)]
        if as_json:
            print_json(identities)
        else:
            for item in identities:
                typer.echo(f"{item['id']}\t{item['name'] or ''}\t{len(item['templates'])} template(s)\t"
                           f"{json.dumps(item['metadata'])}")


@app.command()
def get(gallery: str = GalleryArg, identity: str = typer.Argument(..., help="Identity id."),
        backend_opt: Optional[list[str]] = BackendOpt) -> None:
    """One identity as JSON (templates without their vectors)."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt, readonly=True) as opened:
            print_json(opened.get(identity).to_dict())


@app.command()
def update(
    gallery: str = GalleryArg,
    identity: str = typer.Option(..., "--id", help="Identity id."),
    name: Optional[str] = typer.Option(None, "--name", help="New display name."),
    metadata: Optional[str] = typer.Option(None, "--metadata", help="New metadata (JSON object)."),
    merge: bool = typer.Option(False, "--merge", help="Merge --metadata into the stored keys instead of replacing."),
    backend_opt: Optional[list[str]] = BackendOpt,
) -> None:
    """Change an identity's display name or metadata."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt) as opened:
            print_json(opened.update(identity, name=name, metadata=_metadata(metadata), merge=merge).to_dict())


@app.command()
def export(gallery: str = GalleryArg, file: Path = typer.Argument(..., help="Export file (.jsonl or .jsonl.gz)."),
           backend_opt: Optional[list[str]] = BackendOpt) -> None:
    """Write all identities and templates to a portable file."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt, readonly=True) as opened:
            count = opened.export(file, progress=True)
            encrypted = f" (encrypted with key {opened.cipher.fingerprint})" if opened.cipher else ""
        typer.echo(f"exported {count} identities to {file}{encrypted}")


@app.command("import")
def import_(
    gallery: str = GalleryArg, file: Path = typer.Argument(..., help="Export file to import."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Keep enrolled ids (resume an import)."),
    export_key: Optional[Path] = typer.Option(None, "--export-key", help="Key file of an encrypted export (default: the gallery's encryption key)."),
    backend_opt: Optional[list[str]] = BackendOpt,
) -> None:
    """Import an export file; a gallery file that does not exist yet is created for its model
    (encrypted, with the export's key, when the export is encrypted)."""
    from facetrust.gallery import Gallery, backend_for

    with user_errors(), _gallery_warnings():
        if backend_for(gallery) == "sqlite" and not Path(gallery).exists():
            with Gallery.from_export(gallery, file, export_key=export_key, progress=True,
                                     **parse_options(backend_opt)) as opened:
                count = len(opened)
        else:
            with _open(gallery, backend_opt) as opened:
                count = opened.import_file(file, on_duplicate="skip" if skip_existing else "error", progress=True,
                                           encryption_key=export_key)
        typer.echo(f"imported {count} identities into {gallery}")


@app.command("import-parquet")
def import_parquet(
    gallery: str = GalleryArg,
    parquet_dir: Path = typer.Argument(..., help="Output folder of `facetrust batch run`."),
    identity_column: Optional[str] = typer.Option(None, "--identity-column", help="Column holding each face's identity "
                                                  "(e.g. a label column of the batch's manifest)."),
    identity_from: Optional[str] = typer.Option(None, "--identity-from", help="parent: the identity is the name of "
                                                "the folder holding each source image."),
    select: str = typer.Option("single", "--select", help="Inputs with several faces: single (skip them) or "
                                                          "largest (enrol face 0)."),
    backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt,
) -> None:
    """Bulk enrolment of a batch job's faces (one template per input); identities already enrolled are skipped."""
    from facetrust.batch import import_parquet as import_faces

    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt) as opened:
            report = import_faces(opened, parquet_dir, identity_column=identity_column,
                                  identity_from=identity_from, select=select, progress=not as_json)  # type: ignore[arg-type]
        if as_json:
            print_json(report.to_dict())
        else:
            left = ", ".join(f"{n} {reason}" for reason, n in sorted(report.left_out.items())) or "none"
            typer.echo(f"enrolled {report.enrolled} identities with {report.templates} templates into {gallery}, "
                       f"{report.skipped} already enrolled; inputs left out: {left}")


@app.command("rotate-key")
def rotate_key(
    gallery: str = GalleryArg,
    old_key: Optional[Path] = typer.Option(None, "--old-key", help="Current key file (default: $FACETRUST_ENCRYPTION_KEY / $FACETRUST_ENCRYPTION_KEY_FILE)."),
    new_key: Path = typer.Option(..., "--new-key", help="New key file (facetrust privacy keygen)."),
    backend_opt: Optional[list[str]] = BackendOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Re-encrypt an encrypted gallery under a new key (all or nothing), then verify it. Stop the
    programs that have the gallery open first."""
    from facetrust.privacy.encryption import rotate_key as rotate

    with user_errors(), _gallery_warnings():
        report = rotate(gallery, old_key, new_key, progress=True, **parse_options(backend_opt))
        if as_json:
            print_json(report.to_dict())
        else:
            typer.echo(f"re-encrypted {report.templates} templates of {gallery}: key {report.old_fingerprint} -> "
                       f"{report.new_fingerprint}, verified")


@app.command()
def stats(gallery: str = GalleryArg, backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt) -> None:
    """Counts, model, index kind and file sizes."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt, readonly=True) as opened:
            data = opened.stats()
        if as_json:
            print_json(data)
        else:
            for key, value in data.items():
                typer.echo(f"{key}: {value}")


@app.command()
def check(
    gallery: str = GalleryArg,
    repair: bool = typer.Option(False, "--repair", help="Rebuild the index from the database first."),
    backend_opt: Optional[list[str]] = BackendOpt, as_json: bool = JsonOpt,
) -> None:
    """Integrity check of the database and the index; exit status 1 when it finds problems."""
    with user_errors(), _gallery_warnings():
        with _open(gallery, backend_opt, readonly=not repair) as opened:
            if repair:
                opened.reindex()
            report = opened.check()
        if as_json:
            print_json(report.to_dict())
        else:
            typer.echo(f"{report.identities} identities, {report.templates} templates, "
                       f"{report.index_entries} index entries: {'ok' if report.ok else 'PROBLEMS'}")
            for problem in report.problems:
                typer.echo(f"  {problem}")
        if not report.ok:
            raise typer.Exit(1)
