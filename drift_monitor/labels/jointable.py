"""One model's slots in the label join's in-memory state (:mod:`.joinstate`): growable
numpy columns, the event-id maps, its windows and its expiry bounds."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from drift_monitor.labels.records import JoinCounters

FREE, OPEN, JOINED, WAITING = 0, 1, 2, 3
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: columns of a model table: name -> dtype (``outputs`` is 2-D)
COLUMNS = {
    "state": np.uint8,
    "window": np.int64,
    "time": np.float64,
    "label": np.float64,
    "label_time": np.float64,
    "width": np.uint16,
    "outputs": np.float64,
}
Counters = Callable[[str], JoinCounters]


class ModelTable:
    """One model's entries, windows and expiry state (see the module docstring)."""

    def __init__(self, k: int = 1, capacity: int = 1024) -> None:
        self.index: dict[str, int] = {}  # predictions: event id -> slot
        self.waiting: dict[str, int] = {}  # waiting labels: event id -> slot
        self.eids: list[str | None] = []  # slot -> event id (None: free)
        self.free: list[int] = []
        self.k = max(1, k)
        self.cols: dict[str, np.ndarray] = {}
        for name, dtype in COLUMNS.items():
            shape = (capacity, self.k) if name == "outputs" else (capacity,)
            self.cols[name] = np.zeros(shape, dtype=dtype)
        # window id -> [end, tracked, joined, final]
        self.windows: dict[int, list[Any]] = {}
        self.final: set[int] = set()  # final window ids
        self.final_ids: set[str] = set()  # event ids of finalised predictions ...
        self.final_lists: dict[int, list[str]] = {}  # ... per final window
        self.cutoff = -math.inf  # the last expiry cutoff: older predictions are late
        self.min_open = math.inf  # lower bounds of the open / waiting times
        self.min_wait = math.inf

    def grow(self, size: int) -> None:
        """Make the columns hold at least ``size`` slots (1.5x steps)."""
        cap = self.cols["state"].shape[0]
        if size <= cap:
            return
        new = max(size, cap + cap // 2, 1024)
        for name, col in self.cols.items():
            bigger = np.zeros((new, *col.shape[1:]), dtype=col.dtype)
            bigger[:cap] = col
            self.cols[name] = bigger

    def widen(self, k: int) -> None:
        """Make ``outputs`` at least ``k`` columns wide (new cells NaN)."""
        if k <= self.k:
            return
        old = self.cols["outputs"]
        wide = np.full((old.shape[0], k), np.nan)
        wide[:, : self.k] = old
        self.cols["outputs"], self.k = wide, k

    def release(self, slots: Sequence[int] | IntArray, kind: int) -> list[str]:
        """Free ``slots`` (all of ``kind``); returns their event ids, in slot order."""
        eids, free = self.eids, self.free
        held = self.waiting if kind == WAITING else self.index
        out = []
        for s in slots.tolist() if isinstance(slots, np.ndarray) else slots:
            eid = eids[s]
            assert eid is not None
            del held[eid]
            eids[s] = None
            free.append(s)
            out.append(eid)
        self.cols["state"][np.asarray(slots, dtype=np.int64)] = FREE
        return out

    @property
    def entries(self) -> int:
        """Predictions plus waiting labels held."""
        return len(self.index) + len(self.waiting)
