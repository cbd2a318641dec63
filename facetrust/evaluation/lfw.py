"""The LFW View-2 ``pairs.txt`` protocol: 10 folds of 300 same + 300 different pairs (other
files in the same format may have other counts: the header says), and quick-run subsets."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facetrust.errors import ConfigError


@dataclass(frozen=True)
class Pair:
    path_a: Path
    path_b: Path
    same: bool
    fold: int
    line: int  # 1-based line number in pairs.txt, for error messages


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / name / f"{name}_{number:04d}.jpg"


def read_lfw_pairs(pairs_file: str | Path, root: str | Path) -> list[Pair]:
    """Parse ``pairs.txt`` (header ``folds n``, then per fold n same + n different lines)."""
    pairs_file, root = Path(pairs_file), Path(root)
    try:
        lines = pairs_file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{pairs_file}: cannot read pair list ({exc})") from None
    if not lines:
        raise ConfigError(f"{pairs_file}: empty pair list")
    try:
        folds, per_side = (int(v) for v in lines[0].split())
    except ValueError:
        raise ConfigError(f"{pairs_file}:1: header must be '<folds> <pairs per side>', got {lines[0]!r}") from None
    pairs: list[Pair] = []
    for number, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        fold = len(pairs) // (2 * per_side)
        try:
            if len(parts) == 3:
                pair = Pair(lfw_image(root, parts[0], int(parts[1])), lfw_image(root, parts[0], int(parts[2])), True, fold, number)
            elif len(parts) == 4:
                pair = Pair(lfw_image(root, parts[0], int(parts[1])), lfw_image(root, parts[2], int(parts[3])), False, fold, number)
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(f"{pairs_file}:{number}: malformed pair line {line!r}") from None
        pairs.append(pair)
    if len(pairs) != folds * 2 * per_side:
        raise ConfigError(f"{pairs_file}: expected {folds * 2 * per_side} pairs, found {len(pairs)}")
    return pairs


def fold_count(pairs: list[Pair]) -> int:
    """Number of distinct folds among ``pairs``."""
    return len({p.fold for p in pairs})


def subset_pairs(pairs: list[Pair], folds: int | None = None, max_pairs: int | None = None) -> list[Pair]:
    """A quick run: the first ``folds`` folds, and of each at most ``max_pairs / folds`` pairs,
    half same and half different, the first ones in file order. Cross-validation needs 2 folds
    and a same and a different pair in each."""
    available = fold_count(pairs)
    if folds is not None:
        if not 2 <= folds <= available:
            raise ConfigError(f"--folds must be between 2 and {available} (the pair file's folds), got {folds}")
        pairs = [p for p in pairs if p.fold < folds]
    if max_pairs is None:
        return pairs
    used = fold_count(pairs)
    per_side = max_pairs // (2 * used)
    if per_side < 1:
        raise ConfigError(f"--max-pairs must be at least {2 * used} (one same and one different pair per fold), "
                          f"got {max_pairs}")
    taken: dict[tuple[int, bool], int] = {}
    chosen = []
    for pair in pairs:
        key = (pair.fold, pair.same)
        if taken.get(key, 0) < per_side:
            taken[key] = taken.get(key, 0) + 1
            chosen.append(pair)
    return chosen


#: Where the face sits in a 250x250 LFW(-a) image, as fractions of its size: the
#: median dlib-hog box on View-2 fold 1 (77, 89, 182, 193). Used as the centre-crop
#: fallback when no face is detected (see ``AnalyzerConfig.fallback_box``).
LFW_FALLBACK_BOX = (0.31, 0.36, 0.73, 0.77)
