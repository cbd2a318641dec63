"""Outcome bookkeeping of the adversarial campaign: one tally per surface, every bad case kept."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

# An accepted input (a result), a typed/one-line error, and the failures the campaign hunts for.
GOOD = ("handled", "clean_error")
BAD = ("traceback", "multiline_error", "server_5xx", "hang", "data_lost")
COLUMNS = GOOD + BAD


@dataclass
class Tally:
    surface: str
    counts: Counter = field(default_factory=Counter)
    failures: list[dict] = field(default_factory=list)
    peak_rss_mb: float = 0.0

    def add(self, outcome: str, case: str, detail: str = "") -> None:
        assert outcome in COLUMNS, outcome
        self.counts[outcome] += 1
        if outcome in BAD:
            self.failures.append({"case": case, "outcome": outcome, "detail": detail[-2000:]})

    @property
    def tried(self) -> int:
        return sum(self.counts.values())

    def row(self) -> dict:
        return {"surface": self.surface, "tried": self.tried, **{c: self.counts[c] for c in COLUMNS},
                "peak_rss_mb": round(self.peak_rss_mb)}


@dataclass
class Completed:
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str
    seconds: float
    max_rss_mb: float


def run_process(command: list[str], timeout_s: float, env: dict[str, str] | None = None,
                cwd: str | None = None) -> Completed:
    """Run a command with a hang guard; its own peak RSS comes from wait4 (not the children's maximum)."""
    import tempfile

    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                   start_new_session=True)
        returncode: int | None = None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - started > timeout_s:
                os.killpg(process.pid, signal.SIGKILL)
                _, _, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        process.returncode = returncode if returncode is not None else -9  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Completed(returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                         time.monotonic() - started, usage.ru_maxrss / 1024)


def classify_cli(done: Completed, inputs: int = 1) -> tuple[str, str]:
    """One input must end in a result or one readable error line; a folder run in one line per bad input."""
    text = done.stdout + done.stderr
    if done.returncode is None:
        return "hang", f"killed after {done.seconds:.0f} s"
    if "Traceback (most recent call last)" in text or done.returncode < 0:
        return "traceback", text
    if done.returncode == 0:
        return "handled", ""
    error_lines = [line for line in done.stderr.splitlines() if line.strip()]
    if 1 <= len(error_lines) <= inputs:
        return "clean_error", error_lines[0]
    return "multiline_error", done.stderr
