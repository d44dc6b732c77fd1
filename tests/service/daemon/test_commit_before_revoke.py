"""Before the group takes the partitions away, the loop commits what is durable (the
Kafka sources call it from their revoke callbacks, see ``RevocationNotifying``): the next
owner then resumes there and replays what was read since the last periodic commit,
instead of counting it again. Not while a rewind is pending, nor while a sink fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drift_monitor.clock import ManualClock
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import RevocationNotifying
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.support import T0, make_setup, stream

TP = ("t", 0)


class RevokingSource(MemorySource):
    """A MemorySource whose group can revoke its partitions (:meth:`revoke`)."""

    def __init__(self) -> None:
        super().__init__()
        self._before: list[Callable[[], None]] = []

    def before_revoke(self, callback: Callable[[], None]) -> None:
        self._before.append(callback)

    def revoke(self) -> None:
        for cb in self._before:
            cb()


def _monitor(tmp_path: Path) -> tuple[Monitor, RevokingSource]:
    """A monitor that has read 3000 events (2.5 windows of 60 s, 1200 events each) and
    committed only after the first 1000 of them."""
    cfg, _ = make_setup(tmp_path)
    src = RevokingSource()
    assert isinstance(src, RevocationNotifying)
    values = stream(3000, drift_from=3000)
    for v in values[:1000]:
        src.append("t", v)
    # The clock does not move: after the first, no periodic commit (every 2 s) happens.
    mon = Monitor(cfg, src, clock=ManualClock(T0 + 30 * 86400), serve_http=False)
    for _ in range(3):
        mon.run_once()  # the first round rewinds (the first assignment), then reads
    assert [c.offset for _, c in src.commits] == [0], "held at the open window's start"
    for v in values[1000:]:
        src.append("t", v)
    for _ in range(3):
        mon.run_once()
    assert mon.pipeline.acked > 0, "the first windows closed"
    assert len(src.commits) == 1, "no periodic commit since"
    return mon, src


def test_revocation_commits_what_was_processed(tmp_path: Path) -> None:
    mon, src = _monitor(tmp_path)
    try:
        src.revoke()
        assert len(src.commits) == 2, "nothing committed before the revocation"
        commit = src.committed(TP)
        assert commit is not None
        # The offset is held at the open window's first record; the metadata's high-water
        # mark covers every record read, so the next owner replays them (not counts).
        assert commit.offset == 2400 and '"hw":3000' in commit.metadata
    finally:
        mon.shutdown()


def test_no_commit_while_a_rewind_is_pending(tmp_path: Path) -> None:
    mon, src = _monitor(tmp_path)
    try:
        mon.loop.rebalanced.set()  # an assignment arrived: the windows are not rebuilt yet
        before = list(src.commits)
        src.revoke()
        assert src.commits == before
    finally:
        mon.shutdown()


def test_the_next_owner_counts_each_event_once(tmp_path: Path) -> None:
    """The next owner of the partition re-reads from the committed offset to rebuild the
    open window, but the records below the commit's high-water mark were counted (and
    dead-lettered) by the previous owner: ``events_total`` over the group counts each
    event once, and the next owner counts only what it reads first."""
    mon, src = _monitor(tmp_path)
    try:
        src.revoke()
        first = mon.state.events[("m", "accepted")]
        assert first == 3000
    finally:
        mon.shutdown()
    commit = src.committed(TP)
    assert commit is not None
    cfg, _ = make_setup(tmp_path / "next-owner")
    nxt = RevokingSource()
    values = stream(3500, drift_from=3500)
    for v in values:
        nxt.append("t", v)
    nxt.commit({TP: commit})
    mon2 = Monitor(cfg, nxt, clock=ManualClock(T0 + 30 * 86400), serve_http=False)
    try:
        for _ in range(5):
            mon2.run_once()
        assert nxt.remaining() == 0
        assert mon2.state.events[("m", "accepted")] == 500, "only the records above hw"
        # The open window was rebuilt from the re-read records: the window's events
        # (1200 per 60 s) are all in it when it closes.
        mon2.pipeline.close_all_windows()
        assert mon2.state.windows_closed.get("m", 0) >= 1
    finally:
        mon2.shutdown()
