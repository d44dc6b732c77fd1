"""Noticing when the consumer's position moves past records it never read.

Kafka's consumer resets a position that is out of range (``auto_offset_reset``) without
telling its user: when retention (or ``deleteRecords``, or a topic deleted and
recreated) removed records before they were read, or when a group's committed offset
is older than the log start, the next records simply come from further on. Offsets
also jump legitimately (transaction markers, compacted records), so a jump alone
proves nothing. The judgement here is the broker's own: a jump from the expected
offset ``e`` to ``f > e`` is a gap only when the partition's log-start offset ``s`` is
past ``e`` (records ``[e, s)`` were deleted unread, reason ``retention``); with
``auto_offset_reset: latest`` the reset then also skipped the live records ``[s, f)``
(reason ``offset_reset``). A position that moves *back* (the topic was recreated, or
a leader without the latest records took over) is logged and reported with no count:
how many records of the old log were never read is unknown; the pipeline then counts
the new log's records as new ones (``checkpoint/offsets.py``); with ``latest`` the
records of the new log before the new position are an ``offset_reset`` gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from drift_monitor.source.base import TopicPartition

log = logging.getLogger("drift_monitor.kafka")


@dataclass(frozen=True, slots=True)
class Gap:
    """Offsets ``[start, end)`` of ``topic``/``partition`` passed over unread; for
    ``moved_back``, ``start`` is the new position and ``end`` the one expected."""

    topic: str
    partition: int
    reason: str  # retention | offset_reset | moved_back
    start: int
    end: int

    @property
    def skipped(self) -> int:
        """Records passed over (0 when unknown: a move back)."""
        return 0 if self.reason == "moved_back" else max(self.end - self.start, 0)


class GapSink(Protocol):
    """Where gaps are reported (``MonitorState.record_gap``)."""

    def record_gap(
        self, topic: str, partition: int, reason: str, start: int, end: int, skipped: int
    ) -> None: ...


class GapDetector:
    """Tracks the next offset expected per partition and judges jumps (module docstring).

    ``log_start(tp)``: the partition's log-start offset from the broker (None when it
    cannot be had now); asked only when an offset jumps forward.
    ``reset``: the consumer's ``auto_offset_reset`` (``earliest``/``latest``).
    """

    def __init__(self, log_start: Callable[[TopicPartition], int | None], reset: str) -> None:
        self._log_start = log_start
        self._reset = reset
        self._expected: dict[TopicPartition, int] = {}
        self.sink: GapSink | None = None

    def expect(self, tp: TopicPartition, offset: int) -> None:
        """The next record of ``tp`` should be ``offset`` (a seek, a committed offset)."""
        self._expected[tp] = offset

    def expect_if_unknown(self, tp: TopicPartition, offset: int) -> None:
        """:meth:`expect`, unless something is expected for ``tp`` already."""
        self._expected.setdefault(tp, offset)

    def forget(self, keep: set[TopicPartition]) -> None:
        """Drop partitions no longer assigned (their next owner judges them)."""
        for tp in list(self._expected):
            if tp not in keep:
                del self._expected[tp]

    def observe(self, tp: TopicPartition, first: int, next_offset: int) -> list[Gap]:
        """``tp`` now yields ``first`` (its first record this poll, or its position when
        none came) and will yield ``next_offset`` next; returns the gaps found (each
        also logged once and given to :attr:`sink`)."""
        expected = self._expected.get(tp)
        self._expected[tp] = next_offset
        if expected is None or first == expected:
            return []
        gaps: list[Gap] = []
        if first < expected:
            gaps.append(Gap(tp[0], tp[1], "moved_back", first, expected))
            # With ``latest`` the out-of-range reset also passed over the new log's
            # records before ``first`` (a recreated topic's first records).
            start = self._log_start(tp) if self._reset == "latest" else None
            if start is not None and start < first:
                gaps.append(Gap(tp[0], tp[1], "offset_reset", start, first))
        else:
            start = self._log_start(tp)
            if start is None or start <= expected:
                return []  # transaction markers or compaction: nothing was lost
            deleted_to = min(start, first)
            gaps.append(Gap(tp[0], tp[1], "retention", expected, deleted_to))
            if self._reset == "latest" and first > deleted_to:
                gaps.append(Gap(tp[0], tp[1], "offset_reset", deleted_to, first))
        for gap in gaps:
            self._report(gap)
        return gaps

    def _report(self, gap: Gap) -> None:
        if gap.reason == "moved_back":
            log.error(
                "%s/%d: position moved back from offset %d to %d (topic deleted and "
                "recreated, or an unclean leader election); records of the old log after "
                "%d that were not read yet are lost",
                gap.topic,
                gap.partition,
                gap.end,
                gap.start,
                gap.end,
            )
        else:
            log.error(
                "%s/%d: %d records at offsets %d..%d were never read (%s): %s",
                gap.topic,
                gap.partition,
                gap.skipped,
                gap.start,
                gap.end - 1,
                gap.reason,
                "deleted by the topic's retention before this group read them"
                if gap.reason == "retention"
                else "skipped by auto_offset_reset: latest",
            )
        if self.sink is not None:
            self.sink.record_gap(
                gap.topic, gap.partition, gap.reason, gap.start, gap.end, gap.skipped
            )
