"""Writing aligned face crops (the ArcFace template, any size) of many images to a folder.

Each input keeps its path relative to the inputs' common folder under the output folder (the
rule of :mod:`facetrust.io.outputs`), and each face becomes ``<stem>_<i>.<ext>``, ``i`` = 0, 1, …
in the order faces are reported (largest first). When two inputs of one folder share a stem
(``x.jpg`` and ``x.png``) and would write the same names, their crops keep the whole file
name instead: ``x.jpg_0.png``, ``x.png_0.png``. Every file is written atomically.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Literal, Sequence

from facetrust.errors import ConfigError, FaceNotFoundError, FacetrustError, OutputError
from facetrust.io.outputs import output_suffix, prepare_out_dir, relative_targets, write_image
from facetrust.progress import Progress, track
from facetrust.types import Face

if TYPE_CHECKING:
    from facetrust.analyzer import FaceAnalyzer

#: Which faces of an image become crops.
CROP_FACES = ("all", "largest")
#: Crop file formats: PNG, or the input's own (PNG where the input's format is not kept).
CROP_FORMATS = ("png", "input")


@dataclass
class CropResult:
    """The crops written for one input, or the reason there are none."""

    path: Path
    faces: list[Face] = field(default_factory=list)
    crops: list[Path] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.error is not None:
            return {"path": str(self.path), "error": self.error}
        return {"path": str(self.path),
                "faces": [{**face.to_dict(include_embedding=False), "crop": str(crop)}
                          for face, crop in zip(self.faces, self.crops)]}


def crop_name_bases(inputs: Sequence[Path], out_dir: Path, image_format: str = "png") -> dict[Path, tuple[Path, str]]:
    """Per input, the crop path without ``_<i><suffix>``, and the suffix (see the module docstring)."""
    bases: dict[Path, tuple[Path, str]] = {}
    for given, target in relative_targets(inputs, out_dir).items():
        suffix = ".png" if image_format == "png" else output_suffix(target)
        bases[given] = (target.with_name(target.stem), suffix)
    clashes = Counter(bases.values())
    for given, (base, suffix) in bases.items():
        if clashes[(base, suffix)] > 1:
            bases[given] = (base.with_name(given.name), suffix)
    return bases


def extract_files(analyzer: "FaceAnalyzer", inputs: Sequence[Path], out_dir: Path, size: int = 112,
                  faces: Literal["all", "largest"] = "all", image_format: Literal["png", "input"] = "png",
                  progress: Progress = False) -> Iterator[CropResult]:
    """Write the aligned crops of every input under ``out_dir``, yielding one :class:`CropResult`
    per input, in order. A bad input (unreadable, not an image, no face) is a result with an
    ``error``, and the run goes on; a bad ``size``, ``faces`` or ``image_format`` or an output
    folder that cannot be written raises before any work. A crop that would replace one of the
    inputs is that input's error."""
    from facetrust.analyzer import check_crop_size

    check_crop_size(size)
    if faces not in CROP_FACES:
        raise ConfigError(f"faces must be one of {', '.join(CROP_FACES)}, got {faces!r}")
    if image_format not in CROP_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(CROP_FORMATS)}, got {image_format!r}")
    prepare_out_dir(out_dir, f"output folder {out_dir}")
    analyzer.detector  # noqa: B018 - a missing model is one error for the run, not one per input
    bases = crop_name_bases(inputs, out_dir, image_format)
    protected = {Path(p).resolve() for p in inputs}
    written: dict[Path, Path] = {}  # crop -> its input, so that no input's crop replaces another's
    for path in track(inputs, len(inputs), "extracting", progress, unit="images"):
        result = CropResult(Path(path))
        try:
            result.faces = analyzer.extract(path, size, select="all" if faces == "all" else "largest")
            if not result.faces:
                raise FaceNotFoundError(f"{path}: no face found")
            base, suffix = bases[Path(path)]
            for index, face in enumerate(result.faces):
                target = base.with_name(f"{base.name}_{index}{suffix}")
                if target.resolve() in protected:
                    raise OutputError(f"the crop {target} would replace an input; choose another output folder")
                if written.setdefault(target.resolve(), Path(path)) != Path(path):
                    raise OutputError(f"the crop {target} would replace one of {written[target.resolve()]}")
                result.crops.append(write_image(face.aligned, target))
        except FacetrustError as exc:
            result.error = str(exc)
        yield result
