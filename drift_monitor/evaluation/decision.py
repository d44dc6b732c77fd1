"""Turning statistics into statuses: thresholds, effect-size floors, multiple testing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drift_monitor.evaluation.results import ColumnResult, Status
from drift_monitor.evaluation.settings import Correction, StatusRule, Threshold
from drift_monitor.stats.registry import DriftTest, drift_test


def adjust_p_values(p_values: npt.ArrayLike, method: Correction) -> npt.NDArray[np.float64]:
    """Multiple-testing adjusted p-values, in the input order.

    ``bonferroni``: min(1, p * m). ``benjamini_hochberg``: the step-up adjusted
    p-values (as ``scipy.stats.false_discovery_control(p, method="bh")``). ``none``
    returns the input. An empty input returns an empty array.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.shape[0]
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        bonf: npt.NDArray[np.float64] = np.minimum(p * m, 1.0)
        return bonf
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    # enforce monotonicity from the largest p down
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m, dtype=np.float64)
    out[order] = np.minimum(ranked, 1.0)
    return out


def decide(
    test: DriftTest,
    threshold: Threshold,
    effect: float,
    p_adjusted: float | None,
    n: int,
    alpha: float,
) -> Status:
    """The status of one test on one column of ``n`` present values.

    Distance tests compare ``effect`` with the threshold's levels; a test with a
    p-value also needs ``p_adjusted < alpha`` (its corrected p-value): significance
    alone never alarms, so a huge window does not page on a trivial difference, and
    the levels act as an effect-size floor. ``n`` is unused by fixed thresholds; it is
    here for thresholds that depend on the window's size (calibrated null quantiles).
    """
    del n  # fixed levels: the same at every window size
    if test.has_p_value and (p_adjusted is None or not p_adjusted < alpha):
        return Status.OK
    if effect >= threshold.alert:
        return Status.ALERT
    if effect >= threshold.warning:
        return Status.WARNING
    return Status.OK


def test_status(
    test: str, effect: float, p_adjusted: float | None, threshold: Threshold, alpha: float
) -> Status:
    """:func:`decide` for the registered test called ``test`` (KeyError if unknown)."""
    return decide(drift_test(test), threshold, effect, p_adjusted, 0, alpha)


def model_status(
    columns: list[ColumnResult], events: int, min_events: int, rule: StatusRule
) -> tuple[Status, float]:
    """(model status, drift share) from column results.

    Fewer than ``min_events`` events, or no column with enough data, is
    ``insufficient_data``. Drift share = alerting columns / evaluated columns.
    """
    evaluated = [c for c in columns if c.status != Status.INSUFFICIENT_DATA]
    if events < min_events or not evaluated:
        return Status.INSUFFICIENT_DATA, 0.0
    alerting = [c for c in evaluated if c.status == Status.ALERT]
    share = len(alerting) / len(evaluated)
    critical = rule.critical_columns
    critical_alert = any(critical is None or c.name in critical for c in alerting)
    if critical_alert or (rule.drift_share is not None and share >= rule.drift_share):
        return Status.ALERT, share
    if any(c.status >= Status.WARNING for c in evaluated):
        return Status.WARNING, share
    return Status.OK, share
