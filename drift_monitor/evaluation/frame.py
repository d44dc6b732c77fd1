"""Evaluating a pandas DataFrame against a baseline: the Python twin of ``check``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift_monitor.baseline.model import Baseline
from drift_monitor.errors import InputError
from drift_monitor.evaluation.evaluate import evaluate_window
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.evaluation.segments import carries_segment_codes, frame_segment_codes
from drift_monitor.evaluation.settings import DetectionSettings
from drift_monitor.stats.categorical import encode_categories
from drift_monitor.stats.prepared import PreparedCategorical
from drift_monitor.windows.data import WindowData


def window_from_frame(baseline: Baseline, df: pd.DataFrame, source: str = "input") -> WindowData:
    """Every baseline column of ``df`` as a :class:`WindowData`.

    Raises :class:`InputError` naming the first baseline column absent from ``df``, or
    a numeric column whose values are not numbers. A baseline with a single prediction
    column also accepts it under the name ``prediction`` (files of events).
    """
    prepared = baseline.prepared()
    preds = baseline.prediction_columns
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    for col in baseline.columns:
        name = col.name
        if name not in df.columns and preds == [name] and "prediction" in df.columns:
            name = "prediction"
        if name not in df.columns:
            raise InputError(
                f"{source}: column {col.name!r} of baseline {baseline.model!r} is missing; "
                f"add it or rebuild the baseline without it (--exclude {col.name})"
            )
        series = df[name]
        if col.kind == "numeric":
            try:
                values = pd.to_numeric(series, errors="raise")
            except (ValueError, TypeError):
                raise InputError(
                    f"{source}: column {col.name!r} is numeric in the baseline but holds "
                    "non-numeric values; fix the data or rebuild the baseline with "
                    f"--categorical {col.name}"
                ) from None
            numeric[col.name] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            prep = prepared.get(col.name)
            if isinstance(prep, PreparedCategorical):
                categorical[col.name] = encode_categories(series, prep)
            else:
                codes = np.where(series.isna().to_numpy(), -1, 0)
                categorical[col.name] = codes.astype(np.int32)
    segs = baseline.segments
    if carries_segment_codes(baseline) and segs is not None:
        if segs.column not in df.columns:
            raise InputError(
                f"{source}: segment column {segs.column!r} of baseline {baseline.model!r} "
                "is missing; add it to evaluate per segment"
            )
        categorical[segs.column] = frame_segment_codes(segs, df[segs.column])
    return WindowData(events=len(df), numeric=numeric, categorical=categorical)


def evaluate_frame(
    df: pd.DataFrame, baseline: Baseline, settings: DetectionSettings | None = None
) -> WindowResult:
    """Evaluate every row of ``df`` as one window against ``baseline``.

    The Python twin of ``drift-monitor check``: the same columns (a baseline with one
    prediction column also finds it under ``prediction``), statistics, corrections and
    statuses, as a typed :class:`WindowResult` (``result.status``, ``result.drifted``,
    ``result.columns[i].tests["psi"].statistic`` …; ``start``/``end`` are None).
    ``settings`` defaults to :class:`DetectionSettings` ``()``; fewer than
    ``settings.min_events`` rows give ``insufficient_data``, never drift.

    Raises :class:`~drift_monitor.errors.InputError` when a baseline column is missing
    from ``df`` or a numeric column holds non-numbers.
    """
    window = window_from_frame(baseline, df, source="DataFrame")
    return evaluate_window(baseline, window, settings or DetectionSettings())
