"""The durable webhook outbox: one SQLite file in the state directory.

A trigger is written here - one row per (trigger, target), in one transaction - before
any request is sent, so a crash, ``kill -9`` or restart loses no webhook: opening the
file again returns the pending rows. The file is in WAL mode with ``synchronous=FULL``:
a committed enqueue survives power loss.

Tables:

- ``deliveries``: pending rows, primary key ``(trigger_id, type, target)``; the
  rendered request body is stored, so every attempt sends identical bytes.
- ``history``: finished rows (``delivered`` or ``dead``), newest ``history_size`` kept.
  Enqueueing a key that is pending *or* still in the history is a no-op, so a trigger
  re-emitted after a restart is not delivered twice (within the history window).

Deliveries to one (model, target) go out in enqueue order: a row is not due while an
earlier row of the same model and target is still pending, so a receiver never sees
``drift.resolved`` before the ``drift.detected`` it resolves.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple

from drift_monitor.errors import SinkError, WebhookError
from drift_monitor.webhooks.config import WebhookTarget
from drift_monitor.webhooks.payload import Trigger, render_body

SCHEMA_VERSION = 1
OUTBOX_FILENAME = "webhook-outbox.sqlite3"
MAX_ERROR_LENGTH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    trigger_id TEXT NOT NULL,
    type TEXT NOT NULL,
    target TEXT NOT NULL,
    model TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body BLOB NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    first_enqueued_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    PRIMARY KEY (trigger_id, type, target)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_order ON deliveries (model, target, seq);
CREATE TABLE IF NOT EXISTS history (
    trigger_id TEXT NOT NULL,
    type TEXT NOT NULL,
    target TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_enqueued_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    last_error TEXT,
    PRIMARY KEY (trigger_id, type, target)
);
CREATE INDEX IF NOT EXISTS history_age ON history (finished_at);
"""

Outcome = Literal["delivered", "dead"]


class DeliveryKey(NamedTuple):
    """Identity of one delivery: the trigger's id and type, and the target's name."""

    trigger_id: str
    type: str
    target: str


@dataclass(frozen=True)
class PendingDelivery:
    """A row of the outbox waiting to be (re)sent.

    Times are seconds since the epoch; ``attempts`` counts attempts already made;
    ``body`` is the exact request body; ``last_error`` is ``None`` before the first failure.
    """

    key: DeliveryKey
    model: str
    message_id: str
    body: bytes
    attempts: int
    first_enqueued_at: float
    next_attempt_at: float
    last_error: str | None


@dataclass(frozen=True)
class FinishedDelivery:
    """A row of the history: how a delivery ended (``delivered`` or ``dead``)."""

    key: DeliveryKey
    model: str
    outcome: Outcome
    attempts: int
    first_enqueued_at: float
    finished_at: float
    last_error: str | None


