"""Producers to the dead-letter and drift-report topics, bounded so that they never block
or crash the consume loop (the contract of :class:`~drift_monitor.source.base.DeadLetterSink`
and :class:`~drift_monitor.source.base.ReportSink`).

- ``send``/``publish`` wait at most :data:`SEND_BLOCK_MS` (kafka-python's
  ``max_block_ms``: metadata of a missing topic, a full client buffer) and only while
  the previous hand-over worked: after a failure, messages are held here without
  waiting until the next ``flush``. They never raise for the message itself: a copy
  larger than :data:`MAX_RECORD_BYTES` is truncated (headers
  ``drift-monitor-truncated`` and ``drift-monitor-original-size``); one the broker
  still rejects as too large is sent again with an empty value, and if even that is
  rejected it is counted in :attr:`BoundedProducer.too_large` and skipped.
- ``flush`` waits at most :data:`SEND_BLOCK_MS` + :data:`FLUSH_TIMEOUT_S` and raises
  :class:`~drift_monitor.errors.SinkError` when a message is not acknowledged; the
  unacknowledged ones are kept (in order) and retried by the next ``flush``; messages
  still in kafka-python's own queue are waited for again, never sent twice.
- At most :data:`BUFFER_BYTES` are held. Past that bound new messages are dropped and
  counted, and every later ``flush`` raises: nothing may be committed past a dropped
  copy, so this process never commits again and a restart re-reads the records from
  the last commit.
- :meth:`BoundedProducer.watch` checks the topic at start-up and then every
  :data:`TOPIC_RECHECK_S` seconds: a missing topic is logged once (naming the topic and
  the fix) and reported as a failing sink (``drift_monitor_sink_up{sink} 0``,
  ``/readyz`` 503) until the topic exists.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError

from drift_monitor.errors import SinkError
from drift_monitor.source.base import Record
from drift_monitor.source.options import (
    BOOTSTRAP_TIMEOUT_MS,
    build_closing_on_failure,
    client_options,
    reachable,
)
from drift_monitor.source.settings import KafkaSettings

log = logging.getLogger("drift_monitor.kafka")

#: Longest wait of one hand-over to kafka-python (``max_block_ms``).
SEND_BLOCK_MS = 1000
#: Longest wait for acknowledgements in one flush (seconds).
FLUSH_TIMEOUT_S = 10.0
#: Most bytes held (unacknowledged) by one producer.
BUFFER_BYTES = 64 * 1024 * 1024
#: Largest copy produced: under kafka-python's default ``max_request_size`` (1 MiB) and
#: the broker's default ``message.max.bytes`` (1,048,588), with room for batch overhead.
MAX_RECORD_BYTES = 1_000_000
#: Seconds between two checks that the topic exists (while it does; while it is
#: missing, every :data:`MISSING_RECHECK_S`, so that creating it heals quickly).
TOPIC_RECHECK_S = 30.0
MISSING_RECHECK_S = 5.0
#: Seconds between two attempts to build the client while the brokers are unreachable.
RECONNECT_S = 5.0
# Per-header and per-record overhead in the record format (varints, attributes).
_HEADER_OVERHEAD = 12
_RECORD_OVERHEAD = 64


class SinkHealth(Protocol):
    """Where a producer reports its health (``MonitorState.set_sink``)."""

    def set_sink(self, sink: str, problem: str | None) -> None: ...


@dataclass(slots=True)
class _Message:
    key: bytes | None
    value: bytes | None  # None: a tombstone, copied as one
    headers: list[tuple[str, bytes]]

    @property
    def size(self) -> int:
        heads = sum(len(k) + len(v) + _HEADER_OVERHEAD for k, v in self.headers)
        return len(self.key or b"") + len(self.value or b"") + heads + _RECORD_OVERHEAD


def fit(message: _Message, limit: int) -> _Message:
    """``message`` if it is at most ``limit`` bytes, else a copy that is: the value
    truncated (or emptied), with headers ``drift-monitor-truncated`` (what was cut) and
    ``drift-monitor-original-size`` (the original value's length in bytes)."""
    if message.size <= limit:
        return message
    marks = [
        ("drift-monitor-truncated", b"value"),
        ("drift-monitor-original-size", str(len(message.value or b"")).encode()),
    ]
    headers = message.headers + marks
    key = message.key
    spare = limit - _Message(key, b"", headers).size
    if spare < 0:
        # The record's own headers or key alone are too large: keep ours only.
        headers, key = marks + message.headers[:3], (message.key or b"")[:256] or None
        spare = max(limit - _Message(key, b"", headers).size, 0)
    return _Message(key, (message.value or b"")[:spare], headers)


class BoundedProducer:
    """A producer to one topic under the bounds of the module docstring.

    ``sink`` names it in errors and metrics (``dead_letters`` or ``reports``);
    ``setting`` is the config field naming the topic (for the fix in messages).
    Not thread-safe for senders (the consume loop is the only one); :meth:`watch`'s
    thread only touches what the lock guards.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        topic: str,
        sink: str,
        setting: str,
        *,
        send_block_ms: int = SEND_BLOCK_MS,
        flush_timeout_s: float = FLUSH_TIMEOUT_S,
        buffer_bytes: int = BUFFER_BYTES,
        max_record_bytes: int = MAX_RECORD_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic = topic
        self.sink = sink
        self._setting = setting
        self._settings = settings
        self._send_block_ms = send_block_ms
        self._flush_timeout_s = flush_timeout_s
        self._buffer_bytes = buffer_bytes
        self._max_record_bytes = max_record_bytes
        self._clock = clock
        self._pending: deque[_Message] = deque()
        self._inflight: list[tuple[_Message, Any]] = []
        self._held = 0
        #: Messages dropped past :data:`BUFFER_BYTES` (each later flush raises).
        self.dropped = 0
        #: Messages the broker rejected as too large even with an empty value.
        self.too_large = 0
        self._stalled = False
        self._lock = threading.Lock()
        self._kafka: KafkaProducer | None = None
        self._next_connect = -math.inf
        self._missing: str | None = None
        self._failure: str | None = None
        self._health: SinkHealth | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- the client ----------------------------------------------------------

    def _producer(self) -> KafkaProducer | None:
        with self._lock:
            if self._kafka is not None or self._clock() < self._next_connect:
                return self._kafka
            try:
                reachable(self._settings.bootstrap_servers)
                self._kafka = self._new_client()
            except (KafkaError, OSError) as exc:
                self._next_connect = self._clock() + RECONNECT_S
                self._failure = f"brokers unreachable ({type(exc).__name__})"
                return None
            return self._kafka

    def _new_client(self) -> KafkaProducer:
        """The client: kafka-python's here. Another client (:mod:`.rdkafka_producer`)
        overrides this with an object of the same shape (``send`` -> future with
        ``is_done``/``succeeded()``/``exception``, ``flush(timeout)``,
        ``partitions_for``, ``close(timeout)``, kafka-python's error classes)."""
        return build_closing_on_failure(
            KafkaProducer,
            acks="all",
            linger_ms=5,
            max_block_ms=self._send_block_ms,
            # Never create the topic by producing to it (a typo would make one).
            allow_auto_create_topics=False,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            **client_options(self._settings),
        )

    # -- sending -------------------------------------------------------------

    def _enqueue(self, message: _Message) -> None:
        message = fit(message, self._max_record_bytes)
        if self._held + message.size > self._buffer_bytes:
            if self.dropped == 0:
                log.error(
                    "%s: more than %d bytes unacknowledged on topic %r; dropping copies, "
                    "and no offset will be committed until a restart re-reads them",
                    self.sink,
                    self._buffer_bytes,
                    self.topic,
                )
            self.dropped += 1
            return
        self._pending.append(message)
        self._held += message.size
        if not self._stalled and self._missing is None:
            self._hand_over()

    def _hand_over(self) -> None:
        """Give pending messages to kafka-python, in order, until one cannot be."""
        while self._pending:
            producer = self._producer()
            if producer is None:
                self._stalled = True
                return
            message = self._pending[0]
            try:
                future = producer.send(
                    self.topic,
                    # As read: a tombstone (None) is copied as one, an empty value as empty.
                    value=message.value,
                    key=message.key,
                    headers=message.headers,
                )
            except MessageSizeTooLargeError:
                self._pending.popleft()
                self._held -= message.size
                self._shrink(message, self._pending.appendleft)
                continue
            except KafkaError as exc:
                self._stalled = True
                self._failure = f"{type(exc).__name__}: {exc}"
                return
            self._pending.popleft()
            self._inflight.append((message, future))

    def _shrink(self, message: _Message, requeue: Callable[[_Message], None]) -> None:
        if message.value:
            smaller = fit(message, 0)
            self._held += smaller.size
            requeue(smaller)
            return
        self.too_large += 1
        log.error(
            "%s: topic %r rejects even an empty copy (%d bytes of key and headers) as too "
            "large; skipped (counted as too_large)",
            self.sink,
            self.topic,
            message.size,
        )

    def flush(self) -> None:
        """Hand over what is held, wait for acknowledgements (bounded, see the module
        docstring); raise :class:`SinkError` unless every message is acknowledged."""
        self._stalled = False
        self._hand_over()
        if self._inflight and self._kafka is not None:
            try:
                self._kafka.flush(timeout=self._flush_timeout_s)
            except KafkaError as exc:
                self._failure = f"not acknowledged within {self._flush_timeout_s:g}s ({exc})"
        self._settle()
        waiting = len(self._pending) + len(self._inflight)
        if waiting == 0 and self.dropped == 0:
            self._failure = None
            with self._lock:
                self._missing = None
            self._report()
            return
        if self.dropped:
            detail = (
                f"{self.dropped} copies dropped past the {self._buffer_bytes}-byte buffer: "
                "restart to re-read them from the last commit"
            )
        else:
            cause = self._missing or self._failure or "not acknowledged"
            detail = f"{waiting} messages not acknowledged: {cause}"
        self._report()
        raise SinkError(self.sink, self.topic, detail)

    def _settle(self) -> None:
        failed: list[_Message] = []
        still: list[tuple[_Message, Any]] = []
        for message, future in self._inflight:
            if not future.is_done:
                still.append((message, future))
            elif future.succeeded():
                self._held -= message.size
            elif isinstance(future.exception, MessageSizeTooLargeError):
                self._held -= message.size
                self._shrink(message, failed.append)
            else:
                self._failure = f"{type(future.exception).__name__}: {future.exception}"
                failed.append(message)
        self._inflight = still
        self._pending.extendleft(reversed(failed))

    # -- topic check ----------------------------------------------------------

    def check_topic(self) -> bool:
        """Whether the topic exists (a metadata request bounded by :data:`SEND_BLOCK_MS`);
        logs the transition to missing once and reports it as the sink's problem.
        Unreachable brokers are not judged here (the consumer reports those)."""
        producer = self._producer()
        if producer is None:
            return True
        try:
            producer.partitions_for(self.topic)
        except KafkaError:
            problem = (
                f"topic {self.topic!r} does not exist on "
                f"{','.join(self._settings.bootstrap_servers)}: create it (e.g. "
                f"kafka-topics.sh --create --topic {self.topic}) or unset {self._setting}"
            )
            with self._lock:
                first = self._missing is None
                self._missing = problem
            if first:
                log.error("%s sink: %s", self.sink, problem)
            self._report()
            return False
        with self._lock:
            healed = self._missing is not None
            self._missing = None
        if healed:
            log.info("%s sink: topic %r exists now", self.sink, self.topic)
            self._report()
        return True

    def watch(
        self,
        health: SinkHealth,
        interval_s: float = TOPIC_RECHECK_S,
        missing_interval_s: float = MISSING_RECHECK_S,
    ) -> None:
        """Report to ``health`` from now on; check the topic now (in a thread, so that
        start-up is not delayed), then every ``interval_s`` seconds, or every
        ``missing_interval_s`` while it is missing, until :meth:`close`."""
        self._health = health

        def loop() -> None:
            while True:
                exists = True
                try:
                    exists = self.check_topic()
                except Exception:  # a thread must not die silently: log and go on
                    log.exception("%s sink: checking topic %r failed", self.sink, self.topic)
                if self._stop.wait(interval_s if exists else missing_interval_s):
                    return

        self._watcher = threading.Thread(target=loop, name=f"topic-check-{self.sink}", daemon=True)
        self._watcher.start()

    def _report(self) -> None:
        if self._health is None:
            return
        with self._lock:
            problem = self._missing
        if problem is None and (self._pending or self._inflight or self.dropped):
            problem = f"messages to {self.topic!r} not acknowledged: {self._failure}"
        self._health.set_sink(self.sink, problem)

    def close(self) -> None:
        """Stop the topic check; flush what can be (bounded) and close the client.
        Messages still unacknowledged are logged with their number."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout=self._send_block_ms / 1000 + 5)
        try:
            self.flush()
        except SinkError as exc:
            log.error("closing with messages not delivered: %s", exc)
        if self._kafka is not None:
            self._kafka.close(timeout=5)
            self._kafka = None


class KafkaDeadLetters(BoundedProducer):
    """Copies invalid records to the dead-letter topic with the reason in headers."""

    def __init__(self, settings: KafkaSettings, topic: str, **bounds: Any) -> None:
        super().__init__(settings, topic, "dead_letters", "kafka.dead_letter_topic", **bounds)

    def send(self, record: Record, reason: str, detail: str) -> None:
        """Hold a copy of ``record`` (same key and value) with headers
        ``drift-monitor-reason``/``-detail``/``-source``, and hand it over (bounded).
        Never raises for the record: an oversized copy is truncated."""
        headers = [
            ("drift-monitor-reason", reason.encode()),
            ("drift-monitor-detail", detail[:500].encode("utf-8", "replace")),
            ("drift-monitor-source", f"{record.topic}/{record.partition}@{record.offset}".encode()),
            *[(k, bytes(v or b"")) for k, v in record.headers],
        ]
        self._enqueue(_Message(record.key, record.value, headers))


class KafkaReports(BoundedProducer):
    """Produces drift incidents (the webhook body) to the report topic, keyed by model."""

    def __init__(self, settings: KafkaSettings, topic: str, **bounds: Any) -> None:
        super().__init__(settings, topic, "reports", "kafka.report_topic", **bounds)

    def publish(self, key: str, body: bytes) -> None:
        """Hold one message and hand it over (bounded); never raises for the message."""
        self._enqueue(_Message(key.encode(), body, []))
