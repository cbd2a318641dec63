"""The CLI surface: every hostile file through the per-image commands, folder runs, bad options."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.campaign.corpus import OBAMA, FileInput
from bench.campaign.outcomes import Tally, classify_cli, run_process

TIMEOUT_S = 120
# Commands whose models load in a second or two run for every file; the heavier checks for a sample.
PER_FILE = (["detect"],)
SAMPLED = (["analyze", "--json"], ["verify", "{file}", str(OBAMA)], ["quality", "assess"], ["liveness", "check"],
           ["forgery"], ["embed", "--json"])
SAMPLE = ("empty.jpg", "random.jpg", "jpeg_cut_60.jpg", "bomb_400mp.png", "wide_49mp.png", "gray_face.jpg",
          "rgba_face.png", "no_face.png", "group.jpg", "truncated.mp4", "directory.jpg", "proc_self_mem",
          "missing", "fifo.jpg", "cmyk.jpg", "exif_bad_orientation.jpg")

BAD_OPTIONS = [
    ["detect", str(OBAMA), "--detector", "nope"],
    ["detect", str(OBAMA), "--detector-opt", "upsample=x"],
    ["detect", str(OBAMA), "--detector-opt", "upsample=-1"],
    ["detect", str(OBAMA), "--detector-opt", "upsample=1000000000"],
    ["detect", str(OBAMA), "--detector-opt", "nonsense=1"],
    ["detect", str(OBAMA), "--detector-opt", "=="],
    ["detect", str(OBAMA), "-d", "yunet", "--detector-opt", "score_threshold=2"],
    ["detect", str(OBAMA), "-d", "yunet", "--detector-opt", "score_threshold=nan"],
    ["detect", str(OBAMA), "-d", "yunet", "--detector-opt", "input_size=-5"],
    ["analyze", str(OBAMA), "--recognizer", "nope"],
    ["analyze", str(OBAMA), "--check", "nope"],
    ["analyze", str(OBAMA), "--workers", "0"],
    ["analyze", str(OBAMA), "--workers", "-3"],
    ["analyze", str(OBAMA), "--every", "-1"],
    ["analyze", str(OBAMA), "--every", "nan"],
    ["verify", str(OBAMA), str(OBAMA), "--fmr", "2"],
    ["verify", str(OBAMA), str(OBAMA), "--fmr", "-1"],
    ["verify", str(OBAMA), str(OBAMA), "--fmr", "nan"],
    ["verify", str(OBAMA), str(OBAMA), "--fmr", "0"],
    ["verify", str(OBAMA), str(OBAMA), "--select", "nope"],
    ["verify", str(OBAMA)],
    ["eval", "lfw", "--root", "/nonexistent", "--pairs", "/nonexistent"],
    ["eval", "pairs", "--csv", "/etc/passwd"],
    ["models", "fetch", "nope"],
    ["gallery", "search", "/nonexistent.gallery", str(OBAMA)],
    ["gallery", "create", "/proc/forbidden.gallery"],
    ["liveness", "check", str(OBAMA), "--model", "nope"],
    ["forgery", str(OBAMA), "--model", "nope"],
    ["quality", "assess", str(OBAMA), "--method", "nope"],
    ["serve", "--port", "-1"],
    ["serve", "--port", "99999"],
    ["keys", "revoke", "nope"],
]


def _run(tally: Tally, args: list[str], case: str, inputs: int = 1, env: dict | None = None) -> None:
    done = run_process([sys.executable, "-m", "facetrust.cli.main", *args], TIMEOUT_S, env=env)
    tally.peak_rss_mb = max(tally.peak_rss_mb, done.max_rss_mb)
    outcome, detail = classify_cli(done, inputs)
    tally.add(outcome, case, detail)


def run(files: list[FileInput], work: Path, env: dict) -> Tally:
    tally = Tally("CLI")
    for command in PER_FILE:
        for item in files:
            args = [a.replace("{file}", str(item.path)) for a in command]
            if "{file}" not in command:
                args.append(str(item.path))
            _run(tally, args, f"{' '.join(command[:1])} {item.name}", env=env)
    for command in SAMPLED:
        for item in files:
            if item.name in SAMPLE:
                args = [a.replace("{file}", str(item.path)) for a in command]
                if "{file}" not in command:
                    args.append(str(item.path))
                _run(tally, args, f"{command[0]} {item.name}", env=env)
    folder = files[0].path.parent
    for command in (["detect"], ["analyze", "--workers", "2"], ["quality", "assess"]):
        _run(tally, [*command, str(folder)], f"folder {command[0]}", inputs=len(files), env=env)
    for args in BAD_OPTIONS:
        _run(tally, args, " ".join(args[:4]), env=env)
    annotate_cases(tally, work, env)
    return tally


def annotate_cases(tally: Tally, work: Path, env: dict) -> None:
    existing = work / "annotate_existing.jpg"
    existing.write_bytes(OBAMA.read_bytes())
    read_only_parent = Path("/proc/annotate")
    for target, case in ((existing, "annotate onto a file"), (work / "missing_parent" / "x" / "y", "annotate deep"),
                         (read_only_parent, "annotate into /proc"), (Path("/dev/null"), "annotate /dev/null")):
        _run(tally, ["detect", str(OBAMA), "--annotate", str(target)], case, env=env)
    os.chmod(existing, 0o644)
