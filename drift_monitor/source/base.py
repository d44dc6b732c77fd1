"""The event source protocol: what the pipeline needs from Kafka (or a stand-in)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

TopicPartition = tuple[str, int]


class Record(NamedTuple):
    """One consumed record. ``timestamp_ms``: the Kafka record timestamp (ms, -1 when
    absent). A named tuple, not a dataclass: the sources build one per message, and a
    frozen dataclass costs twice as much to build (issue 14: ~2.4 us per record)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Commit:
    """Position to commit for one partition: the next offset to read, and a small JSON
    metadata string (window checkpoint) stored with it in Kafka."""

    offset: int
    metadata: str


class CommitRetriable(Exception):
    """:meth:`EventSource.commit` failed for a reason that passes (group rebalancing,
    coordinator moving, broker timeout or unreachable): nothing was committed, the next
    round retries. Any other exception from ``commit`` is a real fault."""


class EventSource(Protocol):
    """A consumer of records with explicit commits (Kafka, or in memory)."""

    def poll(self, timeout_ms: int, max_records: int) -> list[Record]:
        """Next batch of records (possibly empty) in partition order."""
        ...

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        """Synchronously commit ``positions``; raises :class:`CommitRetriable` for a
        transient failure (anything else is fatal)."""
        ...

    def committed(self, tp: TopicPartition) -> Commit | None:
        """The committed position of ``tp`` (None when the group has none)."""
        ...

    def assignment(self) -> set[TopicPartition]:
        """Partitions currently assigned to this process."""
        ...

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` next."""
        ...

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (possibly from another thread) when the assignment changes."""
        ...

    def lag(self) -> dict[TopicPartition, int]:
        """Records behind the end of each assigned partition (best effort)."""
        ...

    def connected(self) -> bool:
        """Whether the brokers are reachable (best effort)."""
        ...

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic`` known from metadata (0 when unknown)."""
        ...

    def close(self) -> None:
        """Leave the group and release the connection."""
        ...


@runtime_checkable
class RevocationNotifying(Protocol):
    """A source that says when the group is about to take its partitions away."""

    def before_revoke(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` before this member gives up partitions (a member joined or
        left, or this one is leaving), while it still owns them: a commit made there is
        accepted by the group, so the next owner resumes from it. It runs while the
        consume loop is blocked inside :meth:`EventSource.poll` (on that thread, or a
        worker thread the source waits for), so no record is being processed; never
        during :meth:`EventSource.close`, and not for partitions already lost (the
        session expired: another member may own them)."""
        ...


class DeadLetterSink(Protocol):
    """Where invalid records are copied, with the reason.

    Contract shared by every implementation (Kafka clients, in memory):
    ``send`` never raises for a property of the record (a copy too large for the
    producer is truncated, with headers saying so and the original size) and never
    blocks the consume loop for longer than the producer's configured bound. A copy
    that could not be acknowledged is kept and retried by the next ``flush``.
    """

    def send(self, record: Record, reason: str, detail: str) -> None:
        """Copy ``record`` with headers ``drift-monitor-reason``/``-detail``."""
        ...

    def flush(self) -> None:
        """Return once every copy sent so far is acknowledged; raise
        :class:`~drift_monitor.errors.SinkError` (naming the topic and the cause) when
        that could not be done within the bound. Nothing is committed past a failed
        flush; a later call retries the copies still unacknowledged."""
        ...


class ReportSink(Protocol):
    """Where drift incidents are published (a Kafka topic). Same contract as
    :class:`DeadLetterSink`: ``publish`` is bounded and never raises for the message
    itself; ``flush`` raises :class:`~drift_monitor.errors.SinkError` when not every
    message was acknowledged, and a later ``flush`` retries them."""

    def publish(self, key: str, body: bytes) -> None:
        """Produce one message keyed by model."""
        ...

    def flush(self) -> None:
        """Return once every message is acknowledged; raise SinkError otherwise."""
        ...


def empty_headers() -> Sequence[tuple[str, bytes]]:
    """No headers."""
    return ()
