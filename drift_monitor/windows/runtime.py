"""The window protocol: what the pipeline needs from any window type.

Window *definitions* are :class:`~drift_monitor.config.models.WindowSettings`; each
``type`` has one runtime (``tumbling`` and ``sliding`` in :mod:`.time_windows`,
``count`` in :mod:`.count`), picked once by :func:`open_windows`.

Closing is two-phase, so a window whose effects failed is never lost: ``add`` /
``idle_close`` / ``close_all`` *produce* :class:`ClosedWindow` values without forgetting
anything; the caller performs the window's effects (evaluation, metrics, audit,
incidents) and then calls :meth:`WindowRuntime.ack`. Only ``ack`` advances
``closed_until`` and drops panes. A window produced but never acked is produced again by
the next call (or rebuilt from Kafka after a rewind): it holds back the commit until then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from drift_monitor.windows.data import WindowData
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.settings import WindowSettings

TopicPartition = tuple[str, int]
Outcome = Literal["accepted", "late", "replayed"]


@dataclass(frozen=True, slots=True)
class Row:
    """One validated event, in layout order: numeric values (NaN = missing), categorical
    codes (-1 = missing), event time (epoch seconds), and where it was read."""

    nums: list[float]
    codes: list[int]
    ts: float
    tp: TopicPartition
    offset: int
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class RowBlock:
    """Validated events of one model as columns, in the order they were read: the
    batch form of :class:`Row`. ``pos``: each row's index in the polled batch;
    ``tp_codes`` index ``tps``."""

    pos: npt.NDArray[np.int64]
    ts: npt.NDArray[np.float64]
    nums: npt.NDArray[np.float64]
    codes: npt.NDArray[np.int32]
    tp_codes: npt.NDArray[np.int64]
    tps: list[TopicPartition]
    offsets: npt.NDArray[np.int64]
    event_ids: list[str | None]

    def __len__(self) -> int:
        return len(self.pos)

    def rows(self, start: int, stop: int) -> RowBlock:
        """Rows ``start:stop`` (views)."""
        return RowBlock(
            self.pos[start:stop],
            self.ts[start:stop],
            self.nums[start:stop],
            self.codes[start:stop],
            self.tp_codes[start:stop],
            self.tps,
            self.offsets[start:stop],
            self.event_ids[start:stop],
        )

    def row(self, i: int) -> Row:
        """Row ``i`` as a :class:`Row`."""
        return Row(
            self.nums[i].tolist(),
            self.codes[i].tolist(),
            float(self.ts[i]),
            self.tps[int(self.tp_codes[i])],
            int(self.offsets[i]),
            self.event_ids[i],
        )


#: Outcome codes of a :class:`BlockPlan`.
ACCEPTED, LATE, REPLAYED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BlockPlan:
    """What :meth:`WindowRuntime.add_block` will do with a block, worked out without
    changing anything: each row's outcome (:data:`ACCEPTED`, :data:`LATE`,
    :data:`REPLAYED`) and ``close_at``, the first row whose arrival produces windows
    (None: no row does). ``detail`` is the runtime's own (pane starts...)."""

    outcome: npt.NDArray[np.int8]
    close_at: int | None
    detail: object = None


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    """A window ready for evaluation. ``events`` is exact; ``data`` holds at most
    ``max_events`` rows (a uniform sample beyond that). Bounds in epoch seconds."""

    model: str
    start: float
    end: float
    events: int
    data: WindowData
    event_ids: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class WindowPreview:
    """The open window as it is now (periodic evaluation for gauges; never an episode,
    never acked)."""

    model: str
    start: float
    end: float
    events: int
    data: WindowData


@dataclass(slots=True)
class AddResult:
    """Outcome of offering one event; ``closed``: windows produced, not yet acked."""

    outcome: Outcome
    closed: list[ClosedWindow] = field(default_factory=list)


class WindowRuntime(Protocol):
    """Open panes, watermark and close bookkeeping of one model's windows."""

    model: str
    settings: WindowSettings
    layout: ModelLayout
    closed_until: float
    last_event_at: float | None

    def add(self, row: Row, now: float, replay: bool = False) -> AddResult:
        """Offer one event at processing time ``now`` (epoch s). ``replay``: a record
        re-read after a restart that an earlier run had already processed."""
        ...

    def plan_block(self, block: RowBlock, replay: npt.NDArray[np.bool_]) -> BlockPlan:
        """What adding ``block`` (``replay`` per row, as in :meth:`add`) would do; pure."""
        ...

    def add_block(self, block: RowBlock, plan: BlockPlan, k: int, now: float) -> list[ClosedWindow]:
        """Offer the first ``k`` rows of the block ``plan`` was made for, exactly as
        ``k`` calls of :meth:`add` would (same panes, sample, watermark); returns the
        windows produced, which only the row ``plan.close_at`` (then the last) produces."""
        ...

    def ack(self, window: ClosedWindow) -> None:
        """``window``'s effects are durable: advance ``closed_until``, drop panes."""
        ...

    def close_all(self) -> list[ClosedWindow]:
        """Produce every open window now (idle timeout, shutdown flush)."""
        ...

    def idle_close(self, now: float) -> list[ClosedWindow]:
        """:meth:`close_all` when no event arrived for ``idle_timeout_seconds``."""
        ...

    def touch(self, now: float) -> None:
        """Restart the idle clock at processing time ``now``."""
        ...

    def preview(self) -> WindowPreview | None:
        """The open window as it is now; None when empty."""
        ...

    def restore(self, closed_until: float) -> None:
        """Windows ending at or before ``closed_until`` were already evaluated."""
        ...

    def first_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the smallest offset still held (the commit bound)."""
        ...
