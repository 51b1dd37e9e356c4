"""Progress of long transfers: a model's download (bytes, rate, ETA) and the packing of a large file.

A :class:`Meter` counts bytes from any thread and says where it is at a human pace, never per
chunk: on a terminal, one line rewritten in place on stderr; in a log (CI, a frontend that
captures output), a line through the build's :data:`~hatch_funasr.settings.Report` whenever
another tenth is done or :data:`LOG_INTERVAL` seconds have passed.  Transfers over within
:data:`QUIET_FOR` seconds say nothing beyond their caller's one-line summary.
``HATCH_FUNASR_PROGRESS`` = ``live``, ``log`` or ``off`` overrides the choice.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from hatch_funasr.settings import Report

__all__ = ["LOG_INTERVAL", "QUIET_FOR", "Meter", "format_line"]

#: Seconds before a transfer shows progress at all.
QUIET_FOR = 2.0
#: In a log: at most this long between lines (and a line per 10% done, whichever comes first).
LOG_INTERVAL = 5.0
#: On a terminal: how often the live line is redrawn.
_REDRAW = 0.25
_MiB = 2**20


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def format_line(label: str, done: int, total: int, elapsed: float) -> str:
    """``model asr: 120.0/300.0 MiB (40%), 12.0 MiB/s, ETA 0:15``."""
    done = min(done, total)
    rate = done / elapsed if elapsed > 0 else 0.0
    percent = 100 * done // total if total else 100
    line = f"{label}: {done / _MiB:.1f}/{total / _MiB:.1f} MiB ({percent}%)"
    if rate > 0:
        line += f", {rate / _MiB:.1f} MiB/s, ETA {_duration((total - done) / rate)}"
    return line


class Meter:
    """Bytes of one transfer of ``total`` bytes, reported as described in the module docstring.

    ``mode``: ``"live"`` (rewrite a line on ``stream``), ``"log"`` (lines through ``report``),
    ``"off"``; None chooses live when ``stream`` is a terminal.
    """

    def __init__(
        self,
        label: str,
        total: int,
        report: Report,
        *,
        mode: str | None = None,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label, self.total, self.report, self.clock = label, total, report, clock
        self.stream = stream if stream is not None else sys.stderr
        if mode is None:
            isatty = getattr(self.stream, "isatty", None)
            mode = "live" if isatty is not None and isatty() else "log"
        self.mode = mode
        self.done = 0
        self.started = clock()
        self._last_time = self.started
        self._last_tenth = 0
        self._drawn = False
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        """``count`` more bytes arrived (negative: a transfer started over and gave them back)."""
        with self._lock:
            self.done = max(0, self.done + count)
            if self.mode == "off":
                return
            now = self.clock()
            if now - self.started < QUIET_FOR:
                return
            line = format_line(self.label, self.done, self.total, now - self.started)
            if self.mode == "live":
                if now - self._last_time >= _REDRAW or not self._drawn or self.done >= self.total:
                    self.stream.write(f"\r{line}\x1b[K")
                    self.stream.flush()
                    self._drawn, self._last_time = True, now
                return
            tenth = 10 * min(self.done, self.total) // self.total if self.total else 10
            if tenth > self._last_tenth or now - self._last_time >= LOG_INTERVAL:
                self.report(line)
                self._last_tenth, self._last_time = tenth, now

    def close(self) -> None:
        """End the live line (the caller reports the outcome)."""
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._drawn = False
