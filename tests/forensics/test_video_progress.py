"""Long per-video checks report progress through the library: a (done, total) callback, or a
rich bar with counts and rate on stderr that the CLI turns on."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_video_check_calls_progress_with_counts_and_total(sbi_checker, hamilton_clip: Path) -> None:
    calls: list[tuple[int, int | None]] = []
    video = sbi_checker.check_video(hamilton_clip, every_seconds=0.2, max_frames=4,
                                    progress=lambda done, total: calls.append((done, total)))
    assert video.frames_sampled == 4
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_analyze_video_reports_progress(forgery_analyzer, hamilton_clip: Path) -> None:
    from facetrust.video import analyze_video

    calls: list[tuple[int, int | None]] = []
    record = analyze_video(forgery_analyzer, hamilton_clip, every_seconds=1.0, embed=False,
                           progress=lambda done, total: calls.append((done, total)))
    # the 9.2 s clip sampled every second: 10 frames, known before the first one
    assert len(record["frames"]) == 10 and calls[-1] == (10, 10) and calls[0] == (1, 10)


def test_forgery_cli_shows_progress_on_stderr_and_keeps_stdout_json(hamilton_clip: Path) -> None:
    import json

    done = subprocess.run([sys.executable, "-m", "facetrust.cli.main", "forgery", str(hamilton_clip), "-m", "sbi",
                           "--max-frames", "3", "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["frames_sampled"] == 3
    # the finished bar: description, done/total and the measured rate
    assert "forgery short_hamilton_clip.mp4" in done.stderr and "3/3" in done.stderr
    assert "frames/s" in done.stderr
