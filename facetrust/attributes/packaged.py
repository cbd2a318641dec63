"""Attribute models that ship inside the package (``facetrust/models/attributes``; CC0-1.0,
see the NOTICE.md there), so attributes work offline right after ``pip install``.
Each file's sha256 is checked before its first load."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from facetrust.errors import ChecksumMismatchError, ModelNotAvailableError

PACKAGED_SHA256 = {
    "age-v1.onnx": "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
    "gender-v1.onnx": "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
    # The default age model's monotone map, fitted on UTKFace's calibration half (bench/attributes_age_candidates.py).
    "age-map-v1.json": "ddb21f1ea9042d69384fdd5980d5b6e132ccadf61c6d0f8c0a43eadfd9200a5f",
}


def packaged_model(name: str, folder: Path | None = None) -> Path:
    """The verified path of a packaged model (or age map) file (``folder`` overrides the package's, for tests)."""
    from facetrust.zoo.store import sha256_of

    base = folder or Path(str(resources.files("facetrust").joinpath("models", "attributes")))
    path = base / name
    if not path.is_file():
        raise ModelNotAvailableError(f"{path}: the packaged attribute model is missing (reinstall facetrust)")
    actual = sha256_of(path)
    if actual != PACKAGED_SHA256[name]:
        raise ChecksumMismatchError(f"{path}: sha256 {actual[:16]}… does not match the recorded "
                                    f"{PACKAGED_SHA256[name][:16]}… (corrupted file; reinstall facetrust)")
    return path

