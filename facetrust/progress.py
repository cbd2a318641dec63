"""Progress of long work (video frames, image lists): counts and rate, for people and for programs.

Library functions that take a while accept ``progress``:

* ``True``: a rich progress bar on stderr (description, bar, done/total, rate, time left);
  it draws only when stderr is a terminal, so JSON on stdout and logs stay clean;
* a callable ``progress(done, total)``: called after every item (``total`` None when unknown),
  e.g. to drive a GUI or a server's job status;
* ``False`` / ``None``: silent.
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator, TypeVar, Union

Item = TypeVar("Item")
ProgressCallback = Callable[[int, Union[int, None]], None]
Progress = Union[bool, ProgressCallback, None]


def track(items: Iterable[Item], total: int | None, description: str, progress: Progress,
          unit: str = "items") -> Iterator[Item]:
    """Yield ``items`` unchanged while reporting progress as ``progress`` asks (see the module docstring)."""
    if not progress:
        yield from items
        return
    if callable(progress):
        done = 0
        for item in items:
            yield item
            done += 1
            progress(done, total)
        return
    yield from _rich_bar(items, total, description, unit)


def _rich_bar(items: Iterable[Item], total: int | None, description: str, unit: str) -> Iterator[Item]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TimeRemainingColumn()]
    # The bar opens with the first item, so that input failing at once (a video that cannot
    # be opened) leaves only its one error line on stderr.
    iterator = iter(items)
    try:
        first = next(iterator)
    except StopIteration:
        return
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total, rate="")
        for item in itertools.chain([first], iterator):
            yield item
            bar.advance(task)
            speed = bar.tasks[0].speed
            bar.update(task, rate=f"{speed:.1f} {unit}/s" if speed else "")
        bar.update(task, total=bar.tasks[0].completed)  # an estimated total becomes the true count
