"""Window runtime of one model: assigning events to panes, watermarks, closing.

Window *definitions* come from :class:`~drift_monitor.config.models.WindowSettings`;
this module is their runtime. All windows are built from panes:

- ``tumbling``: one pane per window, ``[k*size, (k+1)*size)`` in event time.
- ``sliding``: panes of ``slide``; the window ending at a pane's end is the union of
  the ``size/slide`` panes before it. Panes are kept until no future window needs them.
- ``count``: one open pane that closes after ``size_events`` events (bounds = the
  event times seen).

A pane closes when the watermark (largest event time seen minus allowed lateness)
reaches its end, or when the model has been idle for ``idle_timeout_seconds`` of
processing time. An event older than ``closed_until`` (the end of the last closed
window) is late: counted and dropped. After a restart, ``restore`` seeds
``closed_until`` so that re-read events of already-evaluated windows are recognised
as replays rather than opening those windows again.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np

from drift_monitor.config.models import WindowSettings
from drift_monitor.evaluation.evaluate import WindowData
from drift_monitor.windows.buffers import PaneBuffer
from drift_monitor.windows.layout import ModelLayout

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A window ready for evaluation. ``events`` is exact; ``data`` holds at most
    ``max_events`` rows (a uniform sample beyond that)."""

    model: str
    start: float
    end: float
    events: int
    data: WindowData
    event_ids: tuple[str, ...] | None = None
    partial: bool = False


@dataclass(slots=True)
class AddResult:
    """Outcome of offering one event to the windows."""

    outcome: str  # accepted | late | replayed
    closed: list[ClosedWindow] = field(default_factory=list)


