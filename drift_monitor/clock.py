"""Injected time. Nothing in drift-monitor reads the wall clock directly except SystemClock."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Source of processing time, in seconds since the Unix epoch."""

    def now(self) -> float:
        """Current processing time in seconds since the epoch (float)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> float:
        """``time.time()``: seconds since the epoch."""
        return time.time()


class ManualClock:
    """A clock that only moves when told to; for tests and replays."""

    def __init__(self, start: float = 0.0) -> None:
        self._t = float(start)

    def now(self) -> float:
        """The time last set, in seconds since the epoch."""
        return self._t

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards")
        self._t += seconds

    def set(self, t: float) -> None:
        """Jump to ``t`` seconds since the epoch."""
        self._t = float(t)
