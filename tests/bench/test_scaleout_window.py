"""bench.scaleout's steady window: from 25 % of N with every daemon counting, to 85 % of
N or the last sample before one daemon has nothing left to read."""

from __future__ import annotations

from bench.scaleout import _Sample, steady_window


def samples(*per: tuple[float, ...]) -> list[_Sample]:
    return [_Sample(float(t), p, 0.0, 0.0, 0.0) for t, p in enumerate(per)]


def test_one_daemon_runs_from_a_quarter_to_85_percent() -> None:
    s = samples((0,), (10,), (25,), (50,), (85,), (100,))
    lo, hi = steady_window(s, 100)
    assert lo is not None and (lo.t, hi.t) == (2.0, 4.0)


def test_starts_only_once_every_daemon_counts() -> None:
    s = samples((20, 0), (30, 0), (40, 5), (50, 20), (60, 30), (70, 40))
    lo, hi = steady_window(s, 100)
    assert lo is not None and (lo.t, hi.t) == (2.0, 4.0)


def test_ends_before_the_daemon_that_read_alone_runs_out() -> None:
    # daemon 0 held every partition until the rebalance: it finishes at t=4 (60), daemon 1
    # reads the rest alone; the window ends at t=3, not at 85 % (t=5).
    s = samples((30, 0), (40, 10), (50, 20), (55, 25), (60, 27), (60, 35), (60, 40))
    lo, hi = steady_window(s, 100)
    assert lo is not None and (lo.t, hi.t) == (1.0, 3.0)


def test_no_window_when_every_daemon_never_counts_before_85_percent() -> None:
    s = samples((50, 0), (90, 0), (99, 1))
    lo, hi = steady_window(s, 100)
    assert lo is not None and lo.t >= hi.t  # bench.scaleout reports it as unsettled
