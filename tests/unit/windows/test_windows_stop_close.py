"""Closing windows early (idle timeout, a graceful stop with ``evaluate_on_stop``) on a
runtime that has only seen late events since its restart: nothing to close, no error."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline
from drift_monitor.config.models import WindowSettings
from drift_monitor.windows import ModelLayout, Row, open_windows

TP = ("t", 0)


@pytest.fixture(scope="module")
def layout() -> ModelLayout:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=300), "score": rng.uniform(size=300)})
    return ModelLayout.from_baseline(build_baseline(df, "m", prediction=["score"]))


@pytest.mark.parametrize("kind", ["tumbling", "sliding"])
def test_only_late_events_since_a_restart_close_nothing(layout: ModelLayout, kind: str) -> None:
    settings = WindowSettings(
        type=kind,  # type: ignore[arg-type]
        size_seconds=60,
        slide_seconds=30 if kind == "sliding" else None,
        idle_timeout_seconds=5,
    )
    w = open_windows("m", settings, layout)
    w.restore(1_200.0)  # the last run evaluated windows up to t = 1200
    result = w.add(Row([0.0, 0.5], [], 1_190.0, TP, 7, "id7"), now=10_000.0)
    assert result.outcome == "late"
    # The idle timeout has passed (processing time), and a stop closes as it would.
    assert w.idle_close(10_000.0 + 60) == []
    assert w.idle_close(math.inf) == []
    assert w.closed_until == 1_200.0
