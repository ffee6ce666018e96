"""A progress bar for long generations, silent for short ones.

Generating a few hundred images on a real pipeline takes minutes, and a test run that prints
nothing for minutes looks hung. A bar for a two-second generation, on the other hand, is noise
in the pytest output. So the bar appears only once ``delay`` seconds have passed (tqdm's own
``delay`` option), and never when the caller says ``enabled=False`` (``pytest -q``, no
terminal). Without tqdm installed a minimal one-line bar does the same job.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

SHOW_AFTER_SECONDS = 2.0


class TextProgressBar:
    """A one-line ``\\r`` bar on a stream, drawn only after ``delay`` seconds.

    ``clock`` is injectable so the delay can be tested without sleeping.
    """

    def __init__(self, total: int, *, desc: str, file: TextIO, delay: float = SHOW_AFTER_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.total = total
        self.desc = desc
        self.file = file
        self.delay = delay
        self.clock = clock
        self.done = 0
        self.started = clock()
        self.drawn = False

    def update(self, count: int = 1) -> None:
        self.done += count
        elapsed = self.clock() - self.started
        if elapsed >= self.delay:
            self.file.write(f"\r{self.desc}: {self.done}/{self.total} images [{elapsed:.0f}s]")
            self.file.flush()
            self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.file.write("\n")
            self.file.flush()


def _tqdm_bar(total: int, desc: str, file: TextIO, delay: float):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="img", file=file, delay=delay, leave=False, dynamic_ncols=True)


@contextmanager
def progress_bar(total: int, *, desc: str, enabled: bool, delay: float = SHOW_AFTER_SECONDS,
                 file: TextIO | None = None, use_tqdm: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield ``update(count)``; a bar on ``file`` (stderr) once ``delay`` seconds have passed."""
    if not enabled:
        yield lambda count=1: None
        return
    file = file if file is not None else sys.stderr
    bar = _tqdm_bar(total, desc, file, delay) if use_tqdm else None
    if bar is None:
        bar = TextProgressBar(total, desc=desc, file=file, delay=delay)
    try:
        yield bar.update
    finally:
        bar.close()
