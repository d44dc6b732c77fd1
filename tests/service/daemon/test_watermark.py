"""One event far ahead must not pull the watermark (and so `late`) ahead for everyone
(issue 12 item 3, watermark part)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline
from drift_monitor.config.models import WindowSettings
from drift_monitor.windows import ModelLayout, Row, open_windows
from drift_monitor.windows.watermark import MAX_SUSPECTS, RobustWatermark

TP = ("t", 0)


def test_a_lone_outlier_stays_a_suspect() -> None:
    w = RobustWatermark(jump=330.0)
    assert w.observe(1000.0) and w.max_ts == 1000.0
    assert not w.observe(1000.0 + 3300)  # now + 55 min
    assert w.max_ts == 1000.0 and w.suspects == 1
    for t in range(1001, 1300):
        w.observe(float(t))
    assert w.max_ts == 1299.0


def test_a_corroborated_jump_moves_it() -> None:
    w = RobustWatermark(jump=330.0)
    w.observe(1000.0)
    assert not w.observe(9000.0)
    assert w.observe(9001.0) and w.max_ts == 9001.0 and w.suspects == 0


def test_suspects_are_bounded() -> None:
    w = RobustWatermark(jump=10.0)
    w.observe(0.0)
    for i in range(100):
        w.observe(1000.0 * (i + 1))  # each far from the others
    assert w.suspects == MAX_SUSPECTS and w.max_ts == 0.0


@pytest.fixture(scope="module")
def layout() -> ModelLayout:
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=300)})
    return ModelLayout.from_baseline(build_baseline(df, "m"))


def test_the_attack_one_record_an_hour_ahead(layout: ModelLayout) -> None:
    """300 s windows, 30 s lateness; one event at +55 min among 1 event/s for 20 min:
    before, every later on-time event was `late`; now all are accepted and the windows
    close on time."""
    w = open_windows("m", WindowSettings(size_seconds=300, allowed_lateness_seconds=30), layout)
    t0 = 1_800_000_000.0
    outcomes: list[str] = []
    closed = []
    for i in range(1200):
        ts = t0 + i
        r = w.add(Row([0.0], [], ts, TP, 2 * i), now=ts)
        outcomes.append(r.outcome)
        if i == 100:
            outlier = w.add(Row([0.0], [], ts + 3300, TP, 2 * i + 1), now=ts)
            assert outlier.outcome == "accepted" and outlier.closed == []
        for c in r.closed:
            w.ack(c)
            closed.append((c.start - t0, c.end - t0, c.events))
    assert outcomes.count("late") == 0
    assert closed == [(0, 300, 300), (300, 600, 300), (600, 900, 300)]


def test_idle_close_leaves_the_outlier_pane_open(layout: ModelLayout) -> None:
    w = open_windows(
        "m",
        WindowSettings(size_seconds=300, allowed_lateness_seconds=30, idle_timeout_seconds=5),
        layout,
    )
    t0 = 1_800_000_000.0
    for i in range(100):
        w.add(Row([0.0], [], t0 + i, TP, i), now=t0 + i)
    w.add(Row([0.0], [], t0 + 3300, TP, 100), now=t0 + 100)
    [c] = w.idle_close(now=t0 + 200)
    assert (c.start, c.end, c.events) == (t0, t0 + 300, 100)
    w.ack(c)
    # the stream resumes on time: nothing is late
    assert w.add(Row([0.0], [], t0 + 301, TP, 101), now=t0 + 301).outcome == "accepted"
    assert w.first_offsets() == {TP: 100}  # the outlier's pane still holds the commit
