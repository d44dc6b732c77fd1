"""The durable, bounded join of predictions and their late labels: an in-memory table
and an append-only operation log.

What it keeps, per model (all times are event-time epoch seconds):

- each tracked prediction (``event_id``, its window id and end, event time, the encoded
  outputs) until its window is finalised or it expires unlabelled ``max_delay`` after
  its event time; with its label once joined;
- labels that arrived before their prediction (*waiting*), until it arrives or they
  expire ``max_delay`` after arriving (then they are *orphaned*);
- per prediction window, tracked and joined counts (coverage) and whether it is final.
  A final window's late predictions are ignored (counted ``late``), so a re-read never
  re-opens it, and so are labels of its (dropped) predictions: their event ids are
  remembered until :meth:`JoinStore.forget_windows` drops the window (at most
  ``max_entries`` ids; past that the oldest final window's are forgotten first, and a
  label of one of them waits and ends up orphaned);
- the last expiry cutoff: a prediction older than it (one re-read after it expired, or
  one too late to ever be joined) is ignored and counted ``late``.

Idempotent by event id: a re-read prediction or a duplicated label changes nothing
(each pair joins once; counted ``duplicates``). Bounded: ``max_entries`` caps
predictions + waiting labels; past it :meth:`JoinStore.apply` evicts waiting labels
(oldest first), then unlabelled predictions (oldest first), then joined ones, and
counts each.

Durable: the state lives in memory (:mod:`.joinstate`); every call that changes it is
recorded, and :meth:`JoinStore.flush` appends the calls since the last flush to the
log as one frame (:mod:`.joinlog`, :mod:`.joincodec`), with ``fdatasync`` when
``synchronous`` is FULL (survives kill -9 and power loss) and without when NORMAL
(survives kill -9, as SQLite's NORMAL). Opening the store replays the log through the
same code; a crash before a flush completed leaves a torn tail frame that is truncated
(its batch was never acknowledged: the consume loop re-reads it from the last committed
offset). :meth:`JoinStore.rollback` rebuilds the state from the log. When the log passes
``max(compact_min_bytes, 2 x the last snapshot)``, a flush compacts it into one
snapshot frame (atomic replace), so the file stays within about 3x the live state.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from drift_monitor.errors import SinkError
from drift_monitor.labels import joincodec
from drift_monitor.labels.joinlog import JoinLog, LockedLog, NotAJoinLog
from drift_monitor.labels.joinstate import JoinState
from drift_monitor.labels.records import (
    DEFAULT_MAX_DELAY_S,
    DEFAULT_MAX_ENTRIES,
    JoinCounters,
    Label,
    Prediction,
    WindowCoverage,
    tracked,
)

__all__ = [
    "DEFAULT_MAX_DELAY_S",
    "DEFAULT_MAX_ENTRIES",
    "JoinCounters",
    "JoinStore",
    "Label",
    "Prediction",
    "WindowCoverage",
    "tracked",
]

log = logging.getLogger("drift_monitor.labels")
FloatArray = npt.NDArray[np.float64]
_MAX_WIDTH = 65_535  # outputs per prediction (u16 widths)


class JoinStore:
    """The join's state in memory, made durable by an operation log at ``path`` (see
    the module docstring).

    Not thread-safe: one consume loop owns it. Raises :class:`SinkError` (``labels``,
    path) when the file cannot be opened, read, written or synced, is not a join log, or
    is held by another open store.
    """

    #: the log is compacted when it passes max(this, 2 x the last snapshot), bytes
    compact_min_bytes = 16 * 1024 * 1024

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_delay: float = DEFAULT_MAX_DELAY_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        synchronous: str = "FULL",
    ) -> None:
        if max_delay <= 0 or max_entries < 1:
            raise ValueError("max_delay must be > 0 and max_entries >= 1")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be FULL or NORMAL")
        self.path = Path(path)
        self.max_delay = float(max_delay)
        self.max_entries = int(max_entries)
        self._counters: dict[str, JoinCounters] = {}
        # The counters as of the last flush: a discarded batch's counts are discarded
        # with it, so a batch re-read after a failed flush or a rewind counts once.
        self._flushed: dict[str, JoinCounters] = {}
        self._ops: list[joincodec.Op] = []
        self._dirty = False  # the state may differ from the log (changes not flushed)
        self._snapshot_bytes = 0
        self._log = JoinLog(self.path, durable=synchronous == "FULL")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._state = self._load(self._log.open())
        except NotAJoinLog as exc:
            self._log.close()
            raise SinkError(
                "labels",
                str(self.path),
                f"{exc}: this file was not written by this store (an older SQLite join "
                "store?); move it away or set labels.store_path to another file (the "
                "join then starts empty)",
            ) from None
        except LockedLog:
            raise SinkError(
                "labels",
                str(self.path),
                "in use by another open join store (another drift-monitor process on "
                "this state.dir?); stop it or give this one its own labels.store_path",
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self._log.close()
            raise self._error(exc) from None

    def _error(self, exc: BaseException) -> SinkError:
        return SinkError(
            "labels", str(self.path), f"{exc}; check the disk and the file's permissions"
        )

    def _load(self, frames: object) -> JoinState:
        """A state replayed from ``frames`` (payloads); counters are not touched."""
        state = JoinState(self.max_entries, lambda _m: JoinCounters())
        first = True
        for payload in frames:  # type: ignore[attr-defined]
            if joincodec.replay(state, payload) and first:
                self._snapshot_bytes = len(payload)
            first = False
        state.counters = self.counters
        return state

    def counters(self, model: str) -> JoinCounters:
        """The model's counters (created at zero on first use)."""
        c = self._counters.get(model)
        if c is None:
            c = self._counters[model] = JoinCounters()
        return c

    def flushed_counters(self, model: str) -> JoinCounters:
        """A copy of the model's counters as of the last successful :meth:`flush` (what
        Prometheus counters show: they never count a batch that was rolled back)."""
        c = self._flushed.get(model)
        return _copy(c) if c is not None else JoinCounters()

    @property
    def entries(self) -> int:
        """Predictions plus waiting labels held now (the quantity ``max_entries`` caps)."""
        return self._state.entries

    def _run(self, op: joincodec.Op) -> None:
        """Apply a call to the state and record it; any failure discards every change
        since the last flush (the state is rebuilt from the log) and re-raises."""
        self._dirty = True
        try:
            joincodec.run(self._state, op)
        except BaseException:
            self._discard()
            raise
        self._ops.append(op)

    def apply(
        self,
        model: str,
        predictions: Sequence[Prediction] = (),
        labels: Sequence[Label] = (),
    ) -> None:
        """Add a batch of tracked predictions and labels of ``model`` (sample them with
        :func:`tracked` first). Predictions before labels: a label in the same batch as
        its prediction joins. Not durable until :meth:`flush`.

        ``counters(model).delays`` then holds the label delays (seconds) of this
        batch's joins. An output tuple wider or narrower than others is kept NaN-padded
        (:meth:`pairs`). On failure (bad input) every change since the last flush is
        discarded and the error re-raised; the caller re-reads from its last committed
        offset, as after a failed flush. Replays are idempotent.
        """
        self.counters(model).delays = []
        if not predictions and not labels:
            return
        state = self._state
        self._dirty = True
        try:
            n, m = len(predictions), len(labels)
            ids = [p.event_id for p in predictions]
            wids = np.fromiter((p.window_id for p in predictions), np.int64, n)
            ends = np.fromiter((p.window_end for p in predictions), np.float64, n)
            times = np.fromiter((p.event_time for p in predictions), np.float64, n)
            outs, widths = _outputs([p.outputs for p in predictions])
            lids = [lab.event_id for lab in labels]
            values = np.fromiter((lab.value for lab in labels), np.float64, m)
            ltimes = np.fromiter((lab.label_time for lab in labels), np.float64, m)
            pos = state.add_predictions(model, ids, wids, ends, times, outs, widths) if n else ()
            lpos = state.add_labels(model, lids, values, ltimes) if m else ()
            evicted = state.enforce_cap()
        except BaseException:
            self._discard()
            raise
        # (an eviction alone is a change too: the store may be over a cap lowered since)
        if len(pos) or len(lpos) or evicted:
            p, q = np.asarray(pos, dtype=np.int64), np.asarray(lpos, dtype=np.int64)
            self._ops.append(
                (
                    "a",
                    model,
                    [ids[i] for i in p.tolist()],
                    wids[p],
                    ends[p],
                    times[p],
                    outs[p],
                    widths[p],
                    [lids[i] for i in q.tolist()],
                    values[q],
                    ltimes[q],
                )
            )

    def expire(self, now: float, model: str | None = None, max_delay: float | None = None) -> None:
        """Drop unlabelled predictions older than ``now − max_delay`` (counted
        ``expired``) and waiting labels that arrived before it (``orphaned``); later
        predictions older than it are ignored (``late``). ``now`` is the stream's
        event-time watermark; ``model`` limits it to one model (whose own
        ``max_delay``, seconds, defaults to the store's). Not durable until flushed."""
        cutoff = now - (self.max_delay if max_delay is None else max_delay)
        if math.isnan(cutoff):
            raise ValueError("expire: now and max_delay must be numbers")
        self._run(("x", model, float(cutoff)))

    def flush(self) -> None:
        """Make every change since the last flush durable (one log frame, fsync'ed when
        ``synchronous`` is FULL). Raises :class:`SinkError` on failure, with those
        changes discarded: the caller must not commit offsets past it and re-reads from
        its last committed offset."""
        if self._ops:
            try:
                self._log.append(joincodec.encode_ops(self._ops))
            except OSError as exc:
                self._discard()
                raise self._error(exc) from None
            self._ops = []
            if self._log.size > max(self.compact_min_bytes, 2 * self._snapshot_bytes):
                self._compact()
        self._dirty = False
        self._flushed = {m: _copy(c) for m, c in self._counters.items()}

    def _compact(self) -> None:
        payload = joincodec.snapshot(self._state)
        try:
            self._log.replace(payload)
        except OSError as exc:
            # The flush itself is durable; retry once the log has doubled again.
            log.warning(
                "label join log %s: compaction failed (%s); the log keeps growing", self.path, exc
            )
            self._snapshot_bytes = self._log.size
            return
        self._snapshot_bytes = len(payload)

    def _discard(self) -> None:
        """Back to the state of the last flush: counters restored, state rebuilt from
        the log (raises SinkError when the log cannot be read)."""
        self._ops = []
        self._counters = {m: _copy(c) for m, c in self._flushed.items()}
        try:
            self._state = self._load(self._log.frames())
        except (OSError, ValueError, KeyError) as exc:
            raise self._error(exc) from None
        self._dirty = False

    def rollback(self) -> None:
        """Discard the changes since the last flush (after a failed flush or batch)."""
        if self._dirty:
            self._discard()
        else:
            self._counters = {m: _copy(c) for m, c in self._flushed.items()}

    def windows(self, model: str, *, include_final: bool = False) -> list[WindowCoverage]:
        """The model's prediction windows with their coverage, oldest first."""
        return self._state.windows(model, include_final)

    def pairs(self, model: str, window_id: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """A window's joined pairs: labels (n,), outputs (n, k) and delays (n,) in
        seconds, in event-id order (deterministic). ``k`` is the widest of the pairs'
        outputs (narrower rows NaN-padded); (0, 1) without pairs."""
        return self._state.pairs(model, window_id)

    def finalize(self, model: str, window_id: int) -> None:
        """Mark a window final and drop its predictions (not durable until flushed).
        Its late predictions and the labels of its predictions are then ignored
        (counted ``late``)."""
        self._run(("f", model, int(window_id)))

    def forget_windows(self, model: str, ended_before: float) -> None:
        """Drop final windows' records that ended before ``ended_before`` (a watermark
        minus ``max_delay``: predictions that old are late on arrival anyway)."""
        self._run(("g", model, float(ended_before)))

    def close(self) -> None:
        """Drop anything not flushed and close (unlock) the file."""
        self._ops = []
        self._log.close()


def _outputs(rows: list[Sequence[float]]) -> tuple[FloatArray, npt.NDArray[np.uint16]]:
    """Output tuples as an (n, k) matrix, NaN past each row's width, and the widths."""
    n = len(rows)
    if not n:
        return np.empty((0, 1)), np.zeros(0, dtype=np.uint16)
    lens = list(map(len, rows))
    lo, hi = min(lens), max(lens)
    if hi > _MAX_WIDTH:
        raise ValueError(f"a prediction has {hi} outputs (at most {_MAX_WIDTH})")
    if lo == hi and hi:
        outs = np.array(rows, dtype=np.float64).reshape(n, hi)
    else:
        outs = np.full((n, max(1, hi)), np.nan)
        for i, r in enumerate(rows):
            outs[i, : len(r)] = r
    return outs, np.array(lens, dtype=np.uint16)


def _copy(c: JoinCounters) -> JoinCounters:
    return dataclasses.replace(c, delays=[])
