"""Re-identification of anonymised video faces at a threshold calibrated on the videos' own impostor pairs.

The LFW threshold (FMR 1e-3 on portraits) does not hold on small, dark video crops: two different
people's unanonymised faces of short_hamilton_clip.mp4 match each other at 9.6-12.3% (docs/privacy.md).
This script reads the faces that ``bench/privacy_anonymize_video.py OUT_JSON`` saved (OUT_JSON with the
suffix .npz: per video and checker, every face's embedding in the original and in each anonymised
output, its frame and box) and calibrates thresholds on pairs that are surely of different people:

* two faces of one frame (boxes overlapping by IoU < 0.3), and
* a face of one video and a face of another (other people, other scene).

Two thresholds, each at FMR 1e-3 of its own impostor pairs:

* ``recognizer``: original vs original (the recognizer's false-match rate on these crops);
* ``attack``: anonymised face vs *other* people's originals (the attacker's false-match rate: an
  anonymised face compared with a gallery of originals).

Re-identification = an anonymised face matching its own original at the threshold. Two-fold
cross-validation by time: each video is cut at its middle checked frame; the threshold that judges the
faces of one half comes from impostor pairs whose faces all lie in the other halves, so no face is both
calibrated on and evaluated. The impostor-pair counts are printed: below about 1,000 pairs, FMR 1e-3 is
not measurable (the quantile is the top score or beyond) and the row says so.

    python bench/privacy_video_threshold.py OUT_JSON [CHECKERS] [MORE_OUT_JSON ...]

MORE_OUT_JSON: other runs of the bench to merge in (their variants are judged against the same impostor
pairs; the report goes next to OUT_JSON). CHECKERS may be "" for all.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from facetrust.tracking import iou

FMR = 1e-3
MIN_IOU = 0.3
#: Fewer impostor pairs than this and FMR 1e-3 is not measured (under one expected false match).
MIN_PAIRS = int(round(1 / FMR))


def load(*npzs: Path) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """{video: {checker: {"faces": (n, 5), "original": (n, d), <output label>: (n, d)}}}, merged over runs
    (e.g. a later run of more variants on one video): a video in two runs must have the same faces and
    original embeddings in both (the same detections, in the same order), else its labels could not be
    paired with the faces."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for npz in npzs:
        with np.load(npz) as data:
            for name in data.files:
                video, label, checker = name.split("|")
                key = "faces" if label == "faces" else label
                known = out[video][checker].get(key)
                if key in ("faces", "original") and known is not None:
                    if known.shape != data[name].shape or not np.allclose(known, data[name], atol=1e-5):
                        raise SystemExit(f"{npz}: {video} {checker} {key} differ from an earlier file's; cannot merge")
                    continue
                out[video][checker][key] = data[name]
    return out


