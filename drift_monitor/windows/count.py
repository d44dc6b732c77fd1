"""Count windows: one open pane that closes after ``size_events`` events.

A window's bounds are the event times seen in it; event time plays no other part (no
watermark, nothing is late). ``closed_until`` stays ``-inf``: a count window is not
recognised as a replay after a restart (documented in README's window section).
"""

from __future__ import annotations

import math
import random

import numpy as np
import numpy.typing as npt

from drift_monitor.windows.buffers import PaneBuffer, event_ids, window_data
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import (
    AddResult,
    BlockPlan,
    ClosedWindow,
    Row,
    RowBlock,
    TopicPartition,
    WindowPreview,
)
from drift_monitor.windows.settings import WindowSettings


class CountWindows:
    """Every ``size_events`` events of one model."""

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
        self.pane: PaneBuffer | None = None
        self.closed_until = -math.inf
        self.last_event_at: float | None = None

    def restore(self, closed_until: float) -> None:
        """Count windows keep no event-time checkpoint."""

    def first_offsets(self) -> dict[TopicPartition, int]:
        """The open pane's smallest offset per partition."""
        return dict(self.pane.first_offsets) if self.pane is not None else {}

    @property
    def open_events(self) -> int:
        """Events in the open pane."""
        return self.pane.count if self.pane is not None else 0

    def _open_pane(self) -> PaneBuffer:
        if self.pane is None:
            s = self.settings
            self.pane = PaneBuffer(
                0.0,
                math.inf,
                len(self.layout.numeric),
                len(self.layout.categorical),
                max(s.max_events, 1),
                self._rng,
                self._keep_ids,
            )
        return self.pane

    def plan_block(self, block: RowBlock, replay: npt.NDArray[np.bool_]) -> BlockPlan:
        """Every row is accepted; the row that fills the window closes it."""
        held = self.pane.count if self.pane is not None else 0
        close = max(self.settings.size_events - held - 1, 0)
        outcome = np.zeros(len(block), dtype=np.int8)
        return BlockPlan(outcome, close if close < len(block) else None)

    def add_block(self, block: RowBlock, plan: BlockPlan, k: int, now: float) -> list[ClosedWindow]:
        """Add the block's first ``k`` rows (see :class:`~.runtime.WindowRuntime`)."""
        if k == 0:
            return []
        self.last_event_at = now
        pane = self._open_pane()
        pane.add_rows(block, np.arange(k, dtype=np.int64))
        if plan.close_at == k - 1 and pane.count >= self.settings.size_events:
            return self.close_all()
        return []

    def add(self, row: Row, now: float, replay: bool = False) -> AddResult:
        """Add one event; the window is produced when it holds ``size_events``."""
        self.last_event_at = now
        pane = self._open_pane()
        pane.add(row.nums, row.codes, row.ts, row.tp, row.offset, row.event_id)
        result = AddResult("accepted")
        if pane.count >= self.settings.size_events:
            result.closed = self.close_all()
        return result

    def ack(self, window: ClosedWindow) -> None:
        """The window's effects are durable: start a new pane."""
        self.pane = None

    def close_all(self) -> list[ClosedWindow]:
        """The open pane as a window (none when empty)."""
        p = self.pane
        if p is None or p.count == 0:
            return []
        data = window_data(self.layout, [p], p.min_ts, p.max_ts)
        ids = event_ids([p]) if self._keep_ids else None
        return [ClosedWindow(self.model, p.min_ts, p.max_ts, p.count, data, ids)]

    def touch(self, now: float) -> None:
        """Restart the idle clock at processing time ``now``."""
        if self.last_event_at is not None:
            self.last_event_at = max(self.last_event_at, now)

    def idle_close(self, now: float) -> list[ClosedWindow]:
        """The open pane after ``idle_timeout_seconds`` without events."""
        if self.last_event_at is None or now - self.last_event_at < (
            self.settings.idle_timeout_seconds
        ):
            return []
        return self.close_all()

    def preview(self) -> WindowPreview | None:
        """The open pane as it is now."""
        w = self.close_all()
        if not w:
            return None
        return WindowPreview(w[0].model, w[0].start, w[0].end, w[0].events, w[0].data)
