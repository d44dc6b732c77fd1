"""Model quality of one labelled file against a baseline (``check --labels COL``).

The file's rows with a label are scored exactly as a daemon window's joined pairs are:
the baseline's task, classes and threshold (stored at build time) encode them, the
metrics come from :mod:`drift_monitor.stats.performance`, the verdict from
:func:`decide_performance` and label drift from :func:`label_drift`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from drift_monitor.baseline.model import Baseline
from drift_monitor.baseline.pairs import pairs_from_frame
from drift_monitor.errors import InputError
from drift_monitor.evaluation import ColumnResult, DetectionSettings
from drift_monitor.labels.decision import (
    DegradationSettings,
    PerformanceStatus,
    PerformanceVerdict,
    decide_performance,
)
from drift_monitor.labels.drift import label_drift
from drift_monitor.stats.performance import Performance


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """The quality section of ``check``: ``rows`` in the file, ``performance`` of its
    labelled rows, the ``verdict`` against the baseline and the label's drift result."""

    label: str
    rows: int
    performance: Performance
    verdict: PerformanceVerdict
    drift: ColumnResult | None

    @property
    def coverage(self) -> float:
        """Share of rows with a scorable label (0 for an empty file)."""
        return self.performance.count / self.rows if self.rows else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ``performance`` object of ``check --format json`` (non-finite -> null)."""
        return {
            "label": self.label,
            "task": self.performance.task,
            "status": self.verdict.status.value,
            "labels": self.performance.count,
            "coverage": self.coverage,
            "metrics": [m.to_json() for m in self.verdict.metrics],
            "label_drift": None
            if self.drift is None
            else {"status": self.drift.status.label, "tests": self.drift.tests_json()},
        }

    def render(self) -> str:
        """The table section: verdict line, then one line per metric (deciders first)."""
        v = self.verdict
        head = (
            f"performance on label {self.label!r} ({self.performance.task}): "
            f"{self.performance.count:,} labels ({self.coverage:.0%} of rows) -> "
            f"{v.status.value.upper()}"
        )
        rows = [["METRIC", "VALUE", "BASELINE", "SHORTFALL", "CHANCE@N", "MINIMUM", ""]]
        for m in v.metrics:
            mark = "DEGRADED" if m.degraded else ("decides" if m.decides else "")
            numbers = (m.value, m.baseline, m.shortfall, m.tolerance, m.minimum)
            rows.append([m.metric, *(_f(x) for x in numbers), mark])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["", head, ""]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        if self.drift is not None:
            tests = ", ".join(f"{t.test} {_f(t.statistic)}" for t in self.drift.tests.values())
            lines += ["", f"label drift: {self.drift.status.label} ({tests or self.drift.note})"]
        return "\n".join(lines) + "\n"


def _f(x: float) -> str:
    return f"{x:.4f}" if math.isfinite(x) else "-"


def check_labels(
    baseline: Baseline,
    df: pd.DataFrame,
    label: str,
    *,
    degradation: DegradationSettings | None = None,
    detection: DetectionSettings | None = None,
    source: str = "input",
) -> LabelCheck:
    """Score the labelled rows of ``df`` (label in column ``label``) against the baseline's
    performance. Raises :class:`InputError` when the baseline has no performance (built
    without ``--label``), or a column is missing or holds values that do not fit."""
    perf = baseline.performance
    if perf is None:
        raise InputError(
            f"--labels {label}: baseline {baseline.model!r} {baseline.version} has no "
            "performance; rebuild it with `baseline build --label COL --prediction COL`"
        )
    if label not in df.columns:
        raise InputError(f"{source}: label column {label!r} (--labels) is missing")
    spec = dataclasses.replace(perf.spec, label=label)
    if (
        len(spec.predictions) == 1
        and spec.predictions[0] not in df.columns
        and "prediction" in df.columns
    ):
        spec = dataclasses.replace(spec, predictions=("prediction",))  # files of events
    pairs = pairs_from_frame(df, spec, source)
    performance = pairs.metrics()
    verdict = decide_performance(performance, perf, degradation or DegradationSettings())
    drift = label_drift(
        perf, df[label].tolist(), detection or DetectionSettings(), model=baseline.model
    )
    return LabelCheck(label, len(df), performance, verdict, drift)


def exit_code(check: LabelCheck, allow_insufficient: bool) -> int:
    """1 when degraded; 2 when there are too few labels to judge (a CI gate fails closed)
    unless ``allow_insufficient``; else 0."""
    status = check.verdict.status
    if status == PerformanceStatus.DEGRADED:
        return 1
    if status == PerformanceStatus.INSUFFICIENT_LABELS and not allow_insufficient:
        return 2
    return 0
