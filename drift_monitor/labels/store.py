"""The durable, bounded join of predictions and their late labels (SQLite, WAL mode).

Why SQLite: ``python -m bench.labels`` (docs/LABELS.md) measured it against LMDB on the
join's own workload; LMDB was 1.2-1.8x faster per record, but SQLite is in the standard
library and its indexes, transactions and aggregates replace the secondary indexes,
counters and eviction order we would hand-write over a key-value store.

What it keeps, per model (all times are event-time epoch seconds):

- ``predictions``: each tracked prediction (``event_id``, its window id and end, event
  time, the encoded outputs) until its window is finalised or it expires unlabelled
  ``max_delay`` after its event time; with its label once joined.
- ``waiting``: labels that arrived before their prediction, until it arrives or they
  expire ``max_delay`` after arriving (then they are *orphaned*).
- ``windows``: per prediction window, tracked and joined counts (coverage) and whether it
  is final; a final window's late predictions are ignored, so a re-read never re-opens it.

Idempotent by event id: a re-read prediction or a duplicated label changes nothing (each
pair joins once). Bounded: ``max_entries`` caps predictions + waiting labels; past it,
:meth:`JoinStore.apply` evicts waiting labels (oldest first), then unlabelled predictions
(oldest first), then joined ones, and counts each. Durable: every change between two
:meth:`JoinStore.flush` calls is one transaction; ``flush`` commits it with
``synchronous=FULL`` (fsync), so after it returns the batch survives kill -9 and power
loss, and a crash before it rolls the whole batch back (the consume loop then re-reads it
from the last committed offset).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from drift_monitor.errors import SinkError
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

FloatArray = npt.NDArray[np.float64]
#: SQLite's limit on bound parameters per statement is 32 766; stay well below it.
_CHUNK = 900

#: SQLite page cache, KiB (negative cache_size = KiB): 64 MiB.
_CACHE_KIB = 64 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS predictions (
    model TEXT NOT NULL, event_id TEXT NOT NULL, window_id INTEGER NOT NULL,
    event_time REAL NOT NULL, outputs BLOB NOT NULL, label REAL, label_time REAL,
    PRIMARY KEY (model, event_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS predictions_window ON predictions (model, window_id);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions (event_time);
CREATE TABLE IF NOT EXISTS waiting (
    model TEXT NOT NULL, event_id TEXT NOT NULL, label REAL NOT NULL,
    label_time REAL NOT NULL, arrived REAL NOT NULL,
    PRIMARY KEY (model, event_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS waiting_age ON waiting (arrived);
CREATE TABLE IF NOT EXISTS windows (
    model TEXT NOT NULL, window_id INTEGER NOT NULL, window_end REAL NOT NULL,
    tracked INTEGER NOT NULL DEFAULT 0, joined INTEGER NOT NULL DEFAULT 0,
    final INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (model, window_id)) WITHOUT ROWID;
"""


def _chunks(seq: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(seq), _CHUNK):
        yield seq[i : i + _CHUNK]


