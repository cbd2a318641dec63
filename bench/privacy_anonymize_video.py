"""Video anonymisation on the real videos of ../shared: miss rate and re-identification at FMR 1e-3.

Every .mp4/.avi under ../shared/data (two DFDC 1080p clips, the face_recognition project's
Hamilton clip) is anonymised with the default preset's detector (YuNet) by each method,
once more by blur with the track cover switched off (fill = hold = 0: only the faces the
detector found on each frame), to show what the tracks add, and by blur with YuNet and
RetinaFace-MobileNet0.25 together (`-d yunet -d retinaface`). Each output is then checked
frame by frame by YuNet, RetinaFace and SCRFD-0.5GF (a third detector, used only to check),
with the default recognizer (EdgeFace-XS) for re-identification (see
evaluate_video_anonymization). "mask" removes every pixel of the covered region, so its
re-identification is what the context around the region alone gives.

Every video is anonymised whole; the checks run on every EVERY-th frame (default 3). The
1080p DFDC clips (one face, found by YuNet on every frame) get blur, mask and the two-detector
blur only, to fit the shared machine, unless VARIANTS names the variants (then every video gets them).

Impostor controls (why: the mated statistic compares two crops of one place in one frame, which
share everything outside the covered region): per video, each anonymised face against the
originals of the other faces of its frame (evaluate_video_anonymization); across videos, each
anonymised face of one video against every original face of the others (other people, other
scenes), and the originals of one video against those of the others (the LFW threshold's
false-match rate on these crops). They go to the JSON under "across_videos".

    python bench/privacy_anonymize_video.py [OUT_JSON] [EVERY] [VARIANTS] [VIDEO_NAMES]

With OUT_JSON, every face's embeddings (original and each output, per checker) and its frame and
box go to OUT_JSON with the suffix .npz, for bench/privacy_video_threshold.py (a threshold calibrated
on the videos' own impostor pairs).

VARIANTS, VIDEO_NAMES: comma-separated subsets (e.g. ``blur,mask`` and
``short_hamilton_clip.mp4,abofeumbvv.mp4``); default all.
"""
from __future__ import annotations

import json
import sys

import numpy as np
import tempfile
import time
from pathlib import Path

from common import SHARED
from facetrust import FaceAnalyzer
from facetrust.io import VIDEO_SUFFIXES
from facetrust.privacy.anonymize import METHODS
from facetrust.privacy.anonymize_video import anonymize_video, evaluate_video_anonymization

CHECKERS = ("yunet", "retinaface", "scrfd")


def across_videos(embedded: dict[str, dict[tuple[str, str], np.ndarray]], threshold: float) -> dict:
    """Rates at ``threshold`` of every face of one video against every original face of the others."""
    out: dict = {}
    for video, own in embedded.items():
        for (label, checker), faces in own.items():
            compared = matched = 0
            for other, theirs in embedded.items():
                originals = theirs.get(("original", checker))
                if other == video or originals is None:
                    continue
                scores = faces @ originals.T
                compared += scores.size
                matched += int(np.sum(scores >= threshold))
            out.setdefault(label, {}).setdefault(checker, {"compared": 0, "matched": 0})
            entry = out[label][checker]
            entry["compared"] += compared
            entry["matched"] += matched
    for by_checker in out.values():
        for entry in by_checker.values():
            entry["rate"] = entry["matched"] / entry["compared"] if entry["compared"] else None
    return out


def main(out_json: Path | None, every: int, only_variants: list[str] | None, only_videos: list[str] | None) -> None:
    # The Hamilton clip first: several people, small and dark faces, cuts.
    videos = sorted((p for p in (SHARED / "data").rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
                     and (only_videos is None or p.name in only_videos)),
                    key=lambda p: ("hamilton" not in p.name, p.name))
    analyzer = FaceAnalyzer()
    checkers = {name: FaceAnalyzer(detector=name) for name in CHECKERS}
    results: list = []
    embedded: dict[str, dict[tuple[str, str], np.ndarray]] = {}
    faces: dict[str, dict[str, np.ndarray]] = {}
    summary: dict = {"videos": results}
    with tempfile.TemporaryDirectory() as folder:
        for video in videos:
            outputs, runs = {}, {}
            variants = [(m, m, {}) for m in METHODS] + [
                ("blur-no-tracks", "blur", {"fill_seconds": 0.0, "hold_seconds": 0.0}),
                ("blur-yunet+retinaface", "blur", {"extra_detectors": [checkers["retinaface"]]})]
            if "hamilton" not in video.name and only_variants is None:
                variants = [v for v in variants if v[0] in ("blur", "mask", "blur-yunet+retinaface")]
            if only_variants is not None:  # named variants run on every video named
                variants = [v for v in variants if v[0] in only_variants]
            for label, method, extra in variants:
                target = Path(folder) / f"{video.stem}-{label}.mp4"
                start = time.perf_counter()
                done = anonymize_video(video, target, analyzer, method, **extra)
                elapsed = time.perf_counter() - start
                runs[label] = {**done.to_dict(), "seconds": round(elapsed, 1),
                               "frames_per_second": round(done.frames / elapsed, 2)}
                outputs[label] = target
                print(video.name, label, runs[label], flush=True)
            collected: dict = {}
            seen: dict = {}
            result = evaluate_video_anonymization(video, outputs, analyzer, checkers, every=every, embeddings=collected,
                                                  faces_seen=seen)
            result["anonymization"] = runs
            print(json.dumps(result, indent=1), flush=True)
            results.append(result)
            embedded[video.name] = {key: np.concatenate(parts) for key, parts in collected.items()}
            faces[video.name] = {name: np.concatenate(parts) for name, parts in seen.items()}
            summary["across_videos"] = across_videos(embedded, result["threshold"])
            print("across videos:", json.dumps(summary["across_videos"]), flush=True)
            if out_json:  # after each video, so a long run keeps what it measured
                out_json.write_text(json.dumps(summary, indent=1))
                arrays = {f"{v}|{label}|{checker}": e for v, own in embedded.items() for (label, checker), e in own.items()}
                arrays |= {f"{v}|faces|{checker}": f for v, own in faces.items() for checker, f in own.items()}
                np.savez(out_json.with_suffix(".npz"), **arrays)


if __name__ == "__main__":
    arguments = sys.argv[1:] + [""] * 4
    main(Path(arguments[0]) if arguments[0] else None, int(arguments[1] or 3),
         arguments[2].split(",") if arguments[2] else None, arguments[3].split(",") if arguments[3] else None)
