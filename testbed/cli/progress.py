"""A one-line progress bar for building and tearing down large networks on a terminal.

    bar = progress_for(len(plan.nodes))        # None when not worth it or not a terminal
    Network(plan, progress=bar)

The callback gets ``(stage, done, total)``; each stage is redrawn in place and ends with
a newline showing its count and rate. Nothing is written when the stream is not a tty.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

THRESHOLD = 40          # nodes; smaller networks build in well under a second
WIDTH = 30              # characters of bar
MIN_REDRAW = 0.05       # seconds between redraws of one stage


class ProgressBar:
    """Callable ``(stage, done, total)`` that draws ``stage [#####.....] done/total rate/s``."""

    def __init__(self, stream: TextIO | None = None, width: int = WIDTH):
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.stage: str | None = None
        self.started = 0.0
        self.last_draw = 0.0
        self.finished: set[str] = set()
        self.last_event = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self._end_line()
            # A stage began when the previous one ended (chunked stages may tick only once).
            self.stage, self.last_draw = stage, 0.0
            self.started = now if done == 0 else self.last_event
        self.last_event = now
        complete = total > 0 and done >= total
        if not complete and now - self.last_draw < MIN_REDRAW:
            return
        self.last_draw = now
        self.stream.write("\r" + render(stage, done, total, now - self.started, self.width))
        if complete:
            self.stream.write("\n")
            self.finished.add(stage)
            self.stage = None
        self.stream.flush()

    def _end_line(self) -> None:
        if self.stage is not None and self.stage not in self.finished:
            self.stream.write("\n")
            self.stream.flush()

    def close(self) -> None:
        """End an unfinished line (after an interruption)."""
        self._end_line()
        self.stage = None


def render(stage: str, done: int, total: int, elapsed: float, width: int = WIDTH) -> str:
    """The text of one bar: ``links      [##########----------]  100/200   1520/s``."""
    fraction = 0.0 if total <= 0 else min(1.0, done / total)
    filled = int(round(fraction * width))
    rate = done / elapsed if elapsed > 0 else 0.0
    digits = len(str(max(total, 1)))
    return (f"*** {stage:<12} [{'#' * filled}{'-' * (width - filled)}] "
            f"{done:>{digits}}/{total} {rate:8.0f}/s")


def progress_for(nodes: int, stream: TextIO | None = None, threshold: int = THRESHOLD) -> ProgressBar | None:
    """A ProgressBar when ``nodes`` is above ``threshold`` and the stream is a terminal, else None."""
    stream = stream if stream is not None else sys.stderr
    if nodes <= threshold:
        return None
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    return ProgressBar(stream)
