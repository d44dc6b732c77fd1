"""A small progress indicator on stderr for long reads (large training files)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Prints ``label: 42% (120.0 MB of 285.3 MB)``: in place on a terminal, else a line
    per 10 %. Silent for inputs below ``min_total`` units (small files need no progress)."""

    def __init__(self, label: str, stream: TextIO | None = None, min_total: int = 20_000_000):
        self._label = label
        self._stream = stream or sys.stderr
        self._min_total = min_total
        self._last_pct = -1
        self._last_t = 0.0
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, unit: str) -> None:
        """Report ``done`` of ``total`` units (``bytes`` or ``rows``)."""
        if total < self._min_total and unit == "bytes":
            return
        pct = int(100 * done / total) if total else 100
        now = time.monotonic()
        if self._tty:
            if pct != self._last_pct and (now - self._last_t > 0.2 or pct == 100):
                end = "\n" if pct == 100 else ""
                self._stream.write(
                    f"\r{self._label}: {pct:3d}% ({_fmt(done, unit)} of {_fmt(total, unit)}){end}"
                )
                self._stream.flush()
                self._last_t = now
        elif pct // 10 != self._last_pct // 10:
            self._stream.write(
                f"{self._label}: {pct}% ({_fmt(done, unit)} of {_fmt(total, unit)})\n"
            )
        self._last_pct = pct


def _fmt(n: int, unit: str) -> str:
    if unit == "bytes":
        return f"{n / 1e6:.1f} MB"
    return f"{n:,} {unit}"
