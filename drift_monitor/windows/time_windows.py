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

import numpy as np
import numpy.typing as npt

from drift_monitor.windows.buffers import PaneBuffer, event_ids, window_data
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import (
    ACCEPTED,
    LATE,
    REPLAYED,
    AddResult,
    BlockPlan,
    ClosedWindow,
    Row,
    RowBlock,
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

    # -- hot path, a block at a time (see WindowRuntime.plan_block/add_block) ----------

    def plan_block(self, block: RowBlock, replay: npt.NDArray[np.bool_]) -> BlockPlan:
        """Each row's outcome and the first row that closes windows, as :meth:`add`
        row by row would decide them; changes nothing."""
        ts = block.ts
        drop = (ts < self.closed_until) & (~replay | (ts < self._retained_from))
        outcome = np.where(drop, np.where(replay, REPLAYED, LATE), ACCEPTED).astype(np.int8)
        # The same float operations as _pane_start (floor of a double is exact).
        starts = np.floor((ts - self._offset) / self._pane) * self._pane + self._offset
        acc = np.flatnonzero(~drop)
        close, exact = self._first_close(ts[acc], starts[acc] + self._pane)
        return BlockPlan(outcome, None if close is None else int(acc[close]), (starts, exact))

    def _first_close(
        self, t: npt.NDArray[np.float64], ends: npt.NDArray[np.float64]
    ) -> tuple[int | None, bool]:
        """Index (into the accepted rows ``t``, pane ends ``ends``) of the first row
        whose watermark move reaches the next open pane end; and whether the watermark
        moved plainly (no row a suspect), so that :meth:`add_block` may set it at once."""
        if len(t) == 0:
            return None, True
        lateness = self.settings.allowed_lateness_seconds
        open_ends = self._open_ends()
        first_end = min(open_ends) if open_ends else math.inf
        ends = np.where(ends > self.closed_until, ends, math.inf)
        wm = self.watermark
        prev = np.empty_like(t)
        prev[0] = wm.max_ts
        if len(t) > 1:
            np.maximum(np.maximum.accumulate(t[:-1]), wm.max_ts, out=prev[1:])
        moved = t > prev
        with np.errstate(invalid="ignore"):
            suspect = moved & np.isfinite(prev) & (t - prev > wm.jump)
        if not suspect.any():
            next_end = np.minimum(np.minimum.accumulate(ends), first_end)
            closing = moved & (np.maximum(prev, t) - lateness >= next_end)
            return (int(np.argmax(closing)) if closing.any() else None), True
        # A suspect among them: replay the watermark's rules row by row on a copy.
        twin = wm.copy()
        next_end_f = first_end
        for i, (ts, end) in enumerate(zip(t.tolist(), ends.tolist(), strict=True)):
            next_end_f = min(next_end_f, end)
            if twin.observe(ts) and twin.max_ts - lateness >= next_end_f:
                return i, False
        return None, False

    def add_block(self, block: RowBlock, plan: BlockPlan, k: int, now: float) -> list[ClosedWindow]:
        """Offer the block's first ``k`` rows (see :class:`~.runtime.WindowRuntime`)."""
        if k == 0:
            return []
        self.last_event_at = now
        detail: tuple[npt.NDArray[np.float64], bool] = plan.detail  # type: ignore[assignment]
        starts, exact = detail
        acc = np.flatnonzero(plan.outcome[:k] == ACCEPTED)
        if len(acc):
            self._fill(block, acc, starts[acc])
            if exact:
                self.watermark.advance(float(block.ts[acc].max()))
            else:
                for ts in block.ts[acc].tolist():
                    self.watermark.observe(ts)
        if plan.close_at is not None and plan.close_at == k - 1:
            mark = self.watermark.max_ts - self.settings.allowed_lateness_seconds
            if mark >= self._next_end():
                return self._produce_until(mark)
        return []

    def _fill(
        self, block: RowBlock, rows: npt.NDArray[np.int64], starts: npt.NDArray[np.float64]
    ) -> None:
        """Add ``rows`` to their panes (created in the order of their first row)."""
        if (starts == starts[0]).all():
            groups = [(float(starts[0]), rows)]
        else:
            values, first, inverse = np.unique(starts, return_index=True, return_inverse=True)
            groups = [
                (float(values[g]), rows[inverse == g]) for g in np.argsort(first, kind="stable")
            ]
        panes = []
        for start, part in groups:
            pane = self.panes.get(start)
            if pane is None:
                pane = self.panes[start] = self._new_pane(start, start + self._pane)
            panes.append((pane, part))
        if len(panes) > 1 and any(p.count + len(part) > p.capacity for p, part in panes):
            # Sampling panes draw from one generator: keep the row order across panes.
            for r in rows.tolist():
                row = block.row(r)
                self.panes[self._pane_start(row.ts)].add(
                    row.nums, row.codes, row.ts, row.tp, row.offset, row.event_id
                )
            return
        for pane, part in panes:
            pane.add_rows(block, part)

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
