"""Window runtime: tumbling, sliding, count windows, lateness, idle close, reservoir,
replay after restart."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline
from drift_monitor.config.models import WindowSettings
from drift_monitor.decode.decoder import Event
from drift_monitor.errors import EventError
from drift_monitor.windows import AddResult, ModelLayout, Row, WindowRuntime, open_windows

TP = ("t", 0)


@pytest.fixture(scope="module")
def layout() -> ModelLayout:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "c": rng.choice(["a", "b"], 500),
            "score": rng.uniform(size=500),
        }
    )
    return ModelLayout.from_baseline(build_baseline(df, "m", prediction=["score"]))


def add(
    w: WindowRuntime, ts: float, offset: int, x: float = 0.0, replay: bool = False
) -> AddResult:
    """Offer one row; produced windows are acked at once (their effects "succeeded")."""
    result = w.add(Row([x, 0.5], [0], ts, TP, offset, f"id{offset}"), now=ts, replay=replay)
    for c in result.closed:
        w.ack(c)
    return result


def test_layout_extracts_values_codes_and_prediction(layout: ModelLayout) -> None:
    assert layout.numeric == ("x", "score") and layout.prediction_column == "score"
    nums, codes = layout.extract(Event("m", None, 0.0, {"x": 1, "c": "b", "junk": "z"}, 0.3))
    assert nums == [1.0, 0.3]
    assert codes == [layout.categorical[0].index["b"]]
    nums, codes = layout.extract(Event("m", None, 0.0, {"c": "never-seen"}, None))
    assert math.isnan(nums[0]) and math.isnan(nums[1])
    assert codes == [layout.categorical[0].k]  # unseen bucket
    with pytest.raises(EventError) as err:
        layout.extract(Event("m", None, 0.0, {"x": "1"}, None))
    assert err.value.reason == "wrong_type"
    with pytest.raises(EventError) as err:
        layout.extract(Event("m", None, 0.0, {"x": True}, None))
    assert err.value.reason == "wrong_type"
    with pytest.raises(EventError) as err:
        layout.extract(Event("m", None, 0.0, {"x": float("inf")}, None))
    assert err.value.reason == "non_finite"


def test_tumbling_closes_on_watermark_and_counts_late(layout: ModelLayout) -> None:
    w = open_windows("m", WindowSettings(size_seconds=60, allowed_lateness_seconds=10), layout)
    for i in range(60):
        assert add(w, 1000 * 60 + i, i).outcome == "accepted"  # window [60000, 60060)
    assert add(w, 60065, 60).closed == []  # watermark 60055 < end 60060
    r = add(w, 60071, 61)  # watermark 60061 >= 60060
    assert [(c.start, c.end, c.events) for c in r.closed] == [(60000, 60060, 60)]
    assert add(w, 60059, 62).outcome == "late"
    assert w.first_offsets() == {TP: 60}


def test_sliding_window_unions_panes(layout: ModelLayout) -> None:
    w = open_windows(
        "m",
        WindowSettings(
            type="sliding", size_seconds=30, slide_seconds=10, allowed_lateness_seconds=0
        ),
        layout,
    )
    closed = []
    for i in range(60):  # one event per second, 0..59
        closed += add(w, float(i), i).closed
    # windows end every 10 s; each holds the last 30 s (fewer at the start)
    assert [(c.start, c.end, c.events) for c in closed] == [
        (-20, 10, 10),
        (-10, 20, 20),
        (0, 30, 30),
        (10, 40, 30),
        (20, 50, 30),
    ]
    # panes still needed for the next windows hold the commit back
    assert w.first_offsets()[TP] == 30


def test_count_window_and_idle_close(layout: ModelLayout) -> None:
    w = open_windows("m", WindowSettings(type="count", size_events=100), layout)
    closed = [c for i in range(250) for c in add(w, float(i), i).closed]
    assert [c.events for c in closed] == [100, 100]
    t = open_windows("m", WindowSettings(size_seconds=60, idle_timeout_seconds=5), layout)
    add(t, 10.0, 0)
    assert t.idle_close(now=14.0) == []
    [c] = t.idle_close(now=15.5)
    t.ack(c)  # closing = produce, then ack once the window's effects succeeded
    assert (c.start, c.end, c.events) == (0, 60, 1)
    assert add(t, 20.0, 1).outcome == "late"


def test_reservoir_bounds_rows_but_counts_exactly(layout: ModelLayout) -> None:
    w = open_windows("m", WindowSettings(size_seconds=10_000, max_events=100), layout)
    for i in range(5000):
        add(w, 5.0, i, x=float(i))
    [c] = w.close_all()
    assert c.events == 5000
    kept = c.data.numeric["x"]
    assert kept.shape[0] == 100 and c.data.events == 100
    # a uniform sample of 0..4999: its mean is near 2500, not the first 100 rows'
    assert 1500 < kept.mean() < 3500


def test_replayed_events_of_closed_windows_are_recognised(layout: ModelLayout) -> None:
    w = open_windows("m", WindowSettings(size_seconds=60, allowed_lateness_seconds=0), layout)
    w.restore(120.0)  # windows up to 120 s were evaluated before the restart
    assert add(w, 100.0, 5, replay=True).outcome == "replayed"
    assert add(w, 100.0, 6, replay=False).outcome == "late"
    assert add(w, 130.0, 7, replay=True).outcome == "accepted"


def test_offset_seconds_moves_the_window_grid(layout: ModelLayout) -> None:
    """Daily windows with offset_seconds 7200 run 02:00 to 02:00 UTC; without it, midnight."""
    t = 1767236400.0  # 2026-01-01T03:00:00Z
    day, two_am = 86400.0, 1767232800.0  # 2026-01-01T02:00:00Z
    shifted = open_windows("m", WindowSettings(size_seconds=day, offset_seconds=7200), layout)
    add(shifted, t, 0)
    p = shifted.preview()
    assert p is not None and (p.start, p.end) == (two_am, two_am + day)
    add(shifted, two_am - 1, 1)  # 01:59:59 belongs to the previous day's window
    p = shifted.preview()  # the first open window is now the previous day's
    assert p is not None and (p.start, p.end) == (two_am - day, two_am)
    plain = open_windows("m", WindowSettings(size_seconds=day), layout)
    add(plain, t, 0)
    p = plain.preview()
    assert p is not None and (p.start, p.end) == (two_am - 7200, two_am - 7200 + day)
