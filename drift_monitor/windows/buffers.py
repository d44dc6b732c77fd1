"""Column buffers of one window pane, bounded by a uniform reservoir sample.

Values are appended to compact ``array`` buffers (8 bytes per number, 4 per category
code). Beyond ``capacity`` events, Vitter's Algorithm R keeps a uniform random sample
of rows (all columns of an event stay together), while ``count`` stays exact: memory
is bounded by configuration, never by the stream's length.
"""

from __future__ import annotations

import random
from array import array

import numpy as np
import numpy.typing as npt


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
        self.nums = [array("d") for _ in range(n_numeric)]
        self.codes = [array("i") for _ in range(n_categorical)]
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
        """Append one event's row (or replace a random row once over capacity)."""
        self.count += 1
        if tp not in self.first_offsets or offset < self.first_offsets[tp]:
            self.first_offsets[tp] = offset
        self.min_ts = min(self.min_ts, ts)
        self.max_ts = max(self.max_ts, ts)
        if self.event_ids is not None:
            self.event_ids.append(event_id if event_id is not None else f"{tp[0]}:{tp[1]}:{offset}")
        if self.count <= self.capacity:
            for buf, v in zip(self.nums, nums, strict=True):
                buf.append(v)
            for cbuf, c in zip(self.codes, codes, strict=True):
                cbuf.append(c)
            return
        j = self._rng.randrange(self.count)
        if j < self.capacity:
            for buf, v in zip(self.nums, nums, strict=True):
                buf[j] = v
            for cbuf, c in zip(self.codes, codes, strict=True):
                cbuf[j] = c

    def numeric_array(self, i: int) -> npt.NDArray[np.float64]:
        """Column ``i``'s kept values as float64 (a copy)."""
        return np.frombuffer(self.nums[i], dtype=np.float64).copy()

    def code_array(self, i: int) -> npt.NDArray[np.int32]:
        """Categorical column ``i``'s kept codes as int32 (a copy)."""
        return np.frombuffer(self.codes[i], dtype=np.int32).copy()

    @property
    def kept(self) -> int:
        """Rows kept for statistics (``min(count, capacity)``)."""
        return min(self.count, self.capacity)
