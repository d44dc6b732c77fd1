"""Shared fixtures: the demo's training baseline and evaluated windows."""

from __future__ import annotations

import pandas as pd
import pytest

from drift_monitor import Baseline, build_baseline
from drift_monitor.demo.dataset import DEFAULT_DRIFT, production_frame, training_frame
from drift_monitor.evaluation import (
    DetectionSettings,
    WindowData,
    WindowResult,
    evaluate_window,
    window_from_frame,
)


@pytest.fixture(scope="session")
def credit_baseline() -> Baseline:
    """The default demo baseline: 50 000 training rows, score as prediction column."""
    return build_baseline(training_frame(), "credit", prediction=["default_score"])


def evaluate(baseline: Baseline, df: pd.DataFrame) -> tuple[WindowResult, WindowData]:
    """Evaluate ``df`` against ``baseline`` with the default settings."""
    window = window_from_frame(baseline, df)
    return evaluate_window(baseline, window, DetectionSettings()), window


@pytest.fixture(scope="session")
def drifted(credit_baseline: Baseline) -> tuple[WindowResult, WindowData]:
    """A 5 000-event window under DEFAULT_DRIFT."""
    return evaluate(credit_baseline, production_frame(5000, seed=1, drift=DEFAULT_DRIFT))