class Outbox:
    """A durable queue of webhook deliveries in one SQLite file; safe across threads.

    ``path``: the database file (created with its directory). ``history_size``: how
    many finished deliveries to remember (0 keeps none; re-enqueueing a forgotten key
    sends it again). Raises ``WebhookError`` naming the file when it cannot be opened,
    is not an outbox, or has a newer schema.
    """

    def __init__(self, path: Path | str, *, history_size: int = 10_000) -> None:
        if history_size < 0:
            raise ValueError("history_size must be >= 0")
        self.path = Path(path)
        self._history_size = history_size
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise WebhookError(f"cannot open webhook outbox {str(self.path)!r}: {exc}") from None
        try:
            self._setup()
        except sqlite3.Error as exc:
            self._db.close()
            raise WebhookError(
                f"webhook outbox {str(self.path)!r} is unusable ({exc}); move it aside "
                "(pending webhooks in it are lost) and restart"
            ) from None

    @classmethod
    def in_state_dir(cls, state_dir: Path | str, *, history_size: int = 10_000) -> Outbox:
        """The outbox file ``webhook-outbox.sqlite3`` in the daemon's state directory."""
        return cls(Path(state_dir) / OUTBOX_FILENAME, history_size=history_size)

    def _setup(self) -> None:
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch to WAL journal mode (got {mode})")
        self._db.execute("PRAGMA synchronous=FULL")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(
                f"schema version {version} is newer than this drift-monitor's {SCHEMA_VERSION}"
            )
        self._db.executescript(
            f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;"
        )

    @contextmanager
    def _transaction(self, sink: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; SQLite errors become ``WebhookError``
        (``SinkError`` with ``sink``: a trigger that could not be made durable). A
        failed COMMIT (disk full) is rolled back so the next transaction can start."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        with contextlib.suppress(sqlite3.Error):
                            self._db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                if sink:
                    raise SinkError(
                        "outbox",
                        str(self.path),
                        f"cannot enqueue the webhook: {exc}; free space or fix permissions "
                        "of the state directory (retrying, nothing is committed)",
                    ) from None
                raise WebhookError(f"webhook outbox {str(self.path)!r}: {exc}") from None

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise WebhookError(f"webhook outbox {str(self.path)!r}: {exc}") from None

    # -- writing ----------------------------------------------------------------------

    def enqueue(self, trigger: Trigger, targets: Iterable[WebhookTarget], now: float) -> int:
        """Record ``trigger`` for every target in ``targets`` that serves its model.

        One transaction, committed durably before this returns; the body is rendered
        now by each target's preset. ``now``: seconds since the epoch, the rows'
        ``first_enqueued_at`` and first ``next_attempt_at``. A (trigger id, type,
        target) already pending or in the history is left alone. Returns the number of
        rows added (0 when everything was already known). Raises ``SinkError`` naming
        the file when the rows could not be written durably (nothing is written then).
        """
        rows = [(t.name, render_body(trigger, t)) for t in targets if t.serves(trigger.model)]
        added = 0
        with self._transaction(sink=True) as db:
            seq = int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM deliveries").fetchone()[0])
            for target, body in rows:
                known = db.execute(
                    "SELECT 1 FROM history WHERE trigger_id = ? AND type = ? AND target = ?",
                    (trigger.id, trigger.type, target),
                ).fetchone()
                if known:
                    continue
                cursor = db.execute(
                    "INSERT OR IGNORE INTO deliveries (trigger_id, type, target, model, "
                    "message_id, body, seq, attempts, first_enqueued_at, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                    (
                        trigger.id,
                        trigger.type,
                        target,
                        trigger.model,
                        trigger.message_id,
                        body,
                        seq + 1,
                        now,
                        now,
                    ),
                )
                if cursor.rowcount:
                    seq += 1
                    added += 1
        return added

    def mark_delivered(self, key: DeliveryKey, now: float) -> bool:
        """Finish ``key`` as delivered at ``now`` (epoch seconds), counting this attempt.

        The row moves to the history. Returns ``False`` when ``key`` was not pending.
        """
        return self._finish(key, "delivered", now, None)

    def mark_dead(self, key: DeliveryKey, now: float, error: str) -> bool:
        """Finish ``key`` as dead (given up) at ``now`` with ``error``, counting this attempt.

        The row moves to the history. Returns ``False`` when ``key`` was not pending.
        """
        return self._finish(key, "dead", now, error)

    def mark_retry(self, key: DeliveryKey, next_at: float, error: str) -> bool:
        """Count a failed attempt of ``key`` and make it due again at ``next_at`` (epoch s).

        ``error`` (truncated to 500 characters) becomes ``last_error``. Returns ``False``
        when ``key`` was not pending.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?, "
                "last_error = ? WHERE trigger_id = ? AND type = ? AND target = ?",
                (next_at, error[:MAX_ERROR_LENGTH], *key),
            )
            return cursor.rowcount > 0

    def _finish(self, key: DeliveryKey, outcome: Outcome, now: float, error: str | None) -> bool:
        with self._transaction() as db:
            row = db.execute(
                "SELECT model, attempts, first_enqueued_at FROM deliveries "
                "WHERE trigger_id = ? AND type = ? AND target = ?",
                key,
            ).fetchone()
            if row is None:
                return False
            db.execute(
                "DELETE FROM deliveries WHERE trigger_id = ? AND type = ? AND target = ?", key
            )
            if self._history_size > 0:
                model, attempts, first = row
                db.execute(
                    "INSERT OR REPLACE INTO history (trigger_id, type, target, model, outcome, "
                    "attempts, first_enqueued_at, finished_at, last_error) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*key, model, outcome, attempts + 1, first, now, _clip(error)),
                )
                db.execute(
                    "DELETE FROM history WHERE rowid IN (SELECT rowid FROM history "
                    "ORDER BY finished_at DESC, rowid DESC LIMIT -1 OFFSET ?)",
                    (self._history_size,),
                )
            return True

    # -- reading ----------------------------------------------------------------------

    def due(self, now: float, limit: int) -> list[PendingDelivery]:
        """Up to ``limit`` rows whose ``next_attempt_at`` <= ``now`` (epoch seconds).

        Oldest due first; a row waits while an earlier-enqueued row of the same model
        and target is pending (per-receiver order). ``limit`` <= 0 returns ``[]``.
        """
        if limit <= 0:
            return []
        with self._reading() as db:
            rows = db.execute(
                "SELECT d.trigger_id, d.type, d.target, d.model, d.message_id, d.body, d.attempts, "
                "d.first_enqueued_at, d.next_attempt_at, d.last_error "
                "FROM deliveries AS d WHERE d.next_attempt_at <= ? "
                "AND NOT EXISTS (SELECT 1 FROM deliveries AS e WHERE e.model = d.model "
                "AND e.target = d.target AND e.seq < d.seq) "
                "ORDER BY d.next_attempt_at, d.seq LIMIT ?",
                (now, limit),
            ).fetchall()
        return [_pending(r) for r in rows]

    def pending(self) -> list[PendingDelivery]:
        """Every pending row, in enqueue order (for status pages and tests)."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT d.trigger_id, d.type, d.target, d.model, d.message_id, d.body, d.attempts, "
                "d.first_enqueued_at, d.next_attempt_at, d.last_error "
                "FROM deliveries AS d ORDER BY d.seq"
            ).fetchall()
        return [_pending(r) for r in rows]

    def pending_count(self) -> int:
        """Number of deliveries not yet delivered or dead (the outbox-pending gauge)."""
        with self._reading() as db:
            return int(db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    def oldest_pending_enqueued_at(self) -> float | None:
        """Epoch seconds the oldest pending delivery was first enqueued; None when empty."""
        with self._reading() as db:
            value = db.execute("SELECT MIN(first_enqueued_at) FROM deliveries").fetchone()[0]
        return None if value is None else float(value)

    def history(self, limit: int = 100) -> list[FinishedDelivery]:
        """Up to ``limit`` finished deliveries, most recently finished first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT trigger_id, type, target, model, outcome, attempts, first_enqueued_at, "
                "finished_at, last_error FROM history ORDER BY finished_at DESC, rowid DESC "
                "LIMIT ?",
                (max(limit, 0),),
            ).fetchall()
        return [
            FinishedDelivery(
                key=DeliveryKey(r[0], r[1], r[2]),
                model=r[3],
                outcome=r[4],
                attempts=r[5],
                first_enqueued_at=r[6],
                finished_at=r[7],
                last_error=r[8],
            )
            for r in rows
        ]

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Close the file. Pending rows stay in it for the next ``Outbox`` on this path."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r})"


def _pending(row: tuple[Any, ...]) -> PendingDelivery:
    trigger_id, type_, target, model, message_id, body, attempts, first, next_at, error = row
    return PendingDelivery(
        key=DeliveryKey(str(trigger_id), str(type_), str(target)),
        model=str(model),
        message_id=str(message_id),
        body=bytes(body),
        attempts=int(attempts),
        first_enqueued_at=float(first),
        next_attempt_at=float(next_at),
        last_error=None if error is None else str(error),
    )


def _clip(error: str | None) -> str | None:
    return None if error is None else error[:MAX_ERROR_LENGTH]
