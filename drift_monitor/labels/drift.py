"""Label drift (prior shift): a window's label distribution against the training labels.

No new statistics: the label's training profile is a baseline column built by the same
code as features (categorical over the classes for classification, numeric for
regression), and a window's labels are scored by :func:`evaluate_window` on a one-column
baseline, so the tests, thresholds and decisions are exactly those of prediction columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from drift_monitor.baseline.model import Baseline
from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.evaluation import (
    ColumnResult,
    DetectionSettings,
    evaluate_window,
    window_from_frame,
)
from drift_monitor.labels.encode import encode_label
from drift_monitor.stats.categorical import category_key


def label_drift(
    performance: BaselinePerformance,
    labels: Sequence[object] | pd.Series,
    settings: DetectionSettings,
    *,
    model: str = "",
    version: str = "",
) -> ColumnResult | None:
    """The label column's drift result for a window's ``labels`` (raw values as in
    events; missing values count as missing). None when the baseline has no label
    profile (built without labels, or with no label values)."""
    col = performance.label_profile
    if col is None or col.profile is None:
        return None
    mini = Baseline(model, version, "", "labels", {}, (col,))
    spec = performance.spec
    values: list[object] = list(labels)
    if col.kind == "categorical":
        # As at build time: a label that encodes to a class is named by it (1, 1.0, "1"
        # and True are class "1" of a binary model); any other value stays itself, so a
        # new class shows as unseen.
        codes = [encode_label(spec, v) for v in values]
        values = [
            category_key(v) if c is None else spec.classes[int(c)]
            for v, c in zip(values, codes, strict=True)
        ]
    frame = pd.DataFrame({col.name: pd.Series(values, dtype=object)})
    if col.kind == "numeric":
        frame[col.name] = pd.to_numeric(frame[col.name], errors="coerce")
    # The label is one column of the whole window: never split by segment.
    whole = settings.model_copy(update={"segment_by": None}) if settings.segment_by else settings
    result = evaluate_window(mini, window_from_frame(mini, frame, "labels"), whole)
    return result.columns[0] if result.columns else None
