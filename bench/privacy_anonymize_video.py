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
blur only, to fit the shared machine.

    python bench/privacy_anonymize_video.py [OUT_JSON] [EVERY]
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from common import SHARED
from facetrust import FaceAnalyzer
from facetrust.io import VIDEO_SUFFIXES
from facetrust.privacy.anonymize import METHODS
from facetrust.privacy.anonymize_video import anonymize_video, evaluate_video_anonymization

CHECKERS = ("yunet", "retinaface", "scrfd")


def main(out_json: Path | None, every: int) -> None:
    # The Hamilton clip first: several people, small and dark faces, cuts.
    videos = sorted((p for p in (SHARED / "data").rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES),
                    key=lambda p: ("hamilton" not in p.name, p.name))
    analyzer = FaceAnalyzer()
    checkers = {name: FaceAnalyzer(detector=name) for name in CHECKERS}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for video in videos:
            outputs, runs = {}, {}
            variants = [(m, m, {}) for m in METHODS] + [
                ("blur-no-tracks", "blur", {"fill_seconds": 0.0, "hold_seconds": 0.0}),
                ("blur-yunet+retinaface", "blur", {"extra_detectors": [checkers["retinaface"]]})]
            if "hamilton" not in video.name:
                variants = [v for v in variants if v[0] in ("blur", "mask", "blur-yunet+retinaface")]
            for label, method, extra in variants:
                target = Path(folder) / f"{video.stem}-{label}.mp4"
                start = time.perf_counter()
                done = anonymize_video(video, target, analyzer, method, **extra)
                elapsed = time.perf_counter() - start
                runs[label] = {**done.to_dict(), "seconds": round(elapsed, 1),
                               "frames_per_second": round(done.frames / elapsed, 2)}
                outputs[label] = target
                print(video.name, label, runs[label], flush=True)
            result = evaluate_video_anonymization(video, outputs, analyzer, checkers, every=every)
            result["anonymization"] = runs
            print(json.dumps(result, indent=1), flush=True)
            results.append(result)
            if out_json:  # after each video, so a long run keeps what it measured
                out_json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
