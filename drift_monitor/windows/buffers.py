"""Column buffers of one window pane, bounded by a uniform reservoir sample.

Values are appended to compact ``array`` buffers (8 bytes per number, 4 per category
code), row after row: one ``extend`` per event and kind instead of an ``append`` per
column (the per-event cost of a window); columns are taken out as strided copies when
the window closes. Beyond ``capacity`` events, Vitter's Algorithm R keeps a uniform
random sample of rows (all columns of an event stay together), while ``count`` stays exact: memory
is bounded by configuration, never by the stream's length.
"""

from __future__ import annotations

import random
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from drift_monitor.windows.data import WindowData
from drift_monitor.windows.layout import ModelLayout

if TYPE_CHECKING:
    from drift_monitor.windows.runtime import RowBlock


class PaneBuffer:
    """Rows of one pane: numeric values, categorical codes, offsets, optional ids."""

    __slots__ = (
        "_rng",
        "capacity",
        "codes",
        "count",
        "end",
        "event_ids",
        "first_offsets",
        "max_ts",
        "min_ts",
        "n_categorical",
        "n_numeric",
        "nums",
        "start",
    )

    def __init__(
        self,
        start: float,
        end: float,
        n_numeric: int,
        n_categorical: int,
        capacity: int,
        rng: random.Random,
        keep_ids: bool = False,
    ) -> None:
        self.start = start
        self.end = end
        self.capacity = capacity
        self.count = 0
        self.n_numeric = n_numeric
        self.n_categorical = n_categorical
        # Row-major: row r's numeric values are nums[r * n_numeric : (r + 1) * n_numeric].
        self.nums = array("d")
        self.codes = array("i")
        self.first_offsets: dict[tuple[str, int], int] = {}
        self.event_ids: list[str] | None = [] if keep_ids else None
        self.min_ts = float("inf")
        self.max_ts = float("-inf")
        self._rng = rng

    def add(
        self,
        nums: list[float],
        codes: list[int],
        ts: float,
        tp: tuple[str, int],
        offset: int,
        event_id: str | None,
    ) -> None:
        """Append one event's row (or replace a random row once over capacity).
        Positional on purpose: the per-event hot path (see :class:`~.runtime.Row`)."""
        if len(nums) != self.n_numeric or len(codes) != self.n_categorical:
            raise ValueError("row does not match the pane's columns")
        self.count += 1
        if tp not in self.first_offsets or offset < self.first_offsets[tp]:
            self.first_offsets[tp] = offset
        self.min_ts = min(self.min_ts, ts)
        self.max_ts = max(self.max_ts, ts)
        if self.event_ids is not None:
            self.event_ids.append(event_id if event_id is not None else f"{tp[0]}:{tp[1]}:{offset}")
        if self.count <= self.capacity:
            self.nums.extend(nums)
            self.codes.extend(codes)
            return
        j = self._rng.randrange(self.count)
        if j < self.capacity:
            n, k = self.n_numeric, self.n_categorical
            self.nums[j * n : (j + 1) * n] = array("d", nums)
            self.codes[j * k : (j + 1) * k] = array("i", codes)

    def add_rows(self, block: RowBlock, rows: npt.NDArray[np.int64]) -> None:
        """Append ``block``'s rows ``rows`` (in that order), exactly as :meth:`add` per
        row would: the rows up to ``capacity`` are copied as whole arrays, the sampling
        beyond it stays row by row (it draws from the shared random generator)."""
        m = len(rows)
        if m == 0:
            return
        ts = block.ts[rows]
        offsets = block.offsets[rows]
        tp_codes = block.tp_codes[rows]
        first = self.first_offsets
        for code in np.unique(tp_codes).tolist():
            tp = block.tps[code]
            off = int(offsets[tp_codes == code].min())
            if tp not in first or off < first[tp]:
                first[tp] = off
        self.min_ts = min(self.min_ts, float(ts.min()))
        self.max_ts = max(self.max_ts, float(ts.max()))
        if self.event_ids is not None:
            ids = block.event_ids
            got = [ids[r] for r in rows.tolist()]
            if got.count(None):  # an event without an id: its topic:partition:offset
                tps = block.tps
                got = [
                    eid if eid is not None else f"{tps[code][0]}:{tps[code][1]}:{off}"
                    for eid, code, off in zip(got, tp_codes.tolist(), offsets.tolist(), strict=True)
                ]
            self.event_ids.extend(got)
        fill = max(0, min(m, self.capacity - self.count))
        if fill:
            head = rows[:fill]
            self.nums.frombytes(np.ascontiguousarray(block.nums[head]).tobytes())
            self.codes.frombytes(np.ascontiguousarray(block.codes[head]).tobytes())
            self.count += fill
        n, k = self.n_numeric, self.n_categorical
        for r in rows[fill:].tolist():
            self.count += 1
            j = self._rng.randrange(self.count)
            if j < self.capacity:
                self.nums[j * n : (j + 1) * n] = array("d", block.nums[r].tolist())
                self.codes[j * k : (j + 1) * k] = array("i", block.codes[r].tolist())

    def numeric_array(self, i: int) -> npt.NDArray[np.float64]:
        """Column ``i``'s kept values as float64 (a copy)."""
        rows = np.frombuffer(self.nums, dtype=np.float64).reshape(-1, self.n_numeric)
        return rows[:, i].copy()

    def code_array(self, i: int) -> npt.NDArray[np.int32]:
        """Categorical column ``i``'s kept codes as int32 (a copy)."""
        rows = np.frombuffer(self.codes, dtype=np.int32).reshape(-1, self.n_categorical)
        return rows[:, i].copy()

    @property
    def kept(self) -> int:
        """Rows kept for statistics (``min(count, capacity)``)."""
        return min(self.count, self.capacity)


def window_data(
    layout: ModelLayout, panes: list[PaneBuffer], start: float, end: float
) -> WindowData:
    """The union of ``panes``' kept rows as evaluation input (bounds in epoch s)."""
    numeric = {
        name: _concat([p.numeric_array(i) for p in panes], np.float64)
        for i, name in enumerate(layout.numeric)
    }
    categorical = {
        slot.name: _concat([p.code_array(i) for p in panes], np.int32)
        for i, slot in enumerate(layout.categorical)
    }
    kept = sum(p.kept for p in panes)
    return WindowData(events=kept, numeric=numeric, categorical=categorical, start=start, end=end)


def event_ids(panes: list[PaneBuffer]) -> tuple[str, ...] | None:
    """The event ids of ``panes`` in order (None when ids are not kept)."""
    if not panes or panes[0].event_ids is None:
        return None
    return tuple(i for p in panes for i in (p.event_ids or []))


def _concat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    if not parts:
        return np.empty(0, dtype=dtype)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts)
