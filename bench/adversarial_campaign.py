"""Adversarial campaign: hostile inputs against every surface, counted per outcome.

    python bench/adversarial_campaign.py                  # all surfaces (about 30 min on 2 cores)
    python bench/adversarial_campaign.py --surface rest   # one surface

Prints the table of docs/reliability.md (inputs tried, results, clean errors, and the failures:
tracebacks, malformed errors, 5xx, hangs, data lost) and writes every failure with its detail to
bench/results/campaign.json. Exit status 1 when any failure was found.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.campaign import api_surface, cli_surface, crash_surface, gallery_surface, rest_surface  # noqa: E402
from bench.campaign.corpus import make_files  # noqa: E402
from bench.campaign.outcomes import BAD, COLUMNS, Tally  # noqa: E402
from bench.common import RESULTS  # noqa: E402

SURFACES = ("cli", "api", "gallery", "rest", "crash")
HEADERS = {"handled": "results", "clean_error": "clean errors", "traceback": "tracebacks",
           "multiline_error": "malformed errors", "server_5xx": "5xx", "hang": "hangs", "data_lost": "data lost"}


def table(tallies: list[Tally]) -> str:
    lines = ["| surface | inputs tried | " + " | ".join(HEADERS[c] for c in COLUMNS) + " | peak RSS (MB) |",
             "|---|" + "---:|" * (len(COLUMNS) + 2)]
    for tally in tallies:
        row = tally.row()
        rss = str(row["peak_rss_mb"]) if row["peak_rss_mb"] else "–"
        lines.append(f"| {tally.surface} | {tally.tried} | " + " | ".join(str(row[c]) for c in COLUMNS) + f" | {rss} |")
    total = {c: sum(t.counts[c] for t in tallies) for c in COLUMNS}
    lines.append(f"| **all** | {sum(t.tried for t in tallies)} | " + " | ".join(str(total[c]) for c in COLUMNS) + " | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--surface", action="append", choices=SURFACES, help="Surfaces to run (default: all).")
    parser.add_argument("--keep", action="store_true", help="Keep the work folder.")
    args = parser.parse_args()
    surfaces = args.surface or list(SURFACES)
    work = Path(tempfile.mkdtemp(prefix="facetrust-campaign-"))
    os.environ.setdefault("FACETRUST_OFFLINE", "1")
    env = {**os.environ, "FACETRUST_HOME": str(work / "home"), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    started = time.monotonic()
    tallies: list[Tally] = []
    try:
        files = make_files(work / "files")
        runners = {"cli": lambda: cli_surface.run(files, work, env), "api": lambda: api_surface.run(files),
                   "gallery": lambda: gallery_surface.run(work), "rest": lambda: rest_surface.run(files, work),
                   "crash": lambda: crash_surface.run(work)}
        for surface in surfaces:
            print(f"-- {surface} …", file=sys.stderr, flush=True)
            tally = runners[surface]()
            tallies.append(tally)
            print(f"   {tally.row()}", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(table(tallies))
    print(f"\n{time.monotonic() - started:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "campaign.json"
    out.write_text(json.dumps({"rows": [t.row() for t in tallies],
                               "failures": {t.surface: t.failures for t in tallies}}, indent=1))
    print(f"failures with details: {out}")
    return 1 if any(t.counts[c] for t in tallies for c in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
