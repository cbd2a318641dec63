"""Crashes: `kill -9` of a folder enrolment and of an import at random moments, then a data-loss check.

After every kill the gallery must open, pass its integrity check, and still hold every identity that
was committed before the kill with all of its templates; the next run must resume and finish.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.campaign.outcomes import Tally
from bench.common import LFW_ROOT

PEOPLE = 40
KILLS = 6


def _people_folder(work: Path) -> Path:
    folder = work / "people"
    if folder.is_dir():
        return folder
    chosen = sorted(p for p in LFW_ROOT.iterdir() if len(list(p.glob("*.jpg"))) >= 2)[:PEOPLE]
    for person in chosen:
        (folder / person.name).mkdir(parents=True)
        for image in sorted(person.glob("*.jpg"))[:2]:
            (folder / person.name / image.name).symlink_to(image)
    return folder


def _committed(location: Path) -> dict[str, int]:
    from facetrust.gallery import Gallery

    gallery = Gallery.open(location, readonly=True)
    try:
        return {i.id: len(i.templates) for i in gallery.list(0, None)}
    finally:
        gallery.close()


def _kill_after(command: list[str], seconds: float) -> None:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(seconds)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _survived(tally: Tally, location: Path, before: dict[str, int], case: str) -> dict[str, int]:
    from facetrust.gallery import Gallery

    try:
        gallery = Gallery.open(location)
        report = gallery.check()
        gallery.close()
        after = _committed(location)
    except Exception as exc:  # noqa: BLE001 - an unopenable gallery after a crash is data loss
        tally.add("data_lost", case, f"gallery unusable after kill: {exc!r}")
        return before
    lost = {i: n for i, n in before.items() if after.get(i, 0) < n}
    if lost or not report.ok:
        tally.add("data_lost", case, f"lost={lost} problems={report.problems}")
    else:
        tally.add("handled", case)
    return after


def run(work: Path) -> Tally:
    from facetrust.gallery import Gallery

    tally = Tally("Crash (kill -9)")
    rng = random.Random(3)
    folder = _people_folder(work)
    location = work / "crash.gallery"
    Gallery.create(location).close()
    cli = [sys.executable, "-m", "facetrust.cli.main", "gallery"]
    before: dict[str, int] = {}
    for round_ in range(KILLS):
        _kill_after([*cli, "enroll", str(location), "--folder", str(folder)], rng.uniform(3, 12))
        before = _survived(tally, location, before, f"kill -9 enrolment #{round_ + 1}")
    done = subprocess.run([*cli, "enroll", str(location), "--folder", str(folder)], capture_output=True, text=True)
    after = _committed(location)
    if done.returncode not in (0, 1) or len(after) < PEOPLE:
        tally.add("data_lost", "resume after kills", f"rc={done.returncode} identities={len(after)} {done.stderr[-500:]}")
    else:
        tally.add("handled", "resume after kills")
    export = work / "crash.jsonl.gz"
    subprocess.run([*cli, "export", str(location), str(export)], check=True, capture_output=True)
    target = work / "import.gallery"
    Gallery.create(target).close()
    before = {}
    for round_ in range(3):
        _kill_after([*cli, "import", str(target), str(export), "--skip-existing"], rng.uniform(1.5, 4))
        before = _survived(tally, target, before, f"kill -9 import #{round_ + 1}")
    return tally
