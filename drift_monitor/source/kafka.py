"""The Kafka consumer (kafka-python). All Kafka client code lives in this package:
this module (the consumer), :mod:`.producer` (dead-letter and report topics),
:mod:`.replay` (``replay``'s and the demo's producer, topic creation) and
:mod:`.options` (connection options shared by every client).

:class:`KafkaEventSource` is a consumer-group member with manual commits (the
pipeline decides what may be committed).

kafka-python 3 runs rebalance listeners on its IO thread, while the consume loop's
thread is blocked inside ``poll`` (the group join runs there). The listener sets a flag
that the consume loop notices to rebuild its windows; before a revocation it also runs
the :meth:`~KafkaEventSource.before_revoke` callbacks (the loop's commit) on a worker
thread and awaits them without blocking the IO loop (a blocking consumer call from the
IO thread itself is refused by kafka-python; the commit needs that loop to run).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from kafka import KafkaConsumer
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener
from kafka.errors import (
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
)
from kafka.structs import OffsetAndMetadata
from kafka.structs import TopicPartition as KTopicPartition

from drift_monitor.source.base import Commit, CommitRetriable, RecordBatch, TopicPartition
from drift_monitor.source.batches import kafka_python_batch
from drift_monitor.source.gaps import GapDetector, GapSink
from drift_monitor.source.options import (
    BOOTSTRAP_TIMEOUT_MS,
    build_closing_on_failure,
    client_options,
    reachable,
)
from drift_monitor.source.producer import KafkaDeadLetters, KafkaReports
from drift_monitor.source.settings import KafkaSettings

__all__ = [
    "ConnectingKafkaSource",
    "KafkaDeadLetters",
    "KafkaEventSource",
    "KafkaReports",
    "client_options",
]

log = logging.getLogger("drift_monitor.kafka")

#: How often an unconnected source retries (seconds).
RECONNECT_INTERVAL_S = 5.0

#: Seconds between two broker liveness probes (metadata requests), at most.
PROBE_INTERVAL_S = 2.0
#: A probe unanswered for this long means the brokers are unreachable, whatever the
#: connection state says (a metadata answer takes milliseconds on a live cluster).
PROBE_STALE_S = 8.0
#: Longest wait of one synchronous offset commit (a commit takes milliseconds).
COMMIT_TIMEOUT_MS = 5000
#: Longest wait for the before-revoke callbacks (a flush and a commit) before the
#: rebalance goes on without them: the next owner then re-reads from the last commit.
REVOKE_TIMEOUT_S = 15.0
#: How often the listener looks whether the before-revoke callbacks are done (s).
REVOKE_POLL_S = 0.01
#: Longest wait at start for the subscribed topics' partition metadata (s), and how
#: many answered refreshes without a topic mean it does not exist (yet).
METADATA_WAIT_S = 5.0
METADATA_MISSES = 2


#: Commit failures that pass: the group rebalanced (the loop rewinds to the committed
#: offsets anyway), the coordinator moved or timed out, the brokers are unreachable.
_TRANSIENT_COMMIT = (CommitFailedError, KafkaTimeoutError, KafkaConnectionError)


class _Listener(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    """Awaited by kafka-python's coordinator on its IO thread (see the module
    docstring)."""

    def __init__(
        self,
        on_change: Callable[[], None],
        moved: Callable[[Iterable[Any]], None],
        before_revoke: Callable[[Iterable[Any]], Awaitable[None]],
    ) -> None:
        self._on_change = on_change
        self._moved = moved
        self._before_revoke = before_revoke

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._before_revoke(revoked)
        self._moved(revoked)
        self._on_change()

    async def on_partitions_lost(self, lost: Any) -> None:
        # No commit: the session expired and another member may own them already.
        self._moved(lost)
        self._on_change()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._moved(assigned)
        self._on_change()


class KafkaEventSource:
    """Consumer-group source over kafka-python (see the module docstring)."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._callbacks: list[Callable[[], None]] = []
        self._revoke_callbacks: list[Callable[[], None]] = []
        # An exception of a before-revoke callback (raised again by the next poll).
        self._revoke_error: BaseException | None = None
        self._lock = threading.Lock()
        # Broker liveness probe (see connected()); callbacks run on kafka-python's IO thread.
        self._probe_lock = threading.Lock()
        self._probe_sent_at: float | None = None
        self._probe_last_sent = -math.inf
        self._probe_failed = False
        self._probe_token: object | None = None
        self._consumer = build_closing_on_failure(
            KafkaConsumer,
            group_id=settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset=settings.auto_offset_reset,
            max_poll_records=settings.max_poll_records,
            session_timeout_ms=settings.session_timeout_ms,
            # kafka-python's default (3 s) is too high for short session timeouts.
            heartbeat_interval_ms=min(3000, settings.session_timeout_ms // 3),
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
            **client_options(settings),
        )
        self._gaps = GapDetector(self._log_start, settings.auto_offset_reset)
        # Partitions revoked or assigned since the last poll (written on the IO thread).
        self._moved: set[TopicPartition] = set()
        self._consumer.subscribe(
            topics=list(settings.topics),
            listener=_Listener(self._rebalanced, self._moved_tps, self._run_before_revoke),
        )
        self._await_topic_metadata(settings.topics)

    def _await_topic_metadata(self, topics: Iterable[str]) -> None:
        """Before the first poll joins the group: wait until the cluster metadata holds
        the partitions of every subscribed topic (at most :data:`METADATA_WAIT_S`; a
        topic still absent after :data:`METADATA_MISSES` answered refreshes is missing,
        which the daemon reports elsewhere).

        kafka-python waits for fresh metadata before joining only for pattern
        subscriptions (KAFKA-3949): with a topic list, a leader that joins first assigns
        nothing ("No partition metadata for topic"), and the group rebalances again
        once the metadata arrives. That extra rebalance, under load, left a fresh
        member without partitions for 15 s to 120 s (bench.scaleout, the crash loop).
        """
        cluster = self._network_client().cluster
        deadline = time.monotonic() + METADATA_WAIT_S
        misses = 0
        while time.monotonic() < deadline and misses < METADATA_MISSES:
            if all(cluster.partitions_for_topic(t) for t in topics):
                return
            future = cluster.request_update()
            while not future.is_done and time.monotonic() < deadline:
                time.sleep(REVOKE_POLL_S)  # the IO thread answers; nothing to do here
            misses += int(future.is_done)
        missing = [t for t in topics if not cluster.partitions_for_topic(t)]
        if missing:
            log.warning(
                "no partition metadata yet for topic(s) %s; joining the group anyway",
                ", ".join(missing),
            )

    def _rebalanced(self) -> None:
        for cb in self._callbacks:
            cb()

    async def _run_before_revoke(self, revoked: Iterable[Any]) -> None:
        """Run the before-revoke callbacks on a worker thread and await them for at most
        :data:`REVOKE_TIMEOUT_S` (see the module docstring)."""
        callbacks = list(self._revoke_callbacks)
        if not callbacks or not set(revoked):
            return
        done = threading.Event()

        def work() -> None:
            try:
                for cb in callbacks:
                    cb()
            except BaseException as exc:  # raised again by the next poll, on its thread
                self._revoke_error = exc
            finally:
                done.set()

        threading.Thread(target=work, name="drift-monitor-revoke", daemon=True).start()
        deadline = time.monotonic() + REVOKE_TIMEOUT_S
        while not done.is_set():
            if time.monotonic() > deadline:
                log.warning(
                    "committing before the rebalance took over %.0fs; the rebalance goes on "
                    "(the next owner re-reads from the previous commit)",
                    REVOKE_TIMEOUT_S,
                )
                return
            # kafka-python's IO loop awaitable (its private selector: the one way to
            # wait here without blocking the loop the commit itself runs on).
            await self._consumer._net.sleep(REVOKE_POLL_S)

    def before_revoke(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` (see :class:`~.base.RevocationNotifying`); it runs on a
        worker thread while the consume loop's thread is blocked in :meth:`poll`."""
        self._revoke_callbacks.append(callback)

    def _moved_tps(self, tps: Iterable[Any]) -> None:
        with self._lock:
            self._moved.update((tp.topic, tp.partition) for tp in tps)

    def report_gaps_to(self, sink: GapSink) -> None:
        """Report offsets passed over unread (see :mod:`.gaps`) to ``sink``."""
        self._gaps.sink = sink

    def _log_start(self, tp: TopicPartition) -> int | None:
        ktp = KTopicPartition(*tp)
        try:
            return int(self._consumer.beginning_offsets([ktp], timeout_ms=COMMIT_TIMEOUT_MS)[ktp])
        except (KafkaError, KeyError, TypeError):
            return None

    def _check_gaps(self, batches: Mapping[Any, list[Any]]) -> None:
        """Judge where each assigned partition's offsets went this poll (see :mod:`.gaps`).
        A partition that moved between consumers starts afresh: its new position comes
        from the group's commit, which the caller's seek or :meth:`committed` states."""
        with self._lock:
            moved, self._moved = self._moved, set()
        assigned = self.assignment()
        self._gaps.forget(assigned - moved)
        for ktp in self._consumer.assignment():
            tp = (ktp.topic, ktp.partition)
            if tp in moved:
                continue
            msgs = batches.get(ktp)
            if msgs:
                self._gaps.observe(tp, msgs[0].offset, msgs[-1].offset + 1)
                continue
            try:
                pos = self._consumer.position(ktp, timeout_ms=0)
            except (KafkaError, TypeError):
                continue
            if pos is not None:
                self._gaps.observe(tp, int(pos), int(pos))

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        """Register ``callback``; it runs on kafka-python's IO thread: keep it trivial."""
        self._callbacks.append(callback)

    def poll(self, timeout_ms: int, max_records: int) -> RecordBatch:
        """Next batch, in partition order."""
        batches = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        error, self._revoke_error = self._revoke_error, None
        if error is not None:
            raise error
        self._check_gaps(batches)
        return kafka_python_batch(batches)

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        """Commit synchronously, waiting at most :data:`COMMIT_TIMEOUT_MS`; raises
        CommitRetriable on a transient failure or timeout (the caller retries next
        round; a rebalance rewinds the loop anyway), KafkaError on any other. Bounded so a
        hung broker cannot stall the consume loop (and its health checks) for
        kafka-python's whole request timeout."""
        if not positions:
            return
        offsets = {
            KTopicPartition(t, p): OffsetAndMetadata(c.offset, c.metadata, -1)
            for (t, p), c in positions.items()
        }
        # A commit may block: probe the brokers first, so that a hung broker is judged
        # by the age of this probe at the next health round (see connected()).
        with contextlib.suppress(AttributeError, KafkaError):
            self._probe()
        try:
            self._consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        except _TRANSIENT_COMMIT as exc:
            raise CommitRetriable(f"{type(exc).__name__}: {exc}") from exc
        except KafkaError as exc:
            if not exc.retriable:
                raise
            raise CommitRetriable(f"{type(exc).__name__}: {exc}") from exc

    def committed(self, tp: TopicPartition) -> Commit | None:
        """The group's committed offset and metadata for ``tp``."""
        om = self._consumer.committed(KTopicPartition(*tp), metadata=True)
        if om is None:
            return None
        self._gaps.expect_if_unknown(tp, int(om.offset))
        return Commit(int(om.offset), om.metadata or "")

    def assignment(self) -> set[TopicPartition]:
        """Currently assigned partitions."""
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` next."""
        self._consumer.seek(KTopicPartition(*tp), offset)
        self._gaps.expect(tp, offset)

    def lag(self) -> dict[TopicPartition, int]:
        """highwater - position per assigned partition, from fetch metadata (no I/O)."""
        out: dict[TopicPartition, int] = {}
        for tp in self._consumer.assignment():
            hw = self._consumer.highwater(tp)
            if hw is None:
                continue
            try:
                pos = self._consumer.position(tp, timeout_ms=0)
            except (KafkaError, TypeError):
                continue
            if pos is not None:
                out[(tp.topic, tp.partition)] = max(int(hw) - int(pos), 0)
        return out

    def connected(self) -> bool:
        """Whether the brokers answer: a broker connection is up (kafka-python's client
        state) *and* the last metadata probe was answered.

        Connection state alone is not enough: a hung broker, or a network partition that
        drops packets, leaves the socket "connected" until kafka-python's request
        timeout closes it, and a reconnect to a frozen broker can look connected again.
        So each call (the consume thread's health round, every few seconds) and each
        commit also send a cheap metadata request when none is in flight and none was
        sent in the last :data:`PROBE_INTERVAL_S` seconds; a probe unanswered for
        :data:`PROBE_STALE_S` seconds, or failed, means disconnected until one succeeds.
        The answer arrives on kafka-python's IO thread: this never blocks.
        """
        client = self._network_client()
        try:
            brokers = client.cluster.brokers()
            up = any(client.connected(b.node_id) for b in brokers)
            self._probe()
        except (AttributeError, KafkaError):
            return False
        return up and self._broker_answers()

    def _broker_answers(self) -> bool:
        with self._probe_lock:
            if self._probe_failed:
                return False
            since = self._probe_sent_at
            return since is None or time.monotonic() - since <= PROBE_STALE_S

    def _probe(self) -> None:
        """Ask for a metadata refresh unless one is in flight or was sent recently."""
        cluster = self._network_client().cluster
        now = time.monotonic()
        with self._probe_lock:
            if self._probe_sent_at is not None:
                return  # in flight: its age is what _broker_answers judges
            if now - self._probe_last_sent < PROBE_INTERVAL_S:
                return
            self._probe_sent_at = self._probe_last_sent = now
            token = object()
            self._probe_token = token

        def done(ok: bool) -> None:
            with self._probe_lock:
                if self._probe_token is token:
                    self._probe_sent_at = None
                    self._probe_failed = not ok

        future = cluster.request_update()
        future.add_callback(lambda _: done(True))
        future.add_errback(lambda _: done(False))

    def _network_client(self) -> Any:
        """kafka-python's private network client of the consumer: the one use of
        ``_client`` in the project. The public API has no way to ask whether a broker
        connection is up, nor to request a metadata refresh without blocking, and the
        liveness probe (:meth:`connected`) needs both. kafka-python 3.0's ``KafkaNetClient``
        offers ``cluster``, ``connected(node_id)`` and ``cluster.request_update()``."""
        return self._consumer._client

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` from cluster metadata (0 when unknown)."""
        parts = self._consumer.partitions_for_topic(topic)
        return len(parts) if parts else 0

    def close(self) -> None:
        """Leave the group (no auto-commit and no before-revoke commit: the pipeline
        commits explicitly, and not at all after a fault)."""
        self._revoke_callbacks.clear()
        self._consumer.close(autocommit=False)


class ConnectingKafkaSource:
    """:class:`KafkaEventSource` that starts without a reachable broker.

    kafka-python's consumer needs a broker to be constructed. Until one answers, this
    source polls nothing (waiting ``timeout_ms``), reports itself disconnected and
    unassigned (``/readyz`` 503, ``kafka_connected`` 0) and retries every
    :data:`RECONNECT_INTERVAL_S` seconds, so the daemon starts, serves its probes and
    stops on SIGTERM while the brokers are down.
    """

    def __init__(self, settings: KafkaSettings, clock: Callable[[], float] = time.monotonic):
        self._settings = settings
        self._clock = clock
        self._inner: KafkaEventSource | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._revoke_callbacks: list[Callable[[], None]] = []
        self._gap_sink: GapSink | None = None
        self._next_try = -math.inf

    def _connect(self) -> KafkaEventSource | None:
        if self._inner is not None or self._clock() < self._next_try:
            return self._inner
        servers = ",".join(self._settings.bootstrap_servers)
        try:
            # A plain TCP connection first: cheap, and no client is built against a
            # down cluster (a client that is built and fails is closed: see
            # build_closing_on_failure).
            reachable(self._settings.bootstrap_servers)
        except OSError as exc:
            self._next_try = self._clock() + RECONNECT_INTERVAL_S
            log.warning(
                "Kafka brokers %s unreachable (%s); retrying every %.0fs",
                servers,
                type(exc).__name__,
                RECONNECT_INTERVAL_S,
            )
            return None
        try:
            inner = KafkaEventSource(self._settings)
        except (KafkaError, OSError) as exc:
            self._next_try = self._clock() + RECONNECT_INTERVAL_S
            # The port answers but the client could not bootstrap: most often the
            # listener speaks another protocol (SASL or SSL against PLAINTEXT, or back).
            log.warning(
                "Kafka brokers %s accept connections but the client could not bootstrap "
                "(%s); check that kafka.security_protocol (%s) and the ssl/sasl settings "
                "match the listener; retrying every %.0fs",
                servers,
                type(exc).__name__,
                self._settings.security_protocol,
                RECONNECT_INTERVAL_S,
            )
            return None
        for cb in self._callbacks:
            inner.on_rebalance(cb)
        for cb in self._revoke_callbacks:
            inner.before_revoke(cb)
        if self._gap_sink is not None:
            inner.report_gaps_to(self._gap_sink)
        self._inner = inner
        log.info("connected to Kafka brokers %s", ",".join(self._settings.bootstrap_servers))
        return inner

    def report_gaps_to(self, sink: GapSink) -> None:
        """Report offsets passed over unread to ``sink`` (once the consumer exists)."""
        self._gap_sink = sink
        if self._inner is not None:
            self._inner.report_gaps_to(sink)

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` now and on the consumer once it exists."""
        self._callbacks.append(callback)
        if self._inner is not None:
            self._inner.on_rebalance(callback)

    def before_revoke(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` now and on the consumer once it exists."""
        self._revoke_callbacks.append(callback)
        if self._inner is not None:
            self._inner.before_revoke(callback)

    def poll(self, timeout_ms: int, max_records: int) -> RecordBatch:
        """The consumer's next batch; nothing (after ``timeout_ms``) while unconnected."""
        inner = self._connect()
        if inner is None:
            time.sleep(timeout_ms / 1000)
            return RecordBatch.empty()
        return inner.poll(timeout_ms, max_records)

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        """Commit through the consumer; KafkaError while unconnected."""
        if not positions:
            return
        if self._inner is None:
            raise CommitRetriable("not connected to Kafka")
        self._inner.commit(positions)

    def committed(self, tp: TopicPartition) -> Commit | None:
        """The committed position (never asked while unconnected: nothing is assigned)."""
        return self._inner.committed(tp) if self._inner is not None else None

    def assignment(self) -> set[TopicPartition]:
        """Assigned partitions (none while unconnected)."""
        return self._inner.assignment() if self._inner is not None else set()

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Seek through the consumer."""
        if self._inner is not None:
            self._inner.seek(tp, offset)

    def lag(self) -> dict[TopicPartition, int]:
        """Per-partition lag (empty while unconnected)."""
        return self._inner.lag() if self._inner is not None else {}

    def connected(self) -> bool:
        """False until the consumer exists, then its own judgement."""
        return self._inner is not None and self._inner.connected()

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` (0 while unconnected)."""
        return self._inner.partition_count(topic) if self._inner is not None else 0

    def close(self) -> None:
        """Close the consumer if there is one."""
        if self._inner is not None:
            self._inner.close()
