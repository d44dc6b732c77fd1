"""A log-line budget per rolling minute of processing time."""

from __future__ import annotations

import math

from drift_monitor.clock import Clock


class RateLimiter:
    """At most ``per_minute`` events per rolling minute (processing time)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._window_start = -math.inf
        self._used = 0
        self.suppressed = 0

    def allow(self) -> bool:
        """True when another log line may be written now."""
        now = self._clock.now()
        if now - self._window_start >= 60:
            self._window_start = now
            self._used = 0
        if self._used < self._per_minute:
            self._used += 1
            return True
        self.suppressed += 1
        return False
