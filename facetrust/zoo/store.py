"""Locating, downloading and checksum-verifying model files.

Lookup order for a zoo file ``recognition/w600k_mbf.onnx``:

1. ``$FACETRUST_MODEL_DIR/recognition/w600k_mbf.onnx`` (offline directory),
2. the user cache ``$FACETRUST_CACHE_DIR`` (default ``~/.cache/facetrust/models``),
3. a download from the manifest's official URL into the cache, unless
   ``FACETRUST_OFFLINE=1``.

Files that ship in a PyPI package (dlib's models; the default preset's YuNet and
EdgeFace-XS in facetrust's own ``models/``) are found in that package without importing it. Every file's sha256 is checked against the manifest
before first use; a mismatch is an error, never a silent fallback.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
import urllib.request
import warnings
from pathlib import Path

from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError
from facetrust.zoo.manifest import ModelFile, ModelSpec, get_model

_verified: dict[tuple[str, int, int], str] = {}


class NonCommercialLicenseWarning(UserWarning):
    """A model whose licence forbids commercial use was loaded."""


def model_dir() -> Path | None:
    value = os.environ.get("FACETRUST_MODEL_DIR")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    value = os.environ.get("FACETRUST_CACHE_DIR")
    return Path(value).expanduser() if value else Path.home() / ".cache" / "facetrust" / "models"


def offline() -> bool:
    return os.environ.get("FACETRUST_OFFLINE", "").lower() in ("1", "true", "yes")


def package_models_dir(package: str) -> Path:
    """The ``models/`` folder of a model package, found without importing it
    (``face_recognition_models/__init__`` needs ``pkg_resources``)."""
    module = package.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(f"package {package!r} is not installed (pip install {package})")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, file: ModelFile) -> Path:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _verified:
        actual = sha256_of(path)
        if actual != file.sha256:
            fix = ("changed since it was registered: register it again" if Path(file.path).is_absolute()
                   else "corrupted or wrong file; delete it to re-download")
            raise ChecksumMismatchError(
                f"{path}: sha256 {actual[:16]}… does not match the manifest's {file.sha256[:16]}… ({fix})"
            )
        _verified[key] = actual
    return path


def _candidates(file: ModelFile) -> list[Path]:
    if Path(file.path).is_absolute():  # a locally registered model (facetrust.zoo.local): that file only
        return [Path(file.path)]
    if file.package:
        return [package_models_dir(file.package) / file.path]
    found = []
    if (offline_dir := model_dir()) is not None:
        found.append(offline_dir / file.path)
    found.append(cache_dir() / file.path)
    return found


def _download(file: ModelFile, target: Path) -> Path:
    """Fetch ``file`` (or, for an archive, its member) into ``target``, checked, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".part")
    archive_name = f"{tmp_name}.zip"
    try:
        with open(archive_name if file.member else tmp_name, "wb") as out, \
                urllib.request.urlopen(file.url, timeout=60) as response:
            shutil.copyfileobj(response, out)
        os.close(fd)
        if file.member:
            _extract_member(Path(archive_name), file.member, Path(tmp_name), file.url)
        tmp = Path(tmp_name)
        actual = sha256_of(tmp)
        if actual != file.sha256:
            what = f"{file.member} of {file.url}" if file.member else f"download of {file.url}"
            raise ChecksumMismatchError(f"{what} has sha256 {actual[:16]}…, expected {file.sha256[:16]}…")
        os.replace(tmp, target)  # atomic: a crash never leaves a half file under the final name
    except OSError as exc:
        raise ModelNotAvailableError(f"could not download {file.url}: {exc}") from None
    finally:
        for leftover in (tmp_name, archive_name):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return target


def _extract_member(archive: Path, member: str, target: Path, url: str) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(archive) as bundle:
            names = {Path(name).name: name for name in bundle.namelist()}
            if member not in names:
                raise ModelNotAvailableError(f"{url} holds no {member} (found: {', '.join(sorted(names)[:8])})")
            with bundle.open(names[member]) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
    except zipfile.BadZipFile:
        raise ModelNotAvailableError(f"{url} is not a zip archive") from None


def model_file(name: str, index: int = 0, download: bool = True) -> Path:
    """Path of a verified model file, downloading it into the cache if allowed."""
    spec = get_model(name)
    if spec.files == ():
        raise ModelNotAvailableError(f"model {name!r} has no files (it is built into its library)")
    file = spec.files[index]
    _warn_licence(spec)
    candidates = _candidates(file)
    for path in candidates:
        if path.is_file():
            return _check(path, file)
    if Path(file.path).is_absolute():
        raise ModelNotAvailableError(f"model file for {name!r} not found at {file.path} (it was registered on this "
                                     "machine: restore the file or register the model again)")
    if file.package or file.derived or not download or offline():
        where = ", ".join(str(p) for p in candidates)
        if file.derived:  # nothing upstream to download: say how the file is made
            hint = f" (no upstream copy: make it with `{file.derived}`, or set FACETRUST_MODEL_DIR to a folder holding it)"
        else:
            hint = "" if file.package else " (set FACETRUST_MODEL_DIR to a folder holding it, or go online)"
        raise ModelNotAvailableError(f"model file for {name!r} not found at {where}{hint}")
    return _download(file, cache_dir() / file.path)


def fetch_model(name: str) -> list[Path]:
    """Make every file of a model available locally (download if needed)."""
    return [model_file(name, i) for i in range(len(get_model(name).files))]


def verify_model(name: str) -> list[tuple[str, str]]:
    """(path, status) per file: 'ok', 'missing' or 'MISMATCH'. Never downloads."""
    spec = get_model(name)
    results = []
    for file in spec.files:
        paths = [p for p in _candidates(file) if p.is_file()]
        if not paths:
            results.append((file.path, "missing"))
            continue
        status = "ok" if sha256_of(paths[0]) == file.sha256 else "MISMATCH"
        results.append((str(paths[0]), status))
    return results


_warned: set[str] = set()


def _warn_licence(spec: ModelSpec) -> None:
    if not spec.commercial_use and spec.name not in _warned:
        _warned.add(spec.name)
        local = any(Path(f.path).is_absolute() for f in spec.files)  # registered on this machine
        warnings.warn(
            f"model {spec.name!r} is {'not stated to be licensed for commercial use' if local else 'licensed for non-commercial use only'}: {spec.license}",
            NonCommercialLicenseWarning,
            stacklevel=3,
        )
