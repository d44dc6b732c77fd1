"""The checkpointer: flush every sink, then commit (modelled on quix-streams'
``checkpointing/checkpoint.py``).

Effects of a closed window (metrics state, audit line, episode state, outbox row,
report-topic message) are made durable by the window's hooks *before* the window is
acked; buffered sinks (the audit log's page cache, the dead-letter and report
producers) are flushed here. Only when every flush returned is the position committed,
so no offset passes an effect that is not durable. A :class:`SinkError` from a flush
propagates (the loop backs off and retries); a :class:`CommitRetriable` from the source
leaves the previous commit in place and is retried next round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from drift_monitor.errors import SinkError
from drift_monitor.source.base import Commit, CommitRetriable, EventSource, TopicPartition

log = logging.getLogger("drift_monitor.checkpoint")


@dataclass(frozen=True, slots=True)
class Flush:
    """A sink with buffered effects: ``flush`` returns once they are durable, or raises
    :class:`SinkError`. ``name`` is the bounded sink name of ``sink_up{sink}``."""

    name: str
    flush: Callable[[], None]


class Checkpointer:
    """Commits positions of ``source`` after flushing ``flushes`` in order.
    ``report_sink(name, problem)`` records each sink's health (problem None = ok)."""

    def __init__(
        self,
        source: EventSource,
        flushes: Sequence[Flush],
        report_sink: Callable[[str, str | None], None],
    ) -> None:
        self._source = source
        self._flushes = list(flushes)
        self._report = report_sink
        self.committed: dict[TopicPartition, Commit] = {}

    def flush_sinks(self) -> None:
        """Flush every sink; the first failure is recorded and raised (SinkError)."""
        for f in self._flushes:
            try:
                f.flush()
            except SinkError as err:
                self._report(f.name, str(err))
                raise
            self._report(f.name, None)

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> bool:
        """Flush, then commit the positions of assigned partitions that changed.

        Returns True when committed (or nothing to do), False after a transient commit
        failure (retried by the caller's next round). Raises SinkError from a flush:
        nothing is committed then.
        """
        self.flush_sinks()
        assigned = self._source.assignment()
        changed = {
            tp: c for tp, c in positions.items() if tp in assigned and self.committed.get(tp) != c
        }
        try:
            self._source.commit(changed)
        except CommitRetriable as exc:
            log.warning("offset commit failed (%s); will retry", exc)
            return False
        self.committed.update(changed)
        return True

    def restored(self, commits: Mapping[TopicPartition, Commit | None]) -> None:
        """Positions read back from the source after an assignment."""
        self.committed = {tp: c for tp, c in commits.items() if c is not None}
