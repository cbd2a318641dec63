"""Rebuild and verify the file list the shipped SBI model was trained on (from its recipe's rule).

    python bench/sbi_training_files.py [--content] [--write files.txt] [--recipe path/to/model.json]

The recipe beside the model (``facetrust/models/forensics/sbi-rgbfreq-96.json``) records no file
list, only the rule that regenerates it (:func:`facetrust.forensics.training.data.training_files`
with its ``lfw_images``, ``seed`` and ``utkface``), the count per folder and the sha256 of the sorted
names. This rebuilds the list from ``../shared``, checks those values (``--content``: also the sha256
over every file's content, ~30 s) and optionally writes the names, one per line. Exit 1 on a mismatch.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

from facetrust.forensics.training.data import regenerate_training_files  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipe", type=Path, help="recipe JSON (default: the packaged model's)")
    parser.add_argument("--content", action="store_true", help="also verify the digest of the files' content")
    parser.add_argument("--write", type=Path, help="write the regenerated names here, one per line")
    args = parser.parse_args()
    text = args.recipe.read_text() if args.recipe else \
        resources.files("facetrust").joinpath("models/forensics/sbi-rgbfreq-96.json").read_text()
    data = json.loads(text)["data"]
    shared = SHARED.resolve()
    files, checks = regenerate_training_files(shared, data, args.content)
    if args.write:
        args.write.write_text("".join(f"{name}\n" for name in sorted(str(p.relative_to(shared)) for p in files)))
    print(f"{len(files)} files from {data['file_rule']}")
    for name, ok in checks.items():
        print(f"  {name}: {'matches' if ok else 'DIFFERS'}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
