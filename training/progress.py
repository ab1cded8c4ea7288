"""Progress of long phases: a tqdm bar on a terminal; in a log file (stderr not a terminal) one
plain line every `LOG_INTERVAL_S` seconds and one at the end, instead of tqdm's redraws.

    bar = progress.bar(total=n, desc="sample")   # tqdm's arguments
    bar.update(k); bar.set_postfix(loss=...); bar.close()
    progress.line("drawing 64 samples ...")      # a line that does not break a bar
"""

from __future__ import annotations

import os
import sys
import time

from tqdm.auto import tqdm

LOG_INTERVAL_S = float(os.environ.get("SCOREJAX_LOG_INTERVAL", 30.0))


def _tty(stream) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()


class LineProgress:
    """The part of tqdm's interface the project uses, written as occasional whole lines."""

    def __init__(self, *, total=None, initial: int = 0, desc: str = "", disable: bool = False,
                 file=None, interval: float | None = None, **_):
        self.total, self.n, self.desc, self.disable = total, initial, desc, disable
        self.file = file or sys.stderr
        self.interval = LOG_INTERVAL_S if interval is None else interval
        self.start = self.last = time.monotonic()
        self.initial, self.postfix = initial, ""

    def _emit(self) -> None:
        elapsed = time.monotonic() - self.start
        rate = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        total = f"/{self.total}" if self.total is not None else ""
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}{total} ({rate:.3g}/s, {elapsed:.0f} s{extra})", file=self.file, flush=True)
        self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        self.n += n
        if not self.disable and time.monotonic() - self.last >= self.interval:
            self._emit()

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def write(self, text: str, file=None) -> None:
        print(text, file=file or self.file, flush=True)

    def close(self) -> None:
        if not self.disable and self.n != self.initial:
            self._emit()
        self.disable = True

    def __iter__(self):
        raise TypeError("LineProgress is updated by hand; use bar(total=...) and update()")


def bar(**kwargs):
    """tqdm(**kwargs) on a terminal (stderr), else a `LineProgress` with the same arguments."""
    file = kwargs.get("file", sys.stderr)
    if _tty(file):
        return tqdm(**kwargs)
    return LineProgress(**kwargs)


def line(text: str) -> None:
    """One line on stderr, between a bar's redraws."""
    if _tty(sys.stderr):
        tqdm.write(text, file=sys.stderr)
    else:
        print(text, file=sys.stderr, flush=True)