def halves(faces: np.ndarray) -> np.ndarray:
    """0 for faces before the video's middle checked frame, 1 from it on."""
    frames = np.unique(faces[:, 0])
    return (faces[:, 0] >= frames[len(frames) // 2]).astype(int)


def same_frame_pairs(faces: np.ndarray) -> np.ndarray:
    """(i, j), i < j: two faces of one frame that do not overlap (different people)."""
    pairs = []
    for frame in np.unique(faces[:, 0]):
        rows = np.flatnonzero(faces[:, 0] == frame)
        pairs += [(i, j) for a, i in enumerate(rows) for j in rows[a + 1:]
                  if iou(faces[i, 1:], faces[j, 1:]) < MIN_IOU]
    return np.array(pairs, dtype=int).reshape(-1, 2)


def impostor_scores(videos: dict, checker: str, left: str, half: int) -> dict[str, np.ndarray]:
    """Scores of ``left`` faces (``original`` or an output label) against *other people's* originals,
    every face of both sides in ``half``: same-frame pairs (both orders when ``left`` is an output) and
    cross-video pairs."""
    same, across = [], []
    names = [v for v in videos if checker in videos[v] and left in videos[v][checker]]
    for video in names:
        own = videos[video][checker]
        keep = halves(own["faces"]) == half
        pairs = same_frame_pairs(own["faces"])
        pairs = pairs[keep[pairs[:, 0]] & keep[pairs[:, 1]]]
        a, b = own[left][pairs[:, 0]], own["original"][pairs[:, 1]]
        same.append(np.einsum("ij,ij->i", a, b))
        if left != "original":  # the other order is another comparison (anonymised j vs original i)
            same.append(np.einsum("ij,ij->i", own[left][pairs[:, 1]], own["original"][pairs[:, 0]]))
        for other, theirs in videos.items():
            if other == video or checker not in theirs or (left == "original" and other < video):
                continue  # originals: each unordered cross-video pair once
            mine = own[left][keep]
            originals = theirs[checker]["original"][halves(theirs[checker]["faces"]) == half]
            across.append((mine @ originals.T).ravel())
    return {"same_frame": np.concatenate(same) if same else np.empty(0),
            "across_videos": np.concatenate(across) if across else np.empty(0)}


def threshold(scores: np.ndarray) -> float | None:
    return float(np.quantile(scores, 1.0 - FMR)) if scores.size >= MIN_PAIRS else None


def evaluate(videos: dict, checker: str) -> dict:
    labels = sorted({label for v in videos.values() for label in v.get(checker, {}) if label not in ("faces", "original")})
    result: dict = {}
    for kind in ("recognizer", "attack"):
        for label in labels:
            entry = {"faces": 0, "reidentified": 0, "folds": []}
            for half in (0, 1):
                calibration = impostor_scores(videos, checker, "original" if kind == "recognizer" else label, 1 - half)
                pooled = np.concatenate(list(calibration.values()))
                cut = threshold(pooled)
                # The pooled threshold is mostly set by the cross-video pairs (far more of them); the false-match
                # rate of each kind at it shows whether it holds for the harder same-frame pairs too.
                fold = {"impostor_pairs": {k: int(v.size) for k, v in calibration.items()},
                        "threshold": cut, "faces": 0, "reidentified": 0,
                        "impostor_match_rate": {k: float(np.mean(v >= cut)) if cut is not None and v.size else None
                                                for k, v in calibration.items()}}
                for video, own in videos.items():
                    if checker not in own or label not in own[checker]:
                        continue
                    faces = own[checker]
                    keep = halves(faces["faces"]) == half
                    mated = np.einsum("ij,ij->i", faces[label][keep], faces["original"][keep])
                    fold["faces"] += int(mated.size)
                    fold["reidentified"] += int(np.sum(mated >= cut)) if cut is not None else 0
                    fold.setdefault("per_video", {})[video] = {
                        "faces": int(mated.size), "reidentified": int(np.sum(mated >= cut)) if cut is not None else None}
                entry["folds"].append(fold)
                entry["faces"] += fold["faces"]
                entry["reidentified"] += fold["reidentified"]
            measurable = all(f["threshold"] is not None for f in entry["folds"])
            entry["rate"] = entry["reidentified"] / entry["faces"] if measurable and entry["faces"] else None
            result.setdefault(kind, {})[label] = entry
    return result


def main(out_json: Path, checkers: list[str] | None, more: Sequence[Path] = ()) -> None:
    videos = load(out_json.with_suffix(".npz"), *(m.with_suffix(".npz") for m in more))
    names = sorted({c for v in videos.values() for c in v})
    report = {"fmr": FMR, "videos": sorted(videos), "checkers": {}}
    for checker in names:
        if checkers and checker not in checkers:
            continue
        report["checkers"][checker] = evaluate(videos, checker)
        for kind, by_label in report["checkers"][checker].items():
            for label, entry in by_label.items():
                folds = "; ".join(f"half {h}: T={f['threshold'] if f['threshold'] is None else round(f['threshold'], 3)}"
                                  f" from {f['impostor_pairs']}, impostors matching at T {f['impostor_match_rate']}"
                                  for h, f in enumerate(entry["folds"]))
                rate = "n/a" if entry["rate"] is None else f"{100 * entry['rate']:.1f}%"
                print(f"{checker:10} {kind:10} {label:10} re-identified {entry['reidentified']} / {entry['faces']} "
                      f"({rate}); {folds}", flush=True)
    target = out_json.with_name(out_json.stem + "_calibrated.json")
    target.write_text(json.dumps(report, indent=1) + "\n")
    print("wrote", target)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2].split(",") if len(sys.argv) > 2 and sys.argv[2] else None,
         [Path(p) for p in sys.argv[3:]])
