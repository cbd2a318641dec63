"""Video anonymisation against an attacker with photos of the people: re-identification across scenes.

bench/privacy_anonymize_video.py compares an anonymised face with *its own original crop*; the two share
everything around the covered region (hair, shoulders, background, light), so on dark video crops that
statistic mostly measures the scene (docs/privacy.md, "Impostor control"). Here the mates come from
*other photos*: the faces of the Hamilton clip of ../shared are labelled by hand
(bench/labels/hamilton_clip_identities.csv: Lin-Manuel Miranda, Alex Lacamoire and Barack Obama, who have
reference photos in the face_recognition examples, and the other people), and an anonymised face counts
as re-identified when it matches a reference photo of its person at FMR = 1e-3.

Per checking detector (YuNet, the anonymiser's own; RetinaFace and SCRFD, whose faces the anonymiser
never saw), every face of every frame of the original is found, tracked (facetrust.tracking.FaceTracker)
and labelled; a face without a label row stops the run (labels are only valid for the detections they
were made on). Each labelled face is embedded by the default recognizer at its original landmarks, in the
original and in each anonymised output (the library's anonymize_video, default preset and strength).

Thresholds at FMR = 1e-3, three ways:
- *shipped*: the recognizer's calibration on LFW portraits (what a deployment uses);
- *video against portraits*: the 1e-3 quantile of every labelled original face against the first image of
  every LFW person (none of the people of the clip is in LFW): the recognizer's false-match rate for these
  crops against a gallery of portraits;
- *attacker's*: the same with the anonymised faces, per method: where an attacker holding a gallery of
  portraits must put the threshold to falsely match anonymised faces at 1e-3.
A face is scored against its person by the best of that person's reference photos (an attacker would);
the impostor control scores faces of other people against the same references in the same way.

    python bench/privacy_video_reidentification.py OUT.json
"""
from __future__ import annotations

import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import LFW_ROOT, SHARED  # noqa: E402

from facetrust import FaceAnalyzer  # noqa: E402
from facetrust.io.image import load_image  # noqa: E402
from facetrust.io.video import read_frames  # noqa: E402
from facetrust.privacy.anonymize import METHODS  # noqa: E402
from facetrust.privacy.anonymize_video import anonymize_video  # noqa: E402
from facetrust.tracking import FaceTracker  # noqa: E402
from facetrust.types import Detection  # noqa: E402

EXAMPLES = SHARED / "data" / "faces" / "ageitgey_face_recognition"
VIDEO = EXAMPLES / "examples" / "short_hamilton_clip.mp4"
LABELS = Path(__file__).resolve().parent / "labels" / "hamilton_clip_identities.csv"
CHECKERS = ("yunet", "retinaface", "scrfd")
REFERENCED = ("lin_manuel_miranda", "alex_lacamoire", "obama")
#: Labels that are not a person's face.
NOT_A_PERSON = ("none", "exclude")
#: Unidentifiable audience faces: impostors only for the people known to be on stage while they were filmed.
AUDIENCE = "audience"
ON_STAGE = ("lin_manuel_miranda", "alex_lacamoire")
#: Two reference files whose faces are this similar are one photo (the same picture at other resolutions).
SAME_PHOTO = 0.95
FMR = 1e-3


@dataclass
class LabelledFace:
    frame: int
    detection: Detection
    identity: str


def read_labels(path: Path) -> dict[tuple[str, int], list[tuple[int, int, str]]]:
    rows: dict[tuple[str, int], list[tuple[int, int, str]]] = {}
    with path.open() as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            rows.setdefault((row["detector"], int(row["track"])), []).append(
                (int(row["first_frame"]), int(row["last_frame"]), row["identity"]))
    return rows


def labelled_faces(detector: str, analyzer: FaceAnalyzer, labels: dict) -> list[LabelledFace]:
    """Every face ``detector`` finds on every frame of the clip, with its hand label."""
    tracker, faces = FaceTracker(), []
    for frame in read_frames(VIDEO, every_seconds=0):
        found = analyzer.detect_rgb(frame.image)
        for track, detection in zip(tracker.assign([d.box for d in found]), found):
            names = [name for first, last, name in labels.get((detector, track), ()) if first <= frame.index <= last]
            if len(names) != 1:
                raise SystemExit(f"{detector} track {track} frame {frame.index}: {len(names)} label rows "
                                 f"(the labels were made on other detections; relabel)")
            faces.append(LabelledFace(frame.index, detection, names[0]))
    return faces


