"""Progress of long runs (generation, ``genquality build-ref``), silent for short ones.

Generating a few hundred images on a real pipeline takes minutes, and a run that prints nothing
for minutes looks hung. A bar for a two-second generation, on the other hand, is noise. So
progress appears only once ``delay`` seconds have passed, and never when the caller says
``enabled=False`` (``pytest -q``).

Where it goes is a ``sink``: on a terminal, one line redrawn in place; elsewhere (CI logs, a
pipe) a whole line every ``interval`` seconds and a last one at the end, since ``\\r`` redraws
make an unreadable log. The pytest plugin passes a sink that writes through pytest's terminal
reporter with capture suspended (as pytest-benchmark does), so progress shows although pytest
captures the test's output; the CLI writes to stderr.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Protocol, TextIO

SHOW_AFTER_SECONDS = 2.0
LINE_EVERY_SECONDS = 15.0  # not a terminal: one whole line this often (a CI log stays short)


class ProgressSink(Protocol):
    """Where progress text goes. ``is_tty``: redraw one line in place (``draw``) or write whole lines (``line``)."""

    is_tty: bool

    def draw(self, text: str) -> None: ...

    def line(self, text: str) -> None: ...

    def end(self) -> None: ...


class StreamSink:
    """A text stream (stderr): ``\\r`` redraws on a terminal, whole lines elsewhere."""

    def __init__(self, file: TextIO, is_tty: bool | None = None):
        self.file = file
        self.is_tty = bool(getattr(file, "isatty", lambda: False)()) if is_tty is None else is_tty

    def draw(self, text: str) -> None:
        self.file.write(f"\r{text}")
        self.file.flush()

    def line(self, text: str) -> None:
        self.file.write(f"{text}\n")
        self.file.flush()

    def end(self) -> None:
        self.file.write("\n")
        self.file.flush()


class Progress:
    """Counts images done and shows ``desc: k/N images [Ts]`` on ``sink`` once ``delay`` s have passed.

    ``clock`` is injectable so the delay and the interval can be tested without sleeping.
    """

    def __init__(
        self,
        total: int | None,
        *,
        desc: str,
        sink: ProgressSink,
        delay: float | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total = total
        self.desc = desc
        self.sink = sink
        self.delay = SHOW_AFTER_SECONDS if delay is None else delay
        self.interval = LINE_EVERY_SECONDS if interval is None else interval
        self.clock = clock
        self.done = 0
        self.started = clock()
        self.shown = False
        self.last_line: float | None = None

    def text(self, elapsed: float) -> str:
        return f"{self.desc}: {self.done}/{self.total if self.total is not None else '?'} images [{elapsed:.0f}s]"

    def advance(self, count: int = 1) -> None:
        """``count`` more images are done (generation counts per model call)."""
        self.set_done(self.done + count)

    def set_done(self, done: int) -> None:
        """``done`` images are done in all (build-ref counts over every rank)."""
        self.done = done
        elapsed = self.clock() - self.started
        if elapsed < self.delay:
            return
        if self.sink.is_tty:
            self.sink.draw(self.text(elapsed))
            self.shown = True
        elif self.last_line is None or elapsed - self.last_line >= self.interval:
            self.sink.line(self.text(elapsed))
            self.shown, self.last_line = True, elapsed

    def close(self) -> None:
        """End the line on a terminal; elsewhere a last line with the final count, if any line was written."""
        if not self.shown:
            return
        elapsed = self.clock() - self.started
        if self.sink.is_tty:
            self.sink.draw(self.text(elapsed))
            self.sink.end()
        elif self.last_line != elapsed:
            self.sink.line(self.text(elapsed))


@contextmanager
def progress_bar(
    total: int | None,
    *,
    desc: str,
    enabled: bool,
    delay: float | None = None,
    file: TextIO | None = None,
    sink: ProgressSink | None = None,
    interval: float | None = None,
) -> Iterator[Progress | None]:
    """Yield a ``Progress`` on ``sink`` (default: stderr), or None when not ``enabled``; closed at the end."""
    if not enabled:
        yield None
        return
    progress = Progress(
        total,
        desc=desc,
        sink=sink or StreamSink(file if file is not None else sys.stderr),
        delay=delay,
        interval=interval,
    )
    try:
        yield progress
    finally:
        progress.close()
