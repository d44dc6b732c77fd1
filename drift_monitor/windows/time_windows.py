"""Event-time windows built from panes: tumbling and sliding.

- ``tumbling``: one pane per window, ``[k*size, (k+1)*size)`` in event time.
- ``sliding``: panes of ``slide``; the window ending at a pane's end is the union of
  the ``size/slide`` panes before it. Panes are kept until no future window needs them.

A pane closes when the watermark (see :mod:`.watermark`: the largest corroborated
event time, minus allowed lateness) reaches its end, or when the model has been idle
for ``idle_timeout_seconds`` of processing time. An event older than ``closed_until``
(the end of the last acked window) is late: counted and dropped. After a restart,
``restore`` seeds ``closed_until`` so that re-read events of already-evaluated windows
are recognised as replays rather than opening those windows again.
"""

from __future__ import annotations

import math
import random

from drift_monitor.windows.buffers import PaneBuffer, event_ids, window_data
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import (
    AddResult,
    ClosedWindow,
    Row,
    TopicPartition,
    WindowPreview,
)
from drift_monitor.windows.settings import WindowSettings
from drift_monitor.windows.watermark import RobustWatermark


class _PaneWindows:
    """Shared runtime of pane-based windows; subclasses fix the pane geometry."""

    def __init__(
        self,
        model: str,
        settings: WindowSettings,
        layout: ModelLayout,
        pane_seconds: float,
        panes_per_window: int,
        rng: random.Random | None = None,
        keep_ids: bool = False,
    ) -> None:
        self.model = model
        self.settings = settings
        self.layout = layout
        self._rng = rng or random.Random(0)  # reservoir sampling only; no security use
        self._keep_ids = keep_ids
        self._pane = pane_seconds
        # Panes sit on multiples of their length since the epoch, moved by offset_seconds
        # (so a daily window can run 02:00 to 02:00 UTC).
        self._offset = settings.offset_seconds % pane_seconds
        self._panes_per_window = panes_per_window
        self._capacity = max(settings.max_events // panes_per_window, 1)
        self.panes: dict[float, PaneBuffer] = {}
        self.closed_until = -math.inf
        self.watermark = RobustWatermark(pane_seconds + settings.allowed_lateness_seconds)
        self.last_event_at: float | None = None  # processing time of the last event

    @property
    def max_ts(self) -> float:
        """The largest corroborated event time seen (epoch s)."""
        return self.watermark.max_ts

    # -- state -------------------------------------------------------------------------

    def restore(self, closed_until: float) -> None:
        """Resume after a restart or rebalance: windows ending at or before
        ``closed_until`` (epoch seconds) were already evaluated."""
        self.closed_until = max(self.closed_until, closed_until)

    def first_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the smallest offset still held in a pane (commit bound)."""
        out: dict[TopicPartition, int] = {}
        for pane in self.panes.values():
            for tp, off in pane.first_offsets.items():
                if tp not in out or off < out[tp]:
                    out[tp] = off
        return out

    @property
    def open_events(self) -> int:
        """Events in panes not yet closed."""
        return sum(p.count for p in self.panes.values() if p.end > self.closed_until)

    # -- hot path ----------------------------------------------------------------------

    def add(self, row: Row, now: float, replay: bool = False) -> AddResult:
        """Offer one event (already validated); see :class:`~.runtime.WindowRuntime`."""
        self.last_event_at = now
        ts = row.ts
        if ts < self.closed_until and (not replay or ts < self._retained_from):
            return AddResult("replayed" if replay else "late")
        start = self._pane_start(ts)
        pane = self.panes.get(start)
        if pane is None:
            pane = self.panes[start] = self._new_pane(start, start + self._pane)
        pane.add(row.nums, row.codes, ts, row.tp, row.offset, row.event_id)
        result = AddResult("accepted")
        if self.watermark.observe(ts):
            mark = self.watermark.max_ts - self.settings.allowed_lateness_seconds
            if mark >= self._next_end():
                result.closed = self._produce_until(mark)
        return result

    def _pane_start(self, ts: float) -> float:
        return math.floor((ts - self._offset) / self._pane) * self._pane + self._offset

    def _new_pane(self, start: float, end: float) -> PaneBuffer:
        return PaneBuffer(
            start,
            end,
            len(self.layout.numeric),
            len(self.layout.categorical),
            self._capacity,
            self._rng,
            self._keep_ids,
        )

    def _open_ends(self) -> list[float]:
        return [p.end for p in self.panes.values() if p.end > self.closed_until]

    def _next_end(self) -> float:
        ends = self._open_ends()
        return min(ends) if ends else math.inf

    # -- closing -----------------------------------------------------------------------

    def _produce_until(self, mark: float) -> list[ClosedWindow]:
        return [self._window_ending(end) for end in sorted(self._open_ends()) if end <= mark]

    def ack(self, window: ClosedWindow) -> None:
        """``window`` was evaluated and its effects are durable: forget what it alone
        needed. Acks arrive in window order."""
        if window.end <= self.closed_until:
            return
        self.closed_until = window.end
        keep_from = self._retained_from
        for start in [s for s, p in self.panes.items() if p.end <= keep_from + 1e-9]:
            del self.panes[start]

    def close_all(self) -> list[ClosedWindow]:
        """Produce every open window now (idle timeout, shutdown flush)."""
        return [self._window_ending(end) for end in sorted(self._open_ends())]

    def touch(self, now: float) -> None:
        """Restart the idle clock at processing time ``now`` (when events are known to
        be held up elsewhere, e.g. while the brokers are unreachable)."""
        if self.last_event_at is not None:
            self.last_event_at = max(self.last_event_at, now)

    def idle_close(self, now: float) -> list[ClosedWindow]:
        """Produce every window up to the watermark's pane when no event arrived for
        ``idle_timeout_seconds`` (processing time ``now``, epoch seconds). Panes beyond
        it hold only suspect outliers (see :mod:`.watermark`): closing them would move
        ``closed_until`` past every on-time event to come, so they wait for the stream."""
        if self.last_event_at is None or now - self.last_event_at < (
            self.settings.idle_timeout_seconds
        ):
            return []
        if not math.isfinite(self.watermark.max_ts):
            # Only late events since a restart (they set last_event_at): no open pane.
            return []
        horizon = self._pane_start(self.watermark.max_ts) + self._pane
        return [self._window_ending(end) for end in sorted(self._open_ends()) if end <= horizon]

    def preview(self) -> WindowPreview | None:
        """The first open window as it is now; None when empty."""
        ends = self._open_ends()
        if not ends:
            return None
        w = self._window_ending(min(ends))
        return WindowPreview(w.model, w.start, w.end, w.events, w.data)

    def _window_ending(self, end: float) -> ClosedWindow:
        start = end - self._pane * self._panes_per_window
        panes = [p for s, p in sorted(self.panes.items()) if s >= start - 1e-9 and p.end <= end]
        data = window_data(self.layout, panes, start, end)
        ids = event_ids(panes) if self._keep_ids else None
        return ClosedWindow(self.model, start, end, sum(p.count for p in panes), data, ids)

    @property
    def _retained_from(self) -> float:
        """Event time from which closed panes are still needed by a future window."""
        return self.closed_until - (self._panes_per_window - 1) * self._pane


class TumblingWindows(_PaneWindows):
    """Consecutive windows of ``size_seconds``: one pane each."""

    def __init__(
        self,
        model: str,
        settings: WindowSettings,
        layout: ModelLayout,
        rng: random.Random | None = None,
        keep_ids: bool = False,
    ) -> None:
        super().__init__(model, settings, layout, settings.size_seconds, 1, rng, keep_ids)


class SlidingWindows(_PaneWindows):
    """Windows of ``size_seconds`` every ``slide_seconds``: panes of one slide."""

    def __init__(
        self,
        model: str,
        settings: WindowSettings,
        layout: ModelLayout,
        rng: random.Random | None = None,
        keep_ids: bool = False,
    ) -> None:
        slide = settings.slide_seconds or settings.size_seconds
        per_window = round(settings.size_seconds / slide)
        super().__init__(model, settings, layout, slide, per_window, rng, keep_ids)