def references(analyzer: FaceAnalyzer) -> dict[str, np.ndarray]:
    """Embeddings of each referenced person's photos (one per distinct photo)."""
    found: dict[str, list[np.ndarray]] = {}
    with (EXAMPLES / "identities.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["identity"] not in REFERENCED:
                continue
            faces = analyzer.analyze_rgb(load_image(EXAMPLES / row["file"]), checks=False)
            if faces:
                kept = found.setdefault(row["identity"], [])
                if all(float(faces[0].embedding @ v) < SAME_PHOTO for v in kept):
                    kept.append(faces[0].embedding)
    return {name: np.stack(vectors) for name, vectors in found.items()}


def lfw_portraits(analyzer: FaceAnalyzer) -> np.ndarray:
    """The first image of every LFW person, embedded (people none of whom is in the clip)."""
    paths = [sorted(person.glob("*.jpg"))[0] for person in sorted(LFW_ROOT.iterdir()) if person.is_dir()]
    embedded = analyzer.embed(paths)
    return embedded.vectors[embedded.found]


def embed_at(analyzer: FaceAnalyzer, video: Path, faces: list[LabelledFace]) -> np.ndarray:
    """Each face's crop from ``video``, aligned at its landmarks in the original, embedded."""
    by_frame: dict[int, list[int]] = {}
    for index, face in enumerate(faces):
        by_frame.setdefault(face.frame, []).append(index)
    vectors = np.zeros((len(faces), analyzer.recognizer.dim), np.float32)
    for frame in read_frames(video, every_seconds=0):
        indices = by_frame.get(frame.index, [])
        if indices:
            crops = [analyzer.recognizer.align(frame.image, faces[i].detection) for i in indices]
            vectors[indices] = analyzer.recognizer.embed_aligned(crops)
    return vectors


def quantile_threshold(faces: np.ndarray, portraits: np.ndarray) -> float:
    scores = (faces @ portraits.T).ravel()
    return float(np.quantile(scores, 1.0 - FMR))


def rates(identities: list[str], vectors: np.ndarray, refs: dict[str, np.ndarray], threshold: float) -> dict:
    """Per referenced person: their faces matching their references (mated) and other people's faces
    matching them (impostor control), each face scored by the best of the person's photos."""
    out = {}
    for person, photos in refs.items():
        best = (vectors @ photos.T).max(axis=1)
        mated = np.array([i == person for i in identities])
        impostor = np.array([i not in (person, *NOT_A_PERSON) and not (i == AUDIENCE and person not in ON_STAGE)
                             for i in identities])
        out[person] = {"faces": int(mated.sum()), "matched": int(np.sum(best[mated] >= threshold)),
                       "impostor_faces": int(impostor.sum()), "impostors_matched": int(np.sum(best[impostor] >= threshold)),
                       "median_score": float(np.median(best[mated])) if mated.any() else None}
    out["all"] = {key: sum(v[key] for v in out.values()) for key in ("faces", "matched", "impostor_faces", "impostors_matched")}
    return out


def main(out_json: Path) -> None:
    started = time.time()
    analyzer = FaceAnalyzer()
    labels = read_labels(LABELS)
    refs = references(analyzer)
    portraits = lfw_portraits(analyzer)
    print({name: len(v) for name, v in refs.items()}, "reference photos;", len(portraits), "LFW portraits", flush=True)
    result: dict = {"video": str(VIDEO.relative_to(SHARED)), "fmr": FMR, "references": {k: len(v) for k, v in refs.items()},
                    "lfw_portraits": len(portraits), "shipped_threshold": analyzer.threshold(FMR), "checkers": {}}
    with tempfile.TemporaryDirectory() as folder:
        outputs = {}
        for method in METHODS:
            outputs[method] = Path(folder) / f"{method}.mp4"
            anonymize_video(VIDEO, outputs[method], analyzer, method)
        for name in CHECKERS:
            faces = labelled_faces(name, FaceAnalyzer(detector=name), labels)
            identities = [f.identity for f in faces]
            people = np.array([i not in NOT_A_PERSON for i in identities])
            original = embed_at(analyzer, VIDEO, faces)
            thresholds = {"shipped": result["shipped_threshold"],
                          "video_vs_portraits": quantile_threshold(original[people], portraits)}
            entry: dict = {"faces": len(faces), "labels": {i: identities.count(i) for i in sorted(set(identities))},
                           "thresholds": thresholds, "original": {}, "anonymised": {}}
            for kind, threshold in thresholds.items():
                entry["original"][kind] = rates(identities, original, refs, threshold)
            for method, path in outputs.items():
                hidden = embed_at(analyzer, path, faces)
                attacker = quantile_threshold(hidden[people], portraits)
                entry["anonymised"][method] = {"attacker_threshold": attacker, **{
                    kind: rates(identities, hidden, refs, threshold)
                    for kind, threshold in {**thresholds, "attacker": attacker}.items()}}
            result["checkers"][name] = entry
            print(name, json.dumps(entry), flush=True)
            out_json.write_text(json.dumps(result, indent=1))
    result["seconds"] = round(time.time() - started)
    out_json.write_text(json.dumps(result, indent=1))
    print_table(result)


def print_table(result: dict) -> None:
    def cell(r: dict) -> str:
        return f"{r['matched']} / {r['faces']} ({100 * r['matched'] / r['faces']:.1f}%)" if r["faces"] else "–"

    def control(r: dict) -> str:
        return f"{r['impostors_matched']} / {r['impostor_faces']}"

    print("| faces found by | threshold | originals matching their person | impostor control, originals | "
          + " | ".join(f"{m}: re-identified | {m}: impostor control" for m in METHODS) + " |")
    for name, entry in result["checkers"].items():
        for kind in ("shipped", "video_vs_portraits", "attacker"):
            original = entry["original"].get(kind)
            row = [name, kind, cell(original["all"]) if original else "–", control(original["all"]) if original else "–"]
            for method in METHODS:
                r = entry["anonymised"][method][kind]["all"]
                row += [cell(r), control(r)]
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