class ModelWindows:
    """Open panes and the watermark of one model."""

    def __init__(
        self,
        model: str,
        settings: WindowSettings,
        layout: ModelLayout,
        rng: random.Random | None = None,
        keep_ids: bool = False,
    ) -> None:
        self.model = model
        self.settings = settings
        self.layout = layout
        self._rng = rng or random.Random(0)  # reservoir sampling only; no security use
        self._keep_ids = keep_ids
        self.panes: dict[float, PaneBuffer] = {}
        self.closed_until = -math.inf
        self.max_ts = -math.inf
        self.last_event_at: float | None = None  # processing time of the last event
        s = settings
        if s.type == "sliding":
            assert s.slide_seconds is not None
            self._pane = s.slide_seconds
            self._panes_per_window = round(s.size_seconds / s.slide_seconds)
        else:
            self._pane = s.size_seconds
            self._panes_per_window = 1
        cap = s.max_events // self._panes_per_window
        self._capacity = max(cap, 1)

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

    def add(
        self,
        nums: list[float],
        codes: list[int],
        ts: float,
        tp: TopicPartition,
        offset: int,
        event_id: str | None,
        now: float,
        replay: bool = False,
    ) -> AddResult:
        """Offer one event (already validated). ``replay`` marks a record re-read after a
        restart that the previous run had already processed."""
        s = self.settings
        self.last_event_at = now
        if s.type == "count":
            return self._add_count(nums, codes, ts, tp, offset, event_id)
        if ts < self.closed_until and (not replay or ts < self._retained_from):
            return AddResult("replayed" if replay else "late")
        start = math.floor(ts / self._pane) * self._pane
        pane = self.panes.get(start)
        if pane is None:
            pane = self._new_pane(start, start + self._pane)
            self.panes[start] = pane
        pane.add(nums, codes, ts, tp, offset, event_id)
        result = AddResult("accepted")
        if ts > self.max_ts:
            self.max_ts = ts
            watermark = ts - s.allowed_lateness_seconds
            if watermark >= self._next_end():
                result.closed = self.close_until(watermark)
        return result

    def _add_count(
        self,
        nums: list[float],
        codes: list[int],
        ts: float,
        tp: TopicPartition,
        offset: int,
        event_id: str | None,
    ) -> AddResult:
        pane = self.panes.get(0.0)
        if pane is None:
            pane = self._new_pane(0.0, math.inf)
            self.panes[0.0] = pane
        pane.add(nums, codes, ts, tp, offset, event_id)
        self.max_ts = max(self.max_ts, ts)
        result = AddResult("accepted")
        if pane.count >= self.settings.size_events:
            result.closed = self.close_all()
        return result

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

    def _next_end(self) -> float:
        ends = [p.end for p in self.panes.values() if p.end > self.closed_until]
        return min(ends) if ends else math.inf

    # -- closing -----------------------------------------------------------------------

    def close_until(self, watermark: float) -> list[ClosedWindow]:
        """Close every pane whose end is <= ``watermark``; returns their windows."""
        closed: list[ClosedWindow] = []
        for start in sorted(self.panes):
            pane = self.panes[start]
            if pane.end <= self.closed_until:
                continue
            if pane.end > watermark:
                break
            closed.append(self._window_ending(pane.end))
            self.closed_until = pane.end
        self._drop_expired()
        return closed

    def close_all(self) -> list[ClosedWindow]:
        """Close every open pane now (idle timeout, count window full, shutdown flush)."""
        if self.settings.type == "count":
            pane = self.panes.pop(0.0, None)
            if pane is None or pane.count == 0:
                return []
            return [self._window_of([pane], pane.min_ts, pane.max_ts)]
        open_ends = [p.end for p in self.panes.values() if p.end > self.closed_until]
        if not open_ends:
            return []
        return self.close_until(max(open_ends))

    def touch(self, now: float) -> None:
        """Restart the idle clock at processing time ``now`` (when events are known to
        be held up elsewhere, e.g. while the brokers are unreachable)."""
        if self.last_event_at is not None:
            self.last_event_at = max(self.last_event_at, now)

    def idle_close(self, now: float) -> list[ClosedWindow]:
        """Close everything when no event arrived for ``idle_timeout_seconds``
        (processing time ``now``, epoch seconds)."""
        if self.last_event_at is None or now - self.last_event_at < (
            self.settings.idle_timeout_seconds
        ):
            return []
        return self.close_all()

    def snapshot(self) -> ClosedWindow | None:
        """The open window as it is now (for periodic evaluation); None when empty."""
        if self.settings.type == "count":
            pane = self.panes.get(0.0)
            if pane is None or pane.count == 0:
                return None
            w = self._window_of([pane], pane.min_ts, pane.max_ts)
        else:
            ends = [p.end for p in self.panes.values() if p.end > self.closed_until]
            if not ends:
                return None
            w = self._window_ending(min(ends))
        return ClosedWindow(w.model, w.start, w.end, w.events, w.data, w.event_ids, partial=True)

    def _window_ending(self, end: float) -> ClosedWindow:
        start = end - self._pane * self._panes_per_window
        panes = [p for s, p in sorted(self.panes.items()) if s >= start - 1e-9 and p.end <= end]
        return self._window_of(panes, start, end)

    def _window_of(self, panes: list[PaneBuffer], start: float, end: float) -> ClosedWindow:
        layout = self.layout
        numeric = {
            name: _concat([p.numeric_array(i) for p in panes], np.float64)
            for i, name in enumerate(layout.numeric)
        }
        categorical = {
            slot.name: _concat([p.code_array(i) for p in panes], np.int32)
            for i, slot in enumerate(layout.categorical)
        }
        kept = sum(p.kept for p in panes)
        ids: tuple[str, ...] | None = None
        if self._keep_ids:
            ids = tuple(i for p in panes for i in (p.event_ids or []))
        data = WindowData(
            events=kept, numeric=numeric, categorical=categorical, start=start, end=end
        )
        return ClosedWindow(self.model, start, end, sum(p.count for p in panes), data, ids)

    @property
    def _retained_from(self) -> float:
        """Event time from which closed panes are still needed by a future window."""
        return self.closed_until - (self._panes_per_window - 1) * self._pane

    def _drop_expired(self) -> None:
        keep_from = self._retained_from
        for start in [s for s, p in self.panes.items() if p.end <= keep_from + 1e-9]:
            del self.panes[start]
        if self._panes_per_window == 1:
            for start in [s for s, p in self.panes.items() if p.end <= self.closed_until]:
                del self.panes[start]


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype=dtype)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts)
