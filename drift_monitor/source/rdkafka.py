"""The Kafka consumer over confluent-kafka (librdkafka): ``kafka.client: confluent``.

Same contract as :class:`~drift_monitor.source.kafka.KafkaEventSource` (manual
commits with the window checkpoint as offset metadata, rebalances reported to the
consume loop, gaps judged by :mod:`.gaps`). Differences that follow from librdkafka:

- its consumer is built without contacting a broker, so no connecting wrapper is
  needed: while the brokers are down it polls nothing, is unassigned, and
  :meth:`RdkafkaEventSource.connected` says False;
- rebalance callbacks, statistics and errors run inside ``consume`` on the calling
  thread (the consume loop), never on another thread: the before-revoke callbacks
  (the loop's commit) run there too, while the member still owns the partitions;
- broker liveness comes from librdkafka's statistics (every
  :data:`STATS_INTERVAL_MS`): connected while a broker is ``UP`` in statistics at most
  :data:`STATS_STALE_S` old and no "all brokers down" error came since.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaException
from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import TopicPartition as KTopicPartition

from drift_monitor.source.base import Commit, CommitRetriable, RecordBatch, TopicPartition
from drift_monitor.source.gaps import GapDetector, GapSink
from drift_monitor.source.rdkafka_batch import confluent_batch
from drift_monitor.source.rdkafka_options import rdkafka_options
from drift_monitor.source.settings import KafkaSettings

log = logging.getLogger("drift_monitor.kafka")
#: librdkafka's own log lines (its ``logger``), filtered by :class:`_Repeats`.
client_log = logging.getLogger("drift_monitor.kafka.client")

#: librdkafka statistics interval (ms): the source of :meth:`connected`.
STATS_INTERVAL_MS = 1000
#: Statistics older than this (s) mean the consume loop or librdkafka is stuck.
STATS_STALE_S = 8.0
#: Longest wait of a metadata or committed-offset request (s).
REQUEST_TIMEOUT_S = 5.0
#: Partition counts are asked of the brokers at most this often (s).
METADATA_TTL_S = 30.0
#: The same client complaint is logged at most once per this many seconds: a broker
#: that refuses the handshake fails every reconnection attempt (up to every 5 s), and
#: librdkafka says it twice (its log line and the error callback).
REPEAT_S = 60.0
_NUMBERS = re.compile(r"\d+")


class _Repeats(logging.Filter):
    """Lets a text through once per :data:`REPEAT_S` seconds; texts that differ only in
    their numbers (ports, milliseconds, counts) are the same text. Remembers at most
    256 texts (the oldest is forgotten)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock
        self._said: dict[str, float] = {}

    def fresh(self, text: str) -> bool:
        """True when ``text`` (numbers aside) was not let through in the last
        :data:`REPEAT_S` seconds; then it counts as said now."""
        key = _NUMBERS.sub("#", text)
        now = self._clock()
        if now - self._said.get(key, -math.inf) < REPEAT_S:
            return False
        self._said.pop(key, None)
        self._said[key] = now
        if len(self._said) > 256:
            del self._said[next(iter(self._said))]
        return True

    def filter(self, record: logging.LogRecord) -> bool:
        """The logging hook: a repeat is dropped."""
        return self.fresh(record.getMessage())


#: librdkafka errors that mean the brokers cannot be reached (connection refused or
#: reset, name resolution, every broker down).
_UNREACHABLE = frozenset(
    (RdKafkaError._TRANSPORT, RdKafkaError._RESOLVE, RdKafkaError._ALL_BROKERS_DOWN)
)


