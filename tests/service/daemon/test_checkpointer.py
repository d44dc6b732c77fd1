"""The checkpointer alone: flush every sink, then commit; a failing flush commits
nothing; a transient commit failure is retried, any other propagates."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from drift_monitor.checkpoint import Checkpointer, Flush, OffsetTracker
from drift_monitor.errors import SinkError
from drift_monitor.source.base import Commit, CommitRetriable, TopicPartition
from drift_monitor.source.memory import MemoryDeadLetters, MemorySource

TP = ("t", 0)


class FlakyCommits(MemorySource):
    """Commits fail with ``error`` while it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        if self.error is not None:
            raise self.error
        super().commit(positions)


def _source() -> FlakyCommits:
    src = FlakyCommits()
    src.append("t", b"{}")
    return src


def test_flush_failure_commits_nothing_and_reports_the_sink() -> None:
    src, dlq = _source(), MemoryDeadLetters("dlq-topic")
    health: dict[str, str | None] = {}
    cp = Checkpointer(src, [Flush("dead_letters", dlq.flush)], health.__setitem__)
    dlq.fail("topic dlq-topic does not exist")
    with pytest.raises(SinkError):
        cp.commit({TP: Commit(1, "")})
    assert src.commits == [] and "dlq-topic" in (health["dead_letters"] or "")
    dlq.heal()
    assert cp.commit({TP: Commit(1, "")})
    assert src.commits == [(TP, Commit(1, ""))] and health["dead_letters"] is None
    assert cp.commit({TP: Commit(1, "")})  # unchanged: not committed again
    assert len(src.commits) == 1


def test_transient_commit_failure_is_retried_other_errors_propagate() -> None:
    src = _source()
    cp = Checkpointer(src, [], lambda sink, problem: None)
    src.error = CommitRetriable("group rebalancing")
    assert not cp.commit({TP: Commit(1, "")})
    assert cp.committed == {}
    src.error = PermissionError("group authorization failed")
    with pytest.raises(PermissionError):
        cp.commit({TP: Commit(1, "")})
    src.error = None
    assert cp.commit({TP: Commit(1, "")}) and cp.committed == {TP: Commit(1, "")}


def test_offset_tracker_counts_a_record_once_across_resets() -> None:
    t = OffsetTracker()
    t.read(TP, 10)
    t.read(TP, 11)
    t.unread(TP, 11)  # processing 11 failed
    t.reset()
    assert list(t.positions()) == []  # nothing read since the reset
    again = t.read(TP, 10)
    assert again.counted_until == 11 and again.replay_until == 11
