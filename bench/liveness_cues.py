"""The cheap liveness cues on the only real material available — measurements, not a benchmark.

Image cues (``moire``, ``lbp-colour``, ``minifasnet+cues``) on the 3 Silent-Face
samples (print attack, replay attack, live) plus every colour image under
``../shared/data/faces`` as bona fide (the set of ``bench/liveness_eval.py``):

* the raw frequency features per spoof-set image and their range on the bona fide faces;
* leave-one-out: for each presentation, the calibration is fitted
  (:func:`facetrust.liveness.calibration.fit_calibration`, the code behind
  ``facetrust liveness fit``) on all *other* presentations and applied to the held-out
  one. With 2 attacks, each held-out attack is judged by a model that saw exactly
  one attack, of the other species: this shows what the fit does with tiny data,
  nothing about error rates.

Video cues on real clips (DFDC ``abqwwspghj.mp4``/``abofeumbvv.mp4``, halved to
960x540; the Hamilton clip of face_recognition) and on a synthesised held-up photo
(the first frame of ``abqwwspghj.mp4`` warped as a swaying plane, written through
the mp4v codec and read back).

    python bench/liveness_cues.py          # prints markdown tables
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import SHARED  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from facetrust.analyzer import FaceAnalyzer  # noqa: E402
from facetrust.io.video import VideoFrame, read_frames  # noqa: E402
from facetrust.liveness import LivenessChecker  # noqa: E402
from facetrust.liveness.calibration import fit_calibration  # noqa: E402
from facetrust.liveness.evaluation import Presentation, read_labels, score_presentations  # noqa: E402
from facetrust.liveness.motion import synthetic_planar_frames, video_cues  # noqa: E402

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
DFDC = SHARED / "data" / "deepfake" / "aaronchong888" / "videos"
HAMILTON = SHARED / "data" / "faces" / "ageitgey_face_recognition" / "examples" / "short_hamilton_clip.mp4"


def presentations() -> list[Presentation]:
    spoof = read_labels(SHARED / "data" / "spoof" / "labels.csv")
    faces = sorted(p for p in (SHARED / "data" / "faces").rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return spoof + [Presentation(p, True, "bona fide") for p in faces]


def image_cues() -> None:
    items = presentations()
    scored = {}
    for model in ("moire", "lbp-colour", "minifasnet+cues"):
        # Without a calibration the cue models are unavailable but keep their features.
        scored[model] = [s for s in score_presentations(LivenessChecker(model=model), items) if s.model_scores]
    moire = scored["moire"]
    print("\n### moire: raw features\n\n| presentation | moire_hf_share | moire_peak_share |\n|---|---|---|")
    for s in moire[:3]:
        print(f"| {s.presentation.path.name} ({s.presentation.attack_type}) | "
              f"{s.model_scores['moire_hf_share']:.4f} | {s.model_scores['moire_peak_share']:.4f} |")
    bona = np.array([[s.model_scores["moire_hf_share"], s.model_scores["moire_peak_share"]] for s in moire[3:]])
    for name, column in (("hf", 0), ("peak", 1)):
        values = bona[:, column]
        print(f"| {len(values)} bona fide faces, {name}: min / median / max | {values.min():.4f} / "
              f"{np.median(values):.4f} / {values.max():.4f} | share of faces = 0: {np.mean(values == 0):.2f} |")
    print("\n### leave-one-out fits (L2 = 1, target APCER 0.05)\n")
    print("| model | features | held-out P(live): print | replay | live T1 | bona fide faces below the "
          "highest held-out attack |\n|---|---|---|---|---|---|")
    for model, rows in scored.items():
        held_out = []
        for i, row in enumerate(rows):
            rest = rows[:i] + rows[i + 1:]
            calibration = fit_calibration(model, [r.model_scores for r in rest],
                                          [r.presentation.bona_fide for r in rest],
                                          [r.presentation.attack_type for r in rest])
            held_out.append(calibration.apply(row.model_scores))
        attacks = [p for p, r in zip(held_out, rows) if not r.presentation.bona_fide]
        faces = np.array(held_out[3:])
        print(f"| {model} | {len(rows[0].model_scores)} | {held_out[0]:.3f} | {held_out[1]:.3f} | {held_out[2]:.3f} "
              f"| {np.sum(faces < max(attacks))} of {len(faces)} |")


def halved(frames, count: int) -> list[VideoFrame]:
    out = []
    for frame in frames:
        if len(out) == count:
            break
        small = cv2.resize(frame.image, (frame.image.shape[1] // 2, frame.image.shape[0] // 2),
                           interpolation=cv2.INTER_AREA)
        out.append(VideoFrame(frame.index, frame.time, small))
    return out


def through_codec(frames: list[VideoFrame], folder: Path) -> list[VideoFrame]:
    path = folder / "planar.mp4"
    height, width = frames[0].image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    return list(read_frames(path, every_seconds=0))


def video_rows() -> None:
    analyzer = FaceAnalyzer(detector="yunet")
    clips = {"DFDC abqwwspghj (960x540, 300 frames)": halved(read_frames(DFDC / "abqwwspghj.mp4", 0), 300),
             "DFDC abofeumbvv (960x540, 300 frames)": halved(read_frames(DFDC / "abofeumbvv.mp4", 0), 300),
             "Hamilton clip (640x360, 275 frames)": list(read_frames(HAMILTON, 0))}
    with tempfile.TemporaryDirectory() as folder:
        first = clips["DFDC abqwwspghj (960x540, 300 frames)"][0].image
        for tilt, shift in ((5, 0.01), (10, 0.02), (20, 0.03)):
            clips[f"planar photo, tilt {tilt} deg, shift {shift} (45 frames)"] = through_codec(
                synthetic_planar_frames(first, 45, tilt_degrees=tilt, shift=shift), Path(folder))
        print("\n### video cues of the subject track\n\n| clip | frames with the subject | moving pairs | "
              "planar residual (face widths) | median motion | blinks (start-end s) | EAR median | yaw range | "
              "turn challenge | s |\n|---|---|---|---|---|---|---|---|---|---|")
        for name, frames in clips.items():
            start = time.perf_counter()
            subject = video_cues(frames, analyzer).subject
            seconds = time.perf_counter() - start
            residual = subject.planar_residual
            yaws = [f.yaw for f in subject.frames]
            blinks = ", ".join(f"{b.start:.2f}-{b.end:.2f}" for b in subject.blinks) or "none"
            motion = np.median([p.motion for p in subject.pairs]) if subject.pairs else float("nan")
            print(f"| {name} | {len(subject.frames)} | {len(subject.moving_pairs)} | "
                  f"{'n/a' if residual is None else f'{residual:.5f}'} | {motion:.4f} | {blinks} | "
                  f"{np.median([f.ear for f in subject.frames]):.3f} | {min(yaws):.0f} to {max(yaws):.0f} | "
                  f"{subject.challenge().reason} | {seconds:.1f} |")


if __name__ == "__main__":
    image_cues()
    video_rows()