class RdkafkaEventSource:
    """Consumer-group source over confluent-kafka (see the module docstring)."""

    def __init__(self, settings: KafkaSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._callbacks: list[Callable[[], None]] = []
        self._revoke_callbacks: list[Callable[[], None]] = []
        self._moved: set[TopicPartition] = set()
        self._stats_at = -float("inf")
        self._brokers_up = False
        self._counts: dict[str, tuple[float, int]] = {}
        self._errors_logged: set[int] = set()
        # Seeks librdkafka refused because the partition's fetcher had not started yet
        # (right after an assignment): applied before the next consume.
        self._pending_seeks: dict[TopicPartition, int] = {}
        # The last offset sought per partition (lag's position before a first record).
        self._sought: dict[TopicPartition, int] = {}
        self._repeats = _Repeats(clock)
        client_log.addFilter(self._repeats)
        self._consumer = Consumer(
            {
                **rdkafka_options(settings),
                "group.id": settings.group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": settings.auto_offset_reset,
                "session.timeout.ms": settings.session_timeout_ms,
                "heartbeat.interval.ms": min(3000, settings.session_timeout_ms // 3),
                "statistics.interval.ms": STATS_INTERVAL_MS,
                "stats_cb": self._on_stats,
                "error_cb": self._on_error,
                "logger": client_log,
            }
        )
        self._gaps = GapDetector(self._log_start, settings.auto_offset_reset)
        self._consumer.subscribe(
            list(settings.topics),
            on_assign=self._on_moved,
            on_revoke=self._on_revoke,
            on_lost=self._on_moved,
        )

    # -- callbacks (run inside consume, on the consume loop's thread) -----------------

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Still the owner (librdkafka unassigns after this returns): commit first.
        if partitions:
            for cb in list(self._revoke_callbacks):
                cb()
        self._on_moved(consumer, partitions)

    def _on_moved(self, _consumer: Any, partitions: list[Any]) -> None:
        tps = {(p.topic, p.partition) for p in partitions}
        self._moved.update(tps)
        for tp in tps:
            self._pending_seeks.pop(tp, None)
            self._sought.pop(tp, None)
        for cb in self._callbacks:
            cb()

    def _on_stats(self, text: str) -> None:
        brokers = orjson.loads(text).get("brokers", {})
        self._brokers_up = any(
            b.get("state") == "UP" and b.get("nodeid", -1) >= 0 for b in brokers.values()
        )
        self._stats_at = self._clock()

    def _on_error(self, err: Any) -> None:
        code = err.code()
        if code == RdKafkaError._ALL_BROKERS_DOWN:
            self._brokers_up = False
        if not self._repeats.fresh(err.str()):
            return
        if code in _UNREACHABLE:
            # Said as kafka-python's source says it: the operator greps for one word.
            log.warning(
                "Kafka brokers %s unreachable (%s); the client keeps retrying",
                ",".join(self._settings.bootstrap_servers),
                err.str(),
            )
        else:
            log.warning("Kafka client: %s", err.str())

    # -- the protocol ------------------------------------------------------------------

    def report_gaps_to(self, sink: GapSink) -> None:
        """Report offsets passed over unread (see :mod:`.gaps`) to ``sink``."""
        self._gaps.sink = sink

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        """Register ``callback``; it runs inside :meth:`poll` (the caller's thread)."""
        self._callbacks.append(callback)

    def before_revoke(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` (see :class:`~.base.RevocationNotifying`); it runs inside
        :meth:`poll` on the caller's thread."""
        self._revoke_callbacks.append(callback)

    def poll(self, timeout_ms: int, max_records: int) -> RecordBatch:
        """Up to ``max_records`` records, grouped by partition (each in offset order)."""
        self._apply_pending_seeks()
        msgs = self._consumer.consume(num_messages=max_records, timeout=timeout_ms / 1000)
        batch, errors = confluent_batch(msgs)
        for err in errors:
            self._log_error_once(err)
        if self._pending_seeks:
            # read from the old position: the seek re-reads from the new one
            batch = batch.without(self._pending_seeks)
        self._check_gaps(batch.spans())
        return batch

    def _log_error_once(self, err: Any) -> None:
        if err.code() == RdKafkaError._PARTITION_EOF:
            return
        if err.code() not in self._errors_logged:
            self._errors_logged.add(err.code())
            log.error("Kafka consumer: %s (logged once per kind)", err.str())

    def _apply_pending_seeks(self) -> None:
        for tp, offset in list(self._pending_seeks.items()):
            try:
                self._consumer.seek(KTopicPartition(tp[0], tp[1], offset))
            except KafkaException:
                continue
            del self._pending_seeks[tp]

    def _log_start(self, tp: TopicPartition) -> int | None:
        try:
            low, _ = self._consumer.get_watermark_offsets(
                KTopicPartition(*tp), timeout=REQUEST_TIMEOUT_S, cached=False
            )
        except KafkaException:
            return None
        return int(low) if low >= 0 else None

    def _check_gaps(self, spans: Mapping[TopicPartition, tuple[int, int]]) -> None:
        """As in the kafka-python source: judge where each partition went this poll
        (``spans``: first offset, last + 1 of each partition's records polled)."""
        moved, self._moved = self._moved, set()
        assigned = self._consumer.assignment()
        self._gaps.forget({(p.topic, p.partition) for p in assigned} - moved)
        idle = []
        for p in assigned:
            tp = (p.topic, p.partition)
            if tp in moved or tp in self._pending_seeks:
                continue
            span = spans.get(tp)
            if span is not None:
                self._gaps.observe(tp, *span)
            else:
                idle.append(p)
        if not idle:
            return
        try:
            positions = self._consumer.position(idle)
        except KafkaException:
            return
        for p in positions:
            if p.offset >= 0:
                self._gaps.observe((p.topic, p.partition), p.offset, p.offset)

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        """Commit synchronously with metadata. Raises CommitRetriable on a transient
        failure (no coordinator, brokers down, a rebalance: the caller retries next round,
        a rebalance rewinds the loop anyway), KafkaException on any other. A request is
        bounded by librdkafka's ``socket.timeout.ms``
        (:data:`~.rdkafka_options.SOCKET_TIMEOUT_MS`)."""
        if not positions:
            return
        offsets = [
            KTopicPartition(t, p, c.offset, metadata=c.metadata) for (t, p), c in positions.items()
        ]
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            _raise_commit_error(exc.args[0] if exc.args else None, exc)
        for p in result or ():
            if p.error is not None:
                _raise_commit_error(p.error, KafkaException(p.error))

    def committed(self, tp: TopicPartition) -> Commit | None:
        """The group's committed offset and metadata for ``tp`` (None when none)."""
        (p,) = self._consumer.committed([KTopicPartition(*tp)], timeout=REQUEST_TIMEOUT_S)
        if p.error is not None:
            raise KafkaException(p.error)
        if p.offset < 0:
            return None
        self._gaps.expect_if_unknown(tp, int(p.offset))
        return Commit(int(p.offset), p.metadata or "")

    def assignment(self) -> set[TopicPartition]:
        """Currently assigned partitions."""
        return {(p.topic, p.partition) for p in self._consumer.assignment()}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` next (applied before the next poll when the
        partition's fetcher has not started yet)."""
        self._gaps.expect(tp, offset)
        self._sought[tp] = offset
        try:
            self._consumer.seek(KTopicPartition(tp[0], tp[1], offset))
            self._pending_seeks.pop(tp, None)
        except KafkaException:
            self._pending_seeks[tp] = offset

    def lag(self) -> dict[TopicPartition, int]:
        """high watermark (from the last fetch) - position per assigned partition; no
        I/O. librdkafka knows a position only once a record was consumed: before that
        it is the offset sought, else the log start (``earliest``) or the end
        (``latest``) where the group starts. Partitions without a fetch yet are left
        out."""
        assigned = self._consumer.assignment()
        if not assigned:
            return {}
        out: dict[TopicPartition, int] = {}
        try:
            positions = self._consumer.position(assigned)
        except KafkaException:
            return {}
        for p in positions:
            tp = (p.topic, p.partition)
            try:
                low, high = self._consumer.get_watermark_offsets(p, cached=True)
            except KafkaException:
                continue
            if high < 0:
                continue
            pos = p.offset if p.offset >= 0 else self._sought.get(tp)
            if pos is None:
                reset_to = low if self._settings.auto_offset_reset == "earliest" else high
                pos = reset_to if reset_to >= 0 else high
            out[tp] = max(int(high) - int(pos), 0)
        return out

    def connected(self) -> bool:
        """Whether a broker was ``UP`` in recent statistics (module docstring)."""
        return self._brokers_up and self._clock() - self._stats_at <= STATS_STALE_S

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` from metadata, asked at most every
        :data:`METADATA_TTL_S` seconds (0 when unknown)."""
        now = self._clock()
        cached = self._counts.get(topic)
        if cached is not None and now - cached[0] < METADATA_TTL_S:
            return cached[1]
        count = cached[1] if cached is not None else 0
        try:
            meta = self._consumer.list_topics(topic, timeout=1.0).topics.get(topic)
            if meta is not None and meta.error is None:
                count = len(meta.partitions)
        except KafkaException:
            pass  # keep the last known count; asked again after the TTL
        self._counts[topic] = (now, count)
        return count

    def close(self) -> None:
        """Leave the group (no commit, not even before the revocation: the pipeline
        commits explicitly, and not at all after a fault)."""
        self._revoke_callbacks.clear()
        self._consumer.close()
        client_log.removeFilter(self._repeats)


#: Commit errors that pass: the coordinator is being looked up or moved, the brokers
#: are unreachable or slow, or the group is rebalancing (the loop rewinds to the
#: committed offsets after the rebalance anyway).
_TRANSIENT_COMMIT_CODES = frozenset(
    {
        RdKafkaError._WAIT_COORD,
        RdKafkaError._TRANSPORT,
        RdKafkaError._TIMED_OUT,
        RdKafkaError._ALL_BROKERS_DOWN,
        RdKafkaError._NO_OFFSET,
        RdKafkaError.REBALANCE_IN_PROGRESS,
        RdKafkaError.ILLEGAL_GENERATION,
        RdKafkaError.UNKNOWN_MEMBER_ID,
        RdKafkaError.COORDINATOR_NOT_AVAILABLE,
        RdKafkaError.NOT_COORDINATOR,
        RdKafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        RdKafkaError.REQUEST_TIMED_OUT,
    }
)


def _raise_commit_error(error: Any, exc: KafkaException) -> None:
    """Raise CommitRetriable for a transient commit ``error`` (a librdkafka KafkaError),
    else ``exc``."""
    if isinstance(error, RdKafkaError) and (
        error.code() in _TRANSIENT_COMMIT_CODES or error.retriable()
    ):
        raise CommitRetriable(f"{error.name()}: {error.str()}") from exc
    raise exc