class JoinStore:
    """The join's durable state in one SQLite file (see the module docstring).

    SQLite's page cache is bounded by ``_CACHE_KIB`` (memory). Not thread-safe: one consume loop
    owns it. Raises :class:`SinkError` (``labels``,
    path) when the file cannot be opened, written or committed.
    """

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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            if synchronous == "FULL":
                self._db.execute("PRAGMA synchronous=FULL")
            else:
                self._db.execute("PRAGMA synchronous=NORMAL")
            # Random event ids touch random pages: SQLite's default 2 MB page cache
            # thrashes past ~100k entries (measured in bench.labels).
            self._db.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
            self._db.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise self._error(exc) from None
        self._entries = self._count()
        # The counters as of the last flush: a discarded batch's counts are discarded
        # with it, so a batch re-read after a failed flush or a rewind counts once.
        self._flushed: dict[str, JoinCounters] = {}

    def _error(self, exc: BaseException) -> SinkError:
        return SinkError(
            "labels", str(self.path), f"{exc}; check the disk and the file's permissions"
        )

    def _count(self) -> int:
        row = self._db.execute(
            "SELECT (SELECT count(*) FROM predictions) + (SELECT count(*) FROM waiting)"
        ).fetchone()
        return int(row[0])

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")

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
        return self._entries

    def apply(
        self,
        model: str,
        predictions: Sequence[Prediction] = (),
        labels: Sequence[Label] = (),
    ) -> None:
        """Add a batch of tracked predictions and labels of ``model`` (sample them with
        :func:`tracked` first). Predictions before labels: a label in the same batch as
        its prediction joins. Not durable until :meth:`flush`.

        On failure it raises :class:`SinkError` after discarding *every* change since the
        last flush (SQLite may itself roll back the whole transaction on a full disk or
        an I/O error, so nothing less can be promised): the caller re-reads from its last
        committed offset, as after a failed flush. Replays are idempotent.
        """
        self.counters(model).delays = []
        try:
            self._begin()
            if predictions:
                self._add_predictions(model, predictions)
            if labels:
                self._add_labels(model, labels)
            self._enforce_cap()
        except sqlite3.Error as exc:
            self._discard()
            raise self._error(exc) from None

    def _discard(self) -> None:
        self._restore_counters()
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._entries = self._count()
        except sqlite3.Error:
            pass  # the connection is unusable; the caller's SinkError says why

    def _restore_counters(self) -> None:
        self._counters = {m: _copy(c) for m, c in self._flushed.items()}

    def _add_predictions(self, model: str, batch: Sequence[Prediction]) -> None:
        db = self._db
        c = self.counters(model)
        unique = {p.event_id: p for p in reversed(batch)}  # first occurrence wins
        c.duplicates += len(batch) - len(unique)
        ids = list(unique)
        known: set[str] = set()
        waiting: dict[str, tuple[float, float]] = {}
        for part in _chunks(ids):
            members = _json_list(part)
            known.update(
                r[0]
                for r in db.execute(
                    "SELECT event_id FROM predictions WHERE model=? AND event_id IN "
                    "(SELECT value FROM json_each(?))",
                    (model, members),
                )
            )
            for eid, value, t in db.execute(
                "SELECT event_id, label, label_time FROM waiting "
                "WHERE model=? AND event_id IN (SELECT value FROM json_each(?))",
                (model, members),
            ):
                waiting[eid] = (value, t)
        windows = {p.window_id: p.window_end for p in unique.values()}
        final = self._final_windows(model, list(windows))
        rows = []
        per_window: dict[int, list[int]] = {}
        for eid, p in unique.items():
            if eid in known:
                c.duplicates += 1
                continue
            if p.window_id in final:
                c.late += 1
                continue
            lab = waiting.get(eid)
            rows.append(
                (
                    model,
                    eid,
                    p.window_id,
                    p.event_time,
                    np.asarray(p.outputs, dtype="<f8").tobytes(),
                    None if lab is None else lab[0],
                    None if lab is None else lab[1],
                )
            )
            counts = per_window.setdefault(p.window_id, [0, 0])
            counts[0] += 1
            if lab is not None:
                counts[1] += 1
                c.delays.append(lab[1] - p.event_time)
        db.executemany("INSERT INTO predictions VALUES (?,?,?,?,?,?,?)", rows)
        db.executemany(
            "INSERT INTO windows (model, window_id, window_end) VALUES (?,?,?) "
            "ON CONFLICT DO NOTHING",
            [(model, w, windows[w]) for w in per_window],
        )
        db.executemany(
            "UPDATE windows SET tracked = tracked + ?, joined = joined + ? "
            "WHERE model=? AND window_id=?",
            [(t, j, model, w) for w, (t, j) in per_window.items()],
        )
        joined_ids = [r[1] for r in rows if r[5] is not None]
        db.executemany(
            "DELETE FROM waiting WHERE model=? AND event_id=?", [(model, e) for e in joined_ids]
        )
        c.predictions += len(rows)
        c.joined += len(joined_ids)
        self._entries += len(rows) - len(joined_ids)

    def _final_windows(self, model: str, window_ids: list[int]) -> set[int]:
        return {
            int(r[0])
            for r in self._db.execute(
                "SELECT window_id FROM windows WHERE model=? AND final=1 "
                "AND window_id IN (SELECT value FROM json_each(?))",
                (model, _json_list(int(w) for w in window_ids)),
            )
        }

    def _add_labels(self, model: str, batch: Sequence[Label]) -> None:
        db = self._db
        c = self.counters(model)
        unique = {lab.event_id: lab for lab in reversed(batch)}
        c.duplicates += len(batch) - len(unique)
        found: dict[str, tuple[int, float, bool]] = {}
        already_waiting: set[str] = set()
        ids = list(unique)
        for part in _chunks(ids):
            members = _json_list(part)
            for eid, w, t, has in db.execute(
                "SELECT event_id, window_id, event_time, label IS NOT NULL FROM predictions "
                "WHERE model=? AND event_id IN (SELECT value FROM json_each(?))",
                (model, members),
            ):
                found[eid] = (int(w), float(t), bool(has))
            already_waiting.update(
                r[0]
                for r in db.execute(
                    "SELECT event_id FROM waiting WHERE model=? AND event_id IN "
                    "(SELECT value FROM json_each(?))",
                    (model, members),
                )
            )
        updates = []
        per_window: dict[int, int] = {}
        new_waiting = []
        for eid, lab in unique.items():
            hit = found.get(eid)
            if hit is None:
                if eid in already_waiting:
                    c.duplicates += 1
                else:
                    new_waiting.append((model, eid, lab.value, lab.label_time, lab.label_time))
                continue
            w, t, has = hit
            if has:
                c.duplicates += 1
                continue
            updates.append((lab.value, lab.label_time, model, eid))
            per_window[w] = per_window.get(w, 0) + 1
            c.delays.append(lab.label_time - t)
        db.executemany(
            "UPDATE predictions SET label=?, label_time=? WHERE model=? AND event_id=?", updates
        )
        db.executemany(
            "UPDATE windows SET joined = joined + ? WHERE model=? AND window_id=?",
            [(j, model, w) for w, j in per_window.items()],
        )
        db.executemany("INSERT INTO waiting VALUES (?,?,?,?,?)", new_waiting)
        c.joined += len(updates)
        c.waiting += len(new_waiting)
        self._entries += len(new_waiting)

    def _enforce_cap(self) -> None:
        over = self._entries - self.max_entries
        if over <= 0:
            return
        # Evict a little more than needed so a store at its cap does not evict per batch.
        target = over + max(1, self.max_entries // 100)
        db = self._db
        gone = db.execute(
            "DELETE FROM waiting WHERE (model, event_id) IN "
            "(SELECT model, event_id FROM waiting ORDER BY arrived LIMIT ?) RETURNING model",
            (target,),
        ).fetchall()
        for (m,) in gone:
            self.counters(m).evicted += 1
        done = len(gone)
        for joined in (0, 1):
            if done >= target:
                break
            victims = db.execute(
                "SELECT model, event_id, window_id FROM predictions "
                "WHERE (label IS NOT NULL) = ? ORDER BY event_time LIMIT ?",
                (joined, target - done),
            ).fetchall()
            db.executemany(
                "DELETE FROM predictions WHERE model=? AND event_id=?",
                [(m, e) for m, e, _ in victims],
            )
            if joined:  # a joined pair leaves its window's numbers
                db.executemany(
                    "UPDATE windows SET joined = joined - 1 WHERE model=? AND window_id=?",
                    [(m, w) for m, _, w in victims],
                )
            for m, _, _ in victims:
                self.counters(m).evicted += 1
            done += len(victims)
        self._entries -= done

    def expire(self, now: float, model: str | None = None, max_delay: float | None = None) -> None:
        """Drop unlabelled predictions older than ``now − max_delay`` (counted
        ``expired``) and waiting labels that arrived before it (``orphaned``). ``now`` is
        the stream's event-time watermark; ``model`` limits it to one model (whose own
        ``max_delay``, seconds, defaults to the store's). Part of the open transaction."""
        cutoff = now - (self.max_delay if max_delay is None else max_delay)
        try:
            self._begin()
            if model is None:
                expired = self._db.execute(
                    "DELETE FROM predictions WHERE label IS NULL AND event_time < ? "
                    "RETURNING model",
                    (cutoff,),
                ).fetchall()
                orphaned = self._db.execute(
                    "DELETE FROM waiting WHERE arrived < ? RETURNING model", (cutoff,)
                ).fetchall()
            else:
                expired = self._db.execute(
                    "DELETE FROM predictions WHERE model=? AND label IS NULL AND event_time < ? "
                    "RETURNING model",
                    (model, cutoff),
                ).fetchall()
                orphaned = self._db.execute(
                    "DELETE FROM waiting WHERE model=? AND arrived < ? RETURNING model",
                    (model, cutoff),
                ).fetchall()
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        for (m,) in expired:
            self.counters(m).expired += 1
        for (m,) in orphaned:
            self.counters(m).orphaned += 1
        self._entries -= len(expired) + len(orphaned)

    def flush(self) -> None:
        """Make every change since the last flush durable (one fsync'ed commit). Raises
        :class:`SinkError` on failure, with those changes discarded: the caller must not
        commit offsets past it and re-reads from its last committed offset."""
        try:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._discard()
            raise self._error(exc) from None
        self._flushed = {m: _copy(c) for m, c in self._counters.items()}

    def rollback(self) -> None:
        """Discard the changes since the last flush (after a failed flush or batch)."""
        self._restore_counters()
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        self._entries = self._count()

    def windows(self, model: str, *, include_final: bool = False) -> list[WindowCoverage]:
        """The model's prediction windows with their coverage, oldest first."""
        rows = self._db.execute(
            "SELECT window_id, window_end, tracked, joined, final FROM windows "
            "WHERE model=? AND (final=0 OR ?) ORDER BY window_id",
            (model, include_final),
        ).fetchall()
        return [WindowCoverage(model, int(w), float(e), t, j, bool(f)) for w, e, t, j, f in rows]

    def pairs(self, model: str, window_id: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """A window's joined pairs: labels (n,), outputs (n, k) and delays (n,) in
        seconds, in event-id order (deterministic)."""
        rows = self._db.execute(
            "SELECT label, outputs, label_time - event_time FROM predictions "
            "WHERE model=? AND window_id=? AND label IS NOT NULL ORDER BY event_id",
            (model, window_id),
        ).fetchall()
        labels = np.array([r[0] for r in rows], dtype=np.float64)
        outputs = [np.frombuffer(r[1], dtype="<f8") for r in rows]
        width = outputs[0].shape[0] if outputs else 1
        matrix = np.vstack(outputs) if outputs else np.empty((0, width))
        delays = np.array([r[2] for r in rows], dtype=np.float64)
        return labels, matrix, delays

    def finalize(self, model: str, window_id: int) -> None:
        """Mark a window final and drop its predictions (part of the open transaction).
        Its late predictions are then ignored (counted ``late``)."""
        try:
            self._begin()
            gone = self._db.execute(
                "DELETE FROM predictions WHERE model=? AND window_id=?", (model, window_id)
            ).rowcount
            self._db.execute(
                "UPDATE windows SET final=1 WHERE model=? AND window_id=?", (model, window_id)
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None
        self._entries -= gone

    def forget_windows(self, model: str, ended_before: float) -> None:
        """Drop final windows' records that ended before ``ended_before`` (a watermark
        minus ``max_delay``: predictions that old are expired on arrival anyway)."""
        try:
            self._begin()
            self._db.execute(
                "DELETE FROM windows WHERE model=? AND final=1 AND window_end < ?",
                (model, ended_before),
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from None

    def close(self) -> None:
        """Roll back anything not flushed and close the file."""
        try:
            self._db.close()
        except sqlite3.Error as exc:
            raise self._error(exc) from None


def _copy(c: JoinCounters) -> JoinCounters:
    return dataclasses.replace(c, delays=[])


def _json_list(values: Iterable[object]) -> str:
    """``values`` as one JSON array: the single parameter of ``IN (SELECT value FROM
    json_each(?))``, so the statement text never depends on the data."""
    return json.dumps(list(values))
