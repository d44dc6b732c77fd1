"""The event source protocol: what the pipeline needs from Kafka (or a stand-in)."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple, Protocol, overload, runtime_checkable

import numpy as np
import numpy.typing as npt

TopicPartition = tuple[str, int]
#: A record's headers: (name, value) pairs in the order Kafka gave them.
Headers = tuple[tuple[str, bytes], ...]


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
    headers: Headers = ()


class RecordBatch(Sequence[Record]):
    """One poll's records as columns (issue 14: no :class:`Record` built per message on
    the hot path), and a ``Sequence[Record]`` for code that takes records one at a time:
    ``batch[i]`` builds that record when asked (equal to the one a source would have
    built), iteration builds them one by one, a slice is a batch again.

    Columns (one entry per record, in batch order):

    - ``tps``: the distinct partitions, in order of first appearance; ``tp_codes``
      (int64): each record's index into ``tps``;
    - ``offsets`` (int64); ``timestamps_ms`` (int64, the Kafka record timestamp in ms,
      -1 when absent);
    - ``keys``, ``values``: ``bytes | None`` lists (the source's own objects, no copy);
    - :attr:`headers`: built on first use from ``raw`` (the source's message objects,
      kept in batch order) by ``headers_of(raw[i])`` (which may return None or a list:
      made a tuple). Without ``headers_of``, ``raw`` holds the header tuples themselves;
      without ``raw`` every record has none.

    The arrays are shared, not copied: nobody writes to a batch's columns.
    """

    __slots__ = (
        "_headers",
        "_headers_of",
        "_raw",
        "keys",
        "offsets",
        "timestamps_ms",
        "tp_codes",
        "tps",
        "values",
    )

    def __init__(
        self,
        tps: list[TopicPartition],
        tp_codes: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.int64],
        timestamps_ms: npt.NDArray[np.int64],
        keys: list[bytes | None],
        values: list[bytes | None],
        raw: list[Any] | None = None,
        headers_of: Callable[[Any], Iterable[tuple[str, bytes]] | None] | None = None,
    ) -> None:
        self.tps = tps
        self.tp_codes = tp_codes
        self.offsets = offsets
        self.timestamps_ms = timestamps_ms
        self.keys = keys
        self.values = values
        self._raw = raw
        self._headers_of = headers_of
        self._headers: list[Headers] | None = None

    @classmethod
    def of(cls, records: Iterable[Record]) -> RecordBatch:
        """The batch of ``records``, in their order (grouped or not: see
        :meth:`grouped`)."""
        recs = list(records)
        index: dict[TopicPartition, int] = {}
        codes = [index.setdefault((r.topic, r.partition), len(index)) for r in recs]
        return cls(
            list(index),
            np.array(codes, dtype=np.int64),
            np.array([r.offset for r in recs], dtype=np.int64),
            np.array([r.timestamp_ms for r in recs], dtype=np.int64),
            [r.key for r in recs],
            [r.value for r in recs],
            [r.headers for r in recs],
        )

    @classmethod
    def empty(cls) -> RecordBatch:
        """No records."""
        none = np.empty(0, dtype=np.int64)
        return cls([], none, none, none, [], [])

    def __len__(self) -> int:
        return len(self.values)

    @property
    def headers(self) -> list[Headers]:
        """Each record's headers (built once, on first use)."""
        if self._headers is None:
            raw, of = self._raw, self._headers_of
            if raw is None:
                self._headers = [()] * len(self)
            elif of is None:
                self._headers = raw
            else:
                self._headers = [tuple(of(m) or ()) for m in raw]
        return self._headers

    def _headers_at(self, i: int) -> Headers:
        if self._headers is not None:
            return self._headers[i]
        if self._raw is None:
            return ()
        if self._headers_of is None:
            return self._raw[i]  # type: ignore[no-any-return]
        return tuple(self._headers_of(self._raw[i]) or ())

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> RecordBatch: ...
    def __getitem__(self, i: int | slice) -> Record | RecordBatch:
        if isinstance(i, slice):
            return RecordBatch(
                self.tps,
                self.tp_codes[i],
                self.offsets[i],
                self.timestamps_ms[i],
                self.keys[i],
                self.values[i],
                self._raw[i] if self._raw is not None else None,
                self._headers_of,
            )
        n = len(self)
        j = int(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(f"record {i} of a batch of {n}")
        topic, partition = self.tps[int(self.tp_codes[j])]
        return Record(
            topic,
            partition,
            int(self.offsets[j]),
            self.keys[j],
            self.values[j],
            int(self.timestamps_ms[j]),
            self._headers_at(j),
        )

    def __iter__(self) -> Iterator[Record]:
        tps = self.tps
        for j, (c, offset, ts, key, value) in enumerate(
            zip(
                self.tp_codes.tolist(),
                self.offsets.tolist(),
                self.timestamps_ms.tolist(),
                self.keys,
                self.values,
                strict=True,
            )
        ):
            topic, partition = tps[c]
            yield Record(topic, partition, offset, key, value, ts, self._headers_at(j))

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same records (a list of them, another batch)."""
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RecordBatch({len(self)} records of {self.tps})"

    def grouped(self) -> RecordBatch:
        """This batch with each partition's records together (stable: partitions in
        order of first appearance, each partition's records in batch order); itself
        when already so."""
        codes = self.tp_codes
        if len(codes) < 2 or bool((codes[1:] >= codes[:-1]).all()):
            return self
        return self._take(np.argsort(codes, kind="stable"), self.tps, None)

    def without(self, tps: Container[TopicPartition]) -> RecordBatch:
        """This batch less the records of partitions ``tps`` (itself when none)."""
        drop = [tp in tps for tp in self.tps]
        if not any(drop):
            return self
        keep = [c for c, dropped in enumerate(drop) if not dropped]
        recode = np.full(len(self.tps), -1, dtype=np.int64)
        recode[keep] = np.arange(len(keep), dtype=np.int64)
        codes = recode[self.tp_codes]
        return self._take(np.flatnonzero(codes >= 0), [self.tps[c] for c in keep], codes)

    def _take(
        self,
        rows: npt.NDArray[np.intp],
        tps: list[TopicPartition],
        codes: npt.NDArray[np.int64] | None,
    ) -> RecordBatch:
        """The records ``rows`` (in that order) with partitions ``tps``; ``codes``: every
        record's code into ``tps`` (None: this batch's codes)."""
        pick = itemgetter(*rows.tolist()) if len(rows) else None

        def take(column: list[Any]) -> list[Any]:
            if pick is None:
                return []
            got = pick(column)
            return list(got) if len(rows) > 1 else [got]

        return RecordBatch(
            tps,
            (self.tp_codes if codes is None else codes)[rows],
            self.offsets[rows],
            self.timestamps_ms[rows],
            take(self.keys),
            take(self.values),
            take(self._raw) if self._raw is not None else None,
            self._headers_of,
        )

    def spans(self) -> dict[TopicPartition, tuple[int, int]]:
        """Per partition in the batch: (its first record's offset, its last record's
        offset + 1), for a grouped batch whose partitions are each in offset order
        (what :meth:`EventSource.poll` returns)."""
        codes = self.tp_codes
        if not len(codes):
            return {}
        starts = np.flatnonzero(np.diff(codes, prepend=-1))
        ends = np.append(starts[1:], len(codes)) - 1
        firsts = self.offsets[starts].tolist()
        lasts = self.offsets[ends].tolist()
        return {
            self.tps[c]: (first, last + 1)
            for c, first, last in zip(codes[starts].tolist(), firsts, lasts, strict=True)
        }


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

    def poll(self, timeout_ms: int, max_records: int) -> Sequence[Record]:
        """Next batch of records (possibly empty) in partition order: each partition's
        records together and in offset order (partitions in no particular order). The
        Kafka sources return a :class:`RecordBatch` (the pipeline's hot path reads its
        columns); anything else is taken one record at a time."""
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
