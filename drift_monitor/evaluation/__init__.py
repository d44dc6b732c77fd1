"""Window evaluation: statistics -> per-test, per-column and per-model statuses."""

from drift_monitor.evaluation.decision import (
    adjust_p_values,
    decide,
    model_status,
    test_status,
)
from drift_monitor.evaluation.evaluate import evaluate_window
from drift_monitor.evaluation.frame import evaluate_frame, window_from_frame
from drift_monitor.evaluation.results import ColumnResult, Status, TestResult, WindowResult
from drift_monitor.evaluation.settings import (
    ColumnSettings,
    DetectionSettings,
    StatusRule,
    Threshold,
    unknown_columns,
)
from drift_monitor.windows.data import WindowData

__all__ = [
    "ColumnResult",
    "ColumnSettings",
    "DetectionSettings",
    "Status",
    "StatusRule",
    "TestResult",
    "Threshold",
    "WindowData",
    "WindowResult",
    "adjust_p_values",
    "decide",
    "evaluate_frame",
    "evaluate_window",
    "model_status",
    "test_status",
    "unknown_columns",
    "window_from_frame",
]
