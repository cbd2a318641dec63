"""The Python API surface: hostile arrays, objects, files and configurations through the public calls.

A typed :class:`facetrust.FacetrustError` (or a result) is clean; any other exception is a traceback a
caller could not have caught by type; a call over the time limit is a hang.
"""
from __future__ import annotations

import signal
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from bench.campaign.corpus import OBAMA, FileInput, hostile_arrays
from bench.campaign.outcomes import Tally

CALL_TIMEOUT_S = 120


class _Hang(Exception):
    pass


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: Any) -> None:
        raise _Hang()

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def attempt(tally: Tally, case: str, call: Callable[[], Any]) -> None:
    from facetrust.errors import FacetrustError

    try:
        with _time_limit(CALL_TIMEOUT_S):
            call()
    except _Hang:
        tally.add("hang", case, f"over {CALL_TIMEOUT_S} s")
    except FacetrustError as exc:
        text = str(exc)
        tally.add("clean_error" if text and "\n" not in text.strip() else "multiline_error", case, text)
    except Exception:  # noqa: BLE001 - the campaign counts untyped exceptions, it does not hide them
        tally.add("traceback", case, traceback.format_exc())
    else:
        tally.add("handled", case)


BAD_CONFIGS: list[tuple[str, dict]] = [
    ("unknown detector", {"detector": "nope"}),
    ("unknown recognizer", {"recognizer": "nope"}),
    ("unknown check", {"checks": ("nope",)}),
    ("detector option string", {"detector_options": {"upsample": "x"}}),
    ("detector option negative", {"detector_options": {"upsample": -1}}),
    ("detector option huge", {"detector_options": {"upsample": 10**9}}),
    ("detector option unknown", {"detector_options": {"nonsense": 1}}),
    ("detector option nan", {"detector": "yunet", "detector_options": {"score_threshold": float("nan")}}),
    ("detector option list", {"detector": "yunet", "detector_options": {"score_threshold": [1]}}),
    ("detector None", {"detector": None}),
    ("detector int", {"detector": 3}),
    ("checks string", {"checks": "quality"}),
]


def run(files: list[FileInput]) -> Tally:
    import facetrust
    from facetrust import FaceAnalyzer

    tally = Tally("Python API")
    analyzer = FaceAnalyzer()
    inputs: dict[str, Any] = {**hostile_arrays(), **{f"file {f.name}": f.path for f in files}}
    for name, value in inputs.items():
        attempt(tally, f"analyze {name}", lambda v=value: analyzer.analyze(v))
        attempt(tally, f"verify {name}", lambda v=value: analyzer.verify(v, OBAMA))
        attempt(tally, f"embed {name}", lambda v=value: analyzer.embed([v, OBAMA]))
    for name in ("file gray_face.jpg", "file rgba_face.png", "file group.jpg", "file no_face.png", "float64_nan"):
        checked = FaceAnalyzer(checks=("quality", "liveness", "forgery"))
        attempt(tally, f"checks {name}", lambda v=inputs[name]: checked.analyze(v))
    for case, options in BAD_CONFIGS:
        attempt(tally, f"config {case}", lambda o=options: FaceAnalyzer(**o).analyze(OBAMA))
    for fmr in (-1, 0, 2, float("nan"), float("inf"), "x", None):
        attempt(tally, f"verify fmr={fmr!r}", lambda f=fmr: facetrust.verify(OBAMA, OBAMA, fmr=f))
    for select in ("nope", 3, None, ""):
        attempt(tally, f"verify select={select!r}", lambda s=select: facetrust.verify(OBAMA, OBAMA, select=s))
    return tally
