"""The label join's state in memory: per model, slots in growable numpy columns.

:class:`JoinState` is what :class:`drift_monitor.labels.store.JoinStore` keeps between
flushes; the store makes it durable by logging every mutating call (:mod:`.joinlog`) and
replaying the log through the same methods at start-up. Every method is deterministic
(the same calls from the same state give the same state, slot numbers included), which
is what makes a replay equal the live state.

Per model, each held entry (a tracked prediction or a waiting label) has a *slot*: an
index into columns ``state`` (u1: open prediction, joined prediction, waiting label),
``window`` (i8), ``time`` (f8: the prediction's event time; a waiting label's arrival,
= its label time), ``label``, ``label_time`` (f8), ``width`` (u2) and ``outputs``
(f8, one row of ``k`` columns, NaN past the row's width). ``index`` and ``waiting`` map
event id -> slot, ``eids`` slot -> event id; freed slots are reused last-freed first.
About 200 bytes per entry with one output, at 1M entries (``docs/LABELS.md``).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import numpy.typing as npt

from drift_monitor.labels.jointable import (
    JOINED,
    OPEN,
    WAITING,
    Counters,
    FloatArray,
    IntArray,
    ModelTable,
)
from drift_monitor.labels.records import JoinCounters, WindowCoverage


class JoinState:
    """Every model's table and the store-wide cap (see the module docstring).

    ``counters`` gives the model's :class:`JoinCounters` to count into (the store's;
    a replay passes throw-away ones). ``max_final_ids`` bounds the remembered event ids
    of finalised predictions (oldest final window forgotten first).
    """

    def __init__(self, max_entries: int, counters: Counters) -> None:
        self.max_entries = max_entries
        self.max_final_ids = max_entries
        self.counters = counters
        self.models: dict[str, ModelTable] = {}
        self.entries = 0
        self.cutoff = -math.inf  # of expire() over every model
        self.final_order: deque[tuple[str, int]] = deque()
        self.final_count = 0

    def table(self, model: str) -> ModelTable:
        t = self.models.get(model)
        if t is None:
            t = self.models[model] = ModelTable()
            t.cutoff = self.cutoff
        return t

    # -- predictions and labels ---------------------------------------------------------

    def _batch(
        self, model: str, ids: list[str]
    ) -> tuple[JoinCounters, ModelTable, list[int] | range]:
        """A batch of ``model``'s ids: its counters, its table, and the positions to
        process (each id's first occurrence; the repeats counted as duplicates)."""
        c = self.counters(model)
        order = _first_occurrences(ids)
        c.duplicates += len(ids) - len(order)
        return c, self.table(model), order

    def add_predictions(
        self,
        model: str,
        ids: list[str],
        wids: IntArray,
        ends: FloatArray,
        times: FloatArray,
        outputs: FloatArray,
        widths: npt.NDArray[np.uint16],
    ) -> IntArray:
        """Track predictions (columns of one batch; ``outputs`` (n, k), NaN past each
        row's ``widths``). Returns the positions that changed the state (the rest were
        duplicates or late), in the order processed."""
        c, t, order = self._batch(model, ids)
        index, waiting, eids, free = t.index, t.waiting, t.eids, t.free
        final, cut = t.final, t.cutoff
        wl, tl = wids.tolist(), times.tolist()
        take: list[int] = []
        slots: list[int] = []
        joins: list[int] = []
        dup = late = 0
        for i in order:
            eid = ids[i]
            if eid in index:
                dup += 1
                continue
            if wl[i] in final or tl[i] < cut:
                late += 1
                continue
            s = waiting.pop(eid, None)
            if s is None:
                if free:
                    s = free.pop()
                    eids[s] = eid
                else:
                    s = len(eids)
                    eids.append(eid)
            else:
                joins.append(len(take))
            index[eid] = s
            take.append(i)
            slots.append(s)
        c.duplicates += dup
        c.late += late
        if not take:
            return np.zeros(0, dtype=np.int64)
        pos = np.asarray(take, dtype=np.int64)
        at = np.asarray(slots, dtype=np.int64)
        t.grow(len(eids))
        cols = t.cols
        t.widen(outputs.shape[1])
        w, tm = wids[pos], times[pos]
        cols["window"][at] = w
        cols["time"][at] = tm
        cols["width"][at] = widths[pos]
        out = cols["outputs"]
        out[at, : outputs.shape[1]] = outputs[pos]
        if outputs.shape[1] < t.k:
            out[at, outputs.shape[1] :] = np.nan
        state = cols["state"]
        state[at] = OPEN
        uw, first_at, counts = np.unique(w, return_index=True, return_counts=True)
        end = ends[pos]
        windows = t.windows
        for wid, f, cnt in zip(uw.tolist(), first_at.tolist(), counts.tolist(), strict=True):
            row = windows.get(wid)
            if row is None:
                row = windows[wid] = [float(end[f]), 0, 0, False]
            row[1] += cnt
        if joins:
            j = at[np.asarray(joins, dtype=np.int64)]
            state[j] = JOINED
            for wid, cnt in zip(*np.unique(cols["window"][j], return_counts=True), strict=True):
                windows[int(wid)][2] += int(cnt)
            c.delays.extend((cols["label_time"][j] - cols["time"][j]).tolist())
            c.joined += len(joins)
        opened = tm if not joins else np.delete(tm, joins)
        if opened.size:
            t.min_open = min(t.min_open, float(opened.min()))
        c.predictions += len(take)
        self.entries += len(take) - len(joins)
        return pos

    def add_labels(
        self, model: str, ids: list[str], values: FloatArray, times: FloatArray
    ) -> IntArray:
        """Join labels to their predictions or make them wait (columns of one batch).
        Returns the positions that changed the state: waiting ones, then joined ones."""
        c, t, order = self._batch(model, ids)
        index, waiting, eids, free, final_ids = t.index, t.waiting, t.eids, t.free, t.final_ids
        hit_i: list[int] = []
        hit_s: list[int] = []
        wait_i: list[int] = []
        wait_s: list[int] = []
        dup = late = 0
        for i in order:
            eid = ids[i]
            s = index.get(eid)
            if s is not None:
                hit_i.append(i)
                hit_s.append(s)
                continue
            if eid in waiting:
                dup += 1
                continue
            if eid in final_ids:
                late += 1
                continue
            if free:
                s = free.pop()
                eids[s] = eid
            else:
                s = len(eids)
                eids.append(eid)
            waiting[eid] = s
            wait_i.append(i)
            wait_s.append(s)
        t.grow(len(eids))
        cols = t.cols
        state = cols["state"]
        joined_pos = np.zeros(0, dtype=np.int64)
        if hit_s:
            hs = np.asarray(hit_s, dtype=np.int64)
            fresh = state[hs] == OPEN
            dup += int(hs.size - np.count_nonzero(fresh))
            js, joined_pos = hs[fresh], np.asarray(hit_i, dtype=np.int64)[fresh]
            if js.size:
                cols["label"][js] = values[joined_pos]
                cols["label_time"][js] = times[joined_pos]
                state[js] = JOINED
                for wid, cnt in zip(
                    *np.unique(cols["window"][js], return_counts=True), strict=True
                ):
                    t.windows[int(wid)][2] += int(cnt)
                c.delays.extend((times[joined_pos] - cols["time"][js]).tolist())
                c.joined += int(js.size)
        if wait_s:
            ws, wp = np.asarray(wait_s, dtype=np.int64), np.asarray(wait_i, dtype=np.int64)
            state[ws] = WAITING
            cols["label"][ws] = values[wp]
            cols["label_time"][ws] = times[wp]
            cols["time"][ws] = times[wp]
            cols["window"][ws] = 0
            t.min_wait = min(t.min_wait, float(times[wp].min()))
            c.waiting += len(wait_s)
            self.entries += len(wait_s)
        c.duplicates += dup
        c.late += late
        return np.concatenate([np.asarray(wait_i, dtype=np.int64), joined_pos])

    # -- the cap, expiry, finality -------------------------------------------------------

    def enforce_cap(self) -> int:
        """Past ``max_entries``, evict waiting labels (oldest arrival first), then open
        predictions (oldest event time first), then joined ones; 1 % of the cap more
        than needed, so a store at its cap does not evict on every batch. Ties: model
        order, then slot (deterministic). Returns how many were evicted."""
        over = self.entries - self.max_entries
        if over <= 0:
            return 0
        before = self.entries
        left = over + max(1, self.max_entries // 100)
        for kind in (WAITING, OPEN, JOINED):
            if left <= 0:
                break
            names, parts, times = [], [], []
            for name, t in self.models.items():
                size = len(t.eids)
                sl = np.flatnonzero(t.cols["state"][:size] == kind)
                if sl.size:
                    names.append(name)
                    parts.append(sl)
                    times.append(t.cols["time"][sl])
            if not parts:
                continue
            tm = np.concatenate(times)
            owner = np.repeat(np.arange(len(parts)), [p.size for p in parts])
            slot = np.concatenate(parts)
            if left < tm.size:
                kth = np.partition(tm, left - 1)[left - 1]
                cand = np.flatnonzero(tm <= kth)
                pick = cand[np.argsort(tm[cand], kind="stable")][:left]
            else:
                pick = np.argsort(tm, kind="stable")
            for o, name in enumerate(names):
                victims = slot[pick[owner[pick] == o]]
                t = self.models[name]
                if kind == JOINED:
                    for wid, cnt in zip(
                        *np.unique(t.cols["window"][victims], return_counts=True), strict=True
                    ):
                        t.windows[int(wid)][2] -= int(cnt)
                t.release(victims, kind)
                self.counters(name).evicted += int(victims.size)
            self.entries -= int(pick.size)
            left -= int(pick.size)
        return before - self.entries

    def expire(self, cutoff: float, model: str | None) -> None:
        """Drop open predictions with event time before ``cutoff`` (``expired``) and
        waiting labels that arrived before it (``orphaned``); remember the cutoff:
        predictions older than it are late from now on."""
        if model is None:
            self.cutoff = max(self.cutoff, cutoff)
            names = list(self.models)
        else:
            names = [model]
        for name in names:
            t = self.table(name)
            t.cutoff = max(t.cutoff, cutoff)
            size = len(t.eids)
            for kind, low in ((OPEN, t.min_open), (WAITING, t.min_wait)):
                if low >= cutoff:
                    continue
                mine = t.cols["state"][:size] == kind
                tm = t.cols["time"][:size]
                old = mine & (tm < cutoff)
                kept = tm[mine & ~old]
                bound = float(kept.min()) if kept.size else math.inf
                gone = np.flatnonzero(old)
                if gone.size:
                    t.release(gone, kind)
                    self.entries -= int(gone.size)
                c = self.counters(name)
                if kind == OPEN:
                    t.min_open = bound
                    c.expired += int(gone.size)
                else:
                    t.min_wait = bound
                    c.orphaned += int(gone.size)

    def finalize(self, model: str, window_id: int) -> None:
        """Mark a window final and drop its predictions, remembering their event ids
        (a label for one is then late) until :meth:`forget_windows` drops the window or
        ``max_final_ids`` is passed (oldest final window first)."""
        t = self.models.get(model)
        if t is None or window_id not in t.windows:
            return
        size = len(t.eids)
        st = t.cols["state"][:size]
        mine = ((st == OPEN) | (st == JOINED)) & (t.cols["window"][:size] == window_id)
        slots = np.flatnonzero(mine)
        ids = [t.eids[s] for s in slots.tolist()]
        for kind in (OPEN, JOINED):
            part = np.flatnonzero(mine & (st == kind))
            if part.size:
                t.release(part, kind)
        self.entries -= int(slots.size)
        t.windows[window_id][3] = True
        t.final.add(window_id)
        if window_id not in t.final_lists:
            t.final_lists[window_id] = []
            self.final_order.append((model, window_id))
        t.final_lists[window_id].extend(ids)  # type: ignore[arg-type]
        t.final_ids.update(ids)  # type: ignore[arg-type]
        self.final_count += len(ids)
        while self.final_count > self.max_final_ids and self.final_order:
            name, wid = self.final_order.popleft()
            self._drop_final_ids(self.models[name], wid)

    def forget_windows(self, model: str, ended_before: float) -> None:
        """Drop the final windows that ended before ``ended_before`` (and the event ids
        remembered for them)."""
        t = self.models.get(model)
        if t is None:
            return
        for wid in [w for w, row in t.windows.items() if row[3] and row[0] < ended_before]:
            del t.windows[wid]
            t.final.discard(wid)
            self._drop_final_ids(t, wid)

    def _drop_final_ids(self, t: ModelTable, wid: int) -> None:
        ids = t.final_lists.pop(wid, None)
        if ids is not None:
            t.final_ids.difference_update(ids)
            self.final_count -= len(ids)

    # -- reading -------------------------------------------------------------------------

    def windows(self, model: str, include_final: bool) -> list[WindowCoverage]:
        t = self.models.get(model)
        if t is None:
            return []
        return [
            WindowCoverage(model, w, row[0], row[1], row[2], row[3])
            for w, row in sorted(t.windows.items())
            if include_final or not row[3]
        ]

    def pairs(self, model: str, window_id: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        t = self.models.get(model)
        if t is None:
            return np.zeros(0), np.empty((0, 1)), np.zeros(0)
        size = len(t.eids)
        cols = t.cols
        sel = np.flatnonzero(
            (cols["state"][:size] == JOINED) & (cols["window"][:size] == window_id)
        )
        if not sel.size:
            return np.zeros(0), np.empty((0, 1)), np.zeros(0)
        eids = t.eids
        ids = [str(eids[s]) for s in sel.tolist()]
        sel = sel[sorted(range(len(ids)), key=ids.__getitem__)]
        width = int(cols["width"][sel].max())
        return (
            cols["label"][sel],
            cols["outputs"][sel, :width],
            cols["label_time"][sel] - cols["time"][sel],
        )


def _first_occurrences(ids: list[str]) -> list[int] | range:
    """Positions of each id's first occurrence in ``ids``, in order (a repeat within
    one batch is a duplicate: the first one wins); ``range(len(ids))`` when all differ."""
    if len(set(ids)) == len(ids):
        return range(len(ids))
    first: dict[str, int] = {}
    for i, e in enumerate(ids):
        first.setdefault(e, i)
    return list(first.values())
