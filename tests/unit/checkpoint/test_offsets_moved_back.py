"""OffsetTracker: a partition whose position moves back (a recreated topic, an offset
reset to earlier, a commit that vanished) restarts its counted/replay bookkeeping, while
re-reads from the committed offset after a rebalance stay counted once (issue 12 item 9)."""

from __future__ import annotations

from drift_monitor.checkpoint.offsets import MovedBack, OffsetTracker

TP = ("t", 0)


def _read(t: OffsetTracker, offsets: range) -> list[MovedBack]:
    moves = []
    for o in offsets:
        m = t.moved_back(TP, o)
        if m is not None:
            moves.append(m)
        t.read(TP, o)
    return moves


def test_reading_on_is_no_move() -> None:
    t = OffsetTracker()
    assert _read(t, range(0, 100)) == []
    assert t.moved_back(TP, 100) is None
    assert t.moved_back(TP, 150) is None  # forward jumps are the gap detector's


def test_a_position_moving_back_without_a_reset_restarts_the_bookkeeping() -> None:
    t = OffsetTracker()
    _read(t, range(0, 100))
    t.reset()  # a rebalance: 0..99 become counted and replay
    t.resume(TP, 100)
    assert _read(t, range(100, 120)) == []
    moves = _read(t, range(0, 10))  # the topic was recreated: offsets start at 0
    assert moves == [MovedBack("t", 0, 0, 120)]
    p = t.read(TP, 10)
    assert p.counted_until == -1 and p.replay_until == -1
    assert t.first_offsets_read() == {TP: 0}


def test_re_reads_from_the_committed_offset_stay_counted() -> None:
    t = OffsetTracker()
    _read(t, range(0, 100))
    t.reset()
    assert t.resume(TP, 40) is None  # committed 40: 40..99 are re-reads
    assert _read(t, range(40, 100)) == []
    p = t.read(TP, 100)
    assert p.counted_until == 100 and p.replay_until == 100


def test_re_reads_without_a_commit_start_at_the_first_offset_read() -> None:
    t = OffsetTracker()
    _read(t, range(5, 50))
    t.reset()
    assert t.resume(TP, None) is None  # never committed: not a vanished commit
    assert _read(t, range(5, 50)) == []
    assert t.read(TP, 50).counted_until == 50


def test_a_first_record_below_the_committed_offset_is_a_move_back() -> None:
    t = OffsetTracker()
    _read(t, range(0, 300))
    t.reset()
    t.resume(TP, 300)  # the old incarnation's commit survived; the fetch reset to 0
    assert _read(t, range(0, 3)) == [MovedBack("t", 0, 0, 300)]
    assert t.read(TP, 3).counted_until == -1


def test_a_vanished_commit_restarts_the_bookkeeping() -> None:
    t = OffsetTracker()
    _read(t, range(0, 320))
    t.committed(TP, 320)
    t.reset()  # the topic deleted: the partition is revoked
    t.reset()  # recreated: assigned again, and the group has no commit for it
    assert t.resume(TP, None) == MovedBack("t", 0, 0, 320, vanished=True)
    assert _read(t, range(0, 320)) == []
    assert t.read(TP, 320).counted_until == -1
    assert t.resume(TP, None) is None  # said once


def test_a_vanished_commit_reports_what_was_read_beyond_it() -> None:
    t = OffsetTracker()
    _read(t, range(0, 320))
    t.committed(TP, 0)  # a window held offset 0 at the last commit
    t.reset()
    assert t.resume(TP, None) == MovedBack("t", 0, 0, 320, vanished=True)


def test_a_failed_effect_re_read_is_not_a_move() -> None:
    t = OffsetTracker()
    _read(t, range(10, 12))
    t.unread(TP, 11)
    t.reset()
    t.resume(TP, 10)
    assert _read(t, range(10, 12)) == []
    assert t.read(TP, 12).counted_until == 11
