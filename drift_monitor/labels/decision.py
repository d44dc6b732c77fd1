"""Is a window's model performance degraded against its baseline?

A deciding metric is ``degraded`` when its shortfall (how much worse than the
baseline's value, in the metric's units) exceeds BOTH its chance tolerance at the
window's label count (:meth:`BaselinePerformance.chance_tolerance`: the bootstrap
quantile of the window's variability combined with the baseline's own sampling error)
AND a minimum effect (absolute per metric, e.g. ROC AUC 0.03, else
``relative_minimum`` × |baseline value|). The first condition bounds false pages from
small windows; the second keeps large windows from paging on trivial differences.
Below ``min_labels`` joined labels the window is ``insufficient_labels``. A metric
undefined in the window or baseline (NaN) never decides.

False alarms: 1 − ``level`` (default 1 %) is the budget of the whole *window*, split
evenly (Bonferroni) across the deciding metrics the baseline defines, as the drift side
splits its budget across tests and segments: each of k metrics is judged at the
quantile 1 − (1 − level) / k, so a window of an unchanged model is degraded with
probability at most about 1 − level whatever k is (measured: docs/LABELS.md,
``python -m bench.false_degraded``).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.evaluation.results import json_number
from drift_monitor.stats.performance import Performance, Task, shortfall

#: Metrics that decide by default, per task (all metrics are still reported).
DEFAULT_DECIDING: Mapping[Task, tuple[str, ...]] = {
    "binary": ("roc_auc",),
    "multiclass": ("accuracy",),
    "regression": ("rmse",),
}
#: Absolute minimum shortfalls (metric units) before a metric can be degraded.
DEFAULT_MINIMUMS: Mapping[str, float] = {
    "roc_auc": 0.03,
    "accuracy": 0.03,
    "precision": 0.05,
    "recall": 0.05,
    "f1": 0.05,
    "brier": 0.02,
    "log_loss": 0.05,
}


class PerformanceStatus(enum.Enum):
    """Verdict of one window's performance."""

    OK = "ok"
    DEGRADED = "degraded"
    INSUFFICIENT_LABELS = "insufficient_labels"


@dataclass(frozen=True, slots=True)
class DegradationSettings:
    """``min_labels``: fewer joined labels is ``insufficient_labels``; ``metrics``:
    deciding metrics (None: :data:`DEFAULT_DECIDING`); ``minimums``: absolute minimum
    shortfall per metric; ``relative_minimum``: the floor for metrics without one, as a
    fraction of the baseline value (regression errors are in the label's units);
    ``level``: 1 − the window's false-alarm budget (0.95 or 0.99, the bootstrap levels
    stored in the baseline), split across the deciding metrics (:meth:`metric_level`)."""

    min_labels: int = 200
    metrics: tuple[str, ...] | None = None
    minimums: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MINIMUMS))
    relative_minimum: float = 0.1
    level: float = 0.99

    def deciding(self, task: Task) -> tuple[str, ...]:
        """The deciding metrics for ``task``."""
        return self.metrics if self.metrics is not None else DEFAULT_DECIDING[task]

    def metric_level(self, judged: int) -> float:
        """The quantile each of ``judged`` deciding metrics is tested at: the window's
        budget 1 − ``level`` split evenly (1 − (1 − level) / judged; ``level`` for 0 or 1)."""
        return 1.0 - (1.0 - self.level) / max(judged, 1)


@dataclass(frozen=True, slots=True)
class MetricVerdict:
    """One metric: window ``value``, ``baseline`` value, ``shortfall`` (positive =
    worse), the chance ``tolerance`` at this label count, the ``minimum`` effect, and
    whether it ``decides`` and is ``degraded``. Non-finite numbers are NaN."""

    metric: str
    value: float
    baseline: float
    shortfall: float
    tolerance: float
    minimum: float
    decides: bool
    degraded: bool

    def to_json(self) -> dict[str, object]:
        """The JSON object of this metric (records, webhooks, ``check --format json``);
        non-finite numbers are null."""
        return {
            "metric": self.metric,
            "value": json_number(self.value),
            "baseline": json_number(self.baseline),
            "shortfall": json_number(self.shortfall),
            "tolerance": json_number(self.tolerance),
            "minimum": json_number(self.minimum),
            "decides": self.decides,
            "degraded": self.degraded,
        }


@dataclass(frozen=True, slots=True)
class PerformanceVerdict:
    """A window's verdict: ``status``, the joined ``labels`` it is based on, and every
    metric's detail (deciding metrics first)."""

    status: PerformanceStatus
    labels: int
    metrics: tuple[MetricVerdict, ...]

    @property
    def degraded_metrics(self) -> list[MetricVerdict]:
        """The deciding metrics found degraded."""
        return [m for m in self.metrics if m.degraded]


def decide_performance(
    window: Performance, baseline: BaselinePerformance, settings: DegradationSettings
) -> PerformanceVerdict:
    """Judge ``window`` (metrics of its joined pairs) against ``baseline``; see the
    module docstring. ``window.count`` is the label count used for the tolerance."""
    deciding = settings.deciding(baseline.spec.task)
    # The budget is split across the deciding metrics that can decide at all (defined on
    # the validation set), not only those defined in this window: a window whose AUC is
    # undefined (one class) does not test its other metrics at a looser level.
    judged = sum(math.isfinite(baseline.metrics.get(m, math.nan)) for m in deciding)
    level = settings.metric_level(judged)
    verdicts: list[MetricVerdict] = []
    enough = window.count >= settings.min_labels
    for metric in sorted(window.values, key=lambda m: (m not in deciding, m)):
        value = window.get(metric)
        base = float(baseline.metrics.get(metric, math.nan))
        short = shortfall(metric, value, base)
        tol = baseline.chance_tolerance(metric, window.count, level)
        minimum = settings.minimums.get(metric, settings.relative_minimum * abs(base))
        decides = metric in deciding
        degraded = (
            decides
            and enough
            and math.isfinite(short)
            and math.isfinite(tol)
            and short > tol
            and short > minimum
        )
        verdicts.append(MetricVerdict(metric, value, base, short, tol, minimum, decides, degraded))
    if not enough:
        status = PerformanceStatus.INSUFFICIENT_LABELS
    elif any(v.degraded for v in verdicts):
        status = PerformanceStatus.DEGRADED
    else:
        status = PerformanceStatus.OK
    return PerformanceVerdict(status, window.count, tuple(verdicts))
