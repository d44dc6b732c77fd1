"""In-memory event source and sinks: the demo and the tests run the daemon's exact
pipeline on them instead of Kafka."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

from drift_monitor.errors import SinkError
from drift_monitor.source.base import Commit, Record, RecordBatch, TopicPartition


class MemorySource:
    """Records fed by :meth:`feed`, consumed in order, with Kafka-like commits.

    One consumer; every fed partition is assigned. Thread-safe feeding. With
    ``retain_committed=False`` records below a partition's committed offset are
    dropped on commit (like log retention), so a long stream holds bounded memory;
    seeking below the committed offset is then an error.
    """

    def __init__(self, retain_committed: bool = True) -> None:
        self._retain = retain_committed
        self._base: dict[TopicPartition, int] = {}
        self._records: dict[TopicPartition, list[Record]] = {}
        self._positions: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, Commit] = {}
        #: every commit made, in order (tests check what was ever committed)
        self.commits: list[tuple[TopicPartition, Commit]] = []
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def feed(self, records: Iterable[Record]) -> None:
        """Append records (their offsets must increase per partition)."""
        with self._lock:
            for r in records:
                self._records.setdefault((r.topic, r.partition), []).append(r)
                self._positions.setdefault((r.topic, r.partition), 0)

    def append(self, topic: str, value: bytes, key: bytes | None = None, ts_ms: int = -1) -> int:
        """Append one value to partition 0 of ``topic``; returns its offset."""
        with self._lock:
            log = self._records.setdefault((topic, 0), [])
            self._positions.setdefault((topic, 0), 0)
            offset = self._base.get((topic, 0), 0) + len(log)
            log.append(Record(topic, 0, offset, key, value, ts_ms))
            return offset

    def poll(self, timeout_ms: int, max_records: int) -> RecordBatch:
        """Up to ``max_records`` unread records, partition by partition (never blocks)."""
        out: list[Record] = []
        with self._lock:
            for tp, log in self._records.items():
                pos = self._positions[tp]
                base = self._base.get(tp, 0)
                take = log[pos - base : pos - base + max_records - len(out)]
                out.extend(take)
                self._positions[tp] = pos + len(take)
                if len(out) >= max_records:
                    break
        return RecordBatch.of(out)

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        """Record the commits (and drop what they cover unless retained)."""
        with self._lock:
            self._committed.update(positions)
            self.commits.extend(positions.items())
            if self._retain:
                return
            for tp, c in positions.items():
                base = self._base.get(tp, 0)
                drop = c.offset - base
                if drop > 0 and tp in self._records:
                    del self._records[tp][:drop]
                    self._base[tp] = c.offset

    def committed(self, tp: TopicPartition) -> Commit | None:
        """The last commit of ``tp``."""
        with self._lock:
            return self._committed.get(tp)

    def assignment(self) -> set[TopicPartition]:
        """Every partition fed so far."""
        with self._lock:
            return set(self._records)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Rewind or skip ``tp`` to ``offset``."""
        with self._lock:
            if offset < self._base.get(tp, 0):
                raise ValueError(f"offset {offset} of {tp} was dropped after its commit")
            self._positions[tp] = offset

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        """Never rebalances; kept for the protocol."""
        self._listeners.append(callback)

    def lag(self) -> dict[TopicPartition, int]:
        """Unread records per partition."""
        with self._lock:
            return {
                tp: self._base.get(tp, 0) + len(log) - self._positions[tp]
                for tp, log in self._records.items()
            }

    def connected(self) -> bool:
        """Always connected."""
        return True

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` fed so far."""
        with self._lock:
            return sum(1 for t, _ in self._records if t == topic)

    def close(self) -> None:
        """Nothing to release."""

    def remaining(self) -> int:
        """Records not yet polled, over all partitions."""
        return sum(self.lag().values())


class _Acked:
    """Buffered sends with Kafka-producer semantics, and a switch to make them fail.

    ``fail(detail)``: until :meth:`heal`, ``flush`` raises :class:`SinkError` naming the
    topic (and so does every send with ``on_send=True``), like a producer whose topic
    is missing or whose brokers are down. Unacknowledged items are kept and delivered
    by the first ``flush`` after ``heal``, as the real producers' contract requires.
    """

    sink = "memory"

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._failing: str | None = None
        self._fail_on_send = False
        self.failures = 0

    def fail(self, detail: str = "topic does not exist", on_send: bool = False) -> None:
        """Make the sink fail from now on (``on_send``: sends raise too, not only flush)."""
        self._failing = detail
        self._fail_on_send = on_send

    def heal(self) -> None:
        """Work again."""
        self._failing = None

    def _check(self, sending: bool) -> None:
        if self._failing is not None and (self._fail_on_send or not sending):
            self.failures += 1
            raise SinkError(self.sink, self.topic, self._failing)


class MemoryDeadLetters(_Acked):
    """Keeps dead-lettered records: ``records`` every copy sent, ``acked`` those a
    ``flush`` confirmed."""

    sink = "dead_letters"

    def __init__(self, topic: str = "dead-letters") -> None:
        super().__init__(topic)
        self.records: list[tuple[Record, str, str]] = []
        self.acked: list[tuple[Record, str, str]] = []
        self._unacked: list[tuple[Record, str, str]] = []

    def send(self, record: Record, reason: str, detail: str) -> None:
        """Keep the record with its reason (raises SinkError while failing on send)."""
        self._check(sending=True)
        self.records.append((record, reason, detail))
        self._unacked.append((record, reason, detail))

    def flush(self) -> None:
        """Acknowledge every copy sent, or raise SinkError while failing."""
        self._check(sending=False)
        self.acked.extend(self._unacked)
        self._unacked.clear()


class MemoryReports(_Acked):
    """Keeps published reports: ``messages`` every one published, ``acked`` those a
    ``flush`` confirmed."""

    sink = "reports"

    def __init__(self, topic: str = "drift-reports") -> None:
        super().__init__(topic)
        self.messages: list[tuple[str, bytes]] = []
        self.acked: list[tuple[str, bytes]] = []
        self._unacked: list[tuple[str, bytes]] = []

    def publish(self, key: str, body: bytes) -> None:
        """Keep the message (raises SinkError while failing on send)."""
        self._check(sending=True)
        self.messages.append((key, body))
        self._unacked.append((key, body))

    def flush(self) -> None:
        """Acknowledge every message, or raise SinkError while failing."""
        self._check(sending=False)
        self.acked.extend(self._unacked)
        self._unacked.clear()
