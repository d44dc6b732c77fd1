"""An event-time watermark that one outlier cannot pull ahead.

A plain "largest event time seen" watermark lets a single event stamped an hour
ahead (a skewed producer clock, a hostile record) make every on-time event after it
``late``. Here an event more than ``jump`` seconds beyond the trusted maximum is a
*suspect*: it is windowed like any other event but does not move the watermark until a
second suspect corroborates it (two events within ``jump`` of each other), as a real
jump in the stream (a producer resuming after a gap) soon does. A lone outlier stays a
suspect for ever; at most :data:`MAX_SUSPECTS` are remembered (the oldest dropped).

``jump`` is the window's pane length plus the allowed lateness: a stream advancing
normally never moves that far in one event. The very first event is trusted (nothing
to compare it with). No wall clock is involved: the decoder separately rejects events
too far beyond the wall clock (``future_timestamp``).
"""

from __future__ import annotations

import bisect
import math

MAX_SUSPECTS = 16


class RobustWatermark:
    """The largest corroborated event time (epoch seconds)."""

    __slots__ = ("_jump", "_suspects", "max_ts")

    def __init__(self, jump: float) -> None:
        self._jump = jump
        self.max_ts = -math.inf
        self._suspects: list[float] = []

    def observe(self, ts: float) -> bool:
        """Offer one event time; True when the trusted maximum moved."""
        if ts <= self.max_ts:
            return False
        if self.max_ts == -math.inf or ts - self.max_ts <= self._jump:
            self.max_ts = ts
            self._prune()
            return True
        i = bisect.bisect_left(self._suspects, ts - self._jump)
        near = self._suspects[i:]
        if near and near[0] <= ts + self._jump:
            self.max_ts = max(ts, *(s for s in near if s <= ts + self._jump))
            self._prune()
            return True
        bisect.insort(self._suspects, ts)
        if len(self._suspects) > MAX_SUSPECTS:
            del self._suspects[0]
        return False

    @property
    def jump(self) -> float:
        """Seconds beyond the trusted maximum from which an event is a suspect."""
        return self._jump

    def advance(self, ts: float) -> None:
        """The effect of observing, in order, event times none of which was a suspect
        (each at most ``jump`` beyond the maximum before it), ``ts`` the largest."""
        if ts > self.max_ts:
            self.max_ts = ts
            self._prune()

    def copy(self) -> RobustWatermark:
        """An independent copy (to work out what observing would do)."""
        twin = RobustWatermark(self._jump)
        twin.max_ts = self.max_ts
        twin._suspects = list(self._suspects)
        return twin

    @property
    def suspects(self) -> int:
        """Event times held back as possible outliers."""
        return len(self._suspects)

    def _prune(self) -> None:
        self._suspects = [s for s in self._suspects if s > self.max_ts]
