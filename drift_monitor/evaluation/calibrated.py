"""Calibrated decisions: thresholds from the baseline's null distribution at the window's size.

For every deciding test of every evaluated column a *calibrated p-value* is computed:
the probability that a window of the same size drawn from the training distribution
scores at least this high (KS: its own p-value; chi2: the chi2 law on sparse-pooled
cells; PSI, Jensen–Shannon, Wasserstein: the baseline's Monte Carlo null tables, see
:mod:`drift_monitor.stats.calibration`). These p-values are corrected per test across the
model's columns with ``detection.correction`` and compared with that test's share of the
false-alarm budget per window (``calibration.alert_rate`` / ``warning_rate``, split
across the deciding tests in proportion to the columns each decides). A level is
reached when the corrected p-value is below its budget AND the effect reaches the
level's floor. The reported threshold of a level is the statistic (on the effect scale)
at which the corrected p-value crosses the budget, given the other tests of the window.

The score functions are not called here: this module only needs each test's statistic,
raw p-value and effect, and each test's registry entry says how it is calibrated
(``DriftTest.calibration``: which null law, its default floors). A test without one
(Cramér–von Mises) is never a candidate: evaluate.py decides it as in fixed mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.evaluation.decision import adjust_p_values
from drift_monitor.evaluation.results import Level, Status
from drift_monitor.evaluation.settings import DetectionSettings, Threshold
from drift_monitor.stats.calibration import (
    Calibration,
    ks_threshold,
    pooled_chi2,
    pooled_chi2_threshold,
    rare_empty_mass,
)
from drift_monitor.stats.registry import Calibrated, drift_test


@dataclass(frozen=True, slots=True)
class Candidate:
    """One deciding test of one column of the window: its statistic, raw p-value (None
    for distance tests), effect, present values ``n`` and, for chi2, the window's counts
    per baseline category and its unseen count."""

    column: str
    test: str
    statistic: float
    p_value: float | None
    effect: float
    n: int
    counts: npt.NDArray[np.int64] | None = None
    unseen: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    """A candidate's calibrated verdict: ``p_value`` before and ``p_adjusted`` after the
    correction, the status, and the warning/alert levels on the effect scale."""

    status: Status
    p_value: float
    p_adjusted: float
    levels: dict[str, Level]


def calibrated_decisions(
    baseline: Baseline, candidates: Sequence[Candidate], settings: DetectionSettings
) -> dict[tuple[str, str], Decision]:
    """Calibrated verdicts of a window's deciding tests, keyed by (column, test)."""
    if not candidates:
        return {}
    tables = baseline.null_tables()
    cal = settings.calibration
    pv = np.array([_p_value(baseline, tables, c) for c in candidates])
    m = len(candidates)
    budgets = {"warning": cal.warning_rate, "alert": cal.alert_rate}
    # The model's budget is split across its deciding tests in proportion to how many
    # columns each decides (so Bonferroni is exactly budget / all candidates), and each
    # test's share across its columns by the correction, as the fixed mode corrects KS
    # and chi2 p-values per test.
    p_adj = np.empty(m)
    level: dict[str, np.ndarray] = {name: np.empty(m) for name in budgets}  # per-family budget
    per_test: dict[str, np.ndarray] = {name: np.empty(m) for name in budgets}
    for test in dict.fromkeys(c.test for c in candidates):
        idx = np.array([i for i, c in enumerate(candidates) if c.test == test])
        m_f = idx.shape[0]
        adj = adjust_p_values(pv[idx], settings.correction)
        p_adj[idx] = adj
        for name, budget in budgets.items():
            b_f = budget if settings.correction == "none" else budget * m_f / m
            level[name][idx] = b_f
            if settings.correction == "none":
                per_test[name][idx] = b_f
            elif settings.correction == "bonferroni":
                per_test[name][idx] = b_f / m_f
            else:  # BH rejects p <= b_f * k / m_f, k = hypotheses rejected at b_f
                k = int(np.sum(adj < b_f))
                per_test[name][idx] = b_f * max(k, 1) / m_f
    out: dict[tuple[str, str], Decision] = {}
    for i, c in enumerate(candidates):
        floors = _floors(settings, c)
        levels = {
            name: Level(
                _threshold(baseline, tables, c, float(per_test[name][i])), getattr(floors, name)
            )
            for name in budgets
        }
        status = Status.OK
        pa = float(p_adj[i])
        if pa < level["alert"][i] and c.effect >= floors.alert:
            status = Status.ALERT
        elif pa < level["warning"][i] and c.effect >= floors.warning:
            status = Status.WARNING
        out[(c.column, c.test)] = Decision(status, float(pv[i]), pa, levels)
    return out


def _spec(test: str) -> Calibrated:
    spec = drift_test(test).calibration
    if spec is None:  # evaluate.py only passes calibrated tests
        raise ValueError(f"drift test {test!r} has no calibration")
    return spec


def _floors(settings: DetectionSettings, c: Candidate) -> Threshold:
    """The effect floors of a candidate: ``calibration.floors`` for a test whose registry
    entry has floors, else its thresholds (KS and chi2, whose fixed-mode thresholds
    already are effect floors on D and Cohen's w, per column overridable)."""
    if _spec(c.test).floors is None:
        return settings.threshold(c.column, c.test)
    return settings.calibration.floors[c.test]


def _p_value(baseline: Baseline, tables: Calibration, c: Candidate) -> float:
    null = _spec(c.test).null
    if null == "p_value":
        return 1.0 if c.p_value is None else float(c.p_value)
    if null == "pooled_chi2":
        profile = baseline.column(c.column).profile
        assert isinstance(profile, CategoricalProfile) and c.counts is not None
        _, _, p = pooled_chi2(c.counts, c.unseen, profile.fractions, float(sum(profile.counts)))
        return p
    table = tables.table(c.column, c.test)
    if table is None:  # not a calibrated test of this column: never significant
        return 1.0
    return min(1.0, table.p_value(c.statistic, c.n) + _rare_mass(baseline, c))


def _rare_mass(baseline: Baseline, c: Candidate) -> float:
    """The bound on empty-cell events too rare for the Monte Carlo (``rare_empty_bound``
    tests: PSI)."""
    if not _spec(c.test).rare_empty_bound:
        return 0.0
    profile = baseline.column(c.column).profile
    if isinstance(profile, NumericProfile):
        return rare_empty_mass(profile.expected_fractions, c.n)
    if isinstance(profile, CategoricalProfile):
        return rare_empty_mass(profile.fractions, c.n)
    return 0.0


def _threshold(baseline: Baseline, tables: Calibration, c: Candidate, level: float) -> float:
    """The effect at which the candidate's calibrated p-value equals ``level``."""
    profile = baseline.column(c.column).profile
    null = _spec(c.test).null
    if null == "p_value":
        # KS is the one test calibrated by its own p-value: its D at that p-value.
        assert isinstance(profile, NumericProfile) and c.test == "ks"
        return ks_threshold(level, c.n, int(profile.reference_sample.shape[0]))
    if null == "pooled_chi2":
        assert isinstance(profile, CategoricalProfile) and c.counts is not None
        _, df, _ = pooled_chi2(c.counts, c.unseen, profile.fractions, float(sum(profile.counts)))
        crit = pooled_chi2_threshold(level, df, c.n, float(sum(profile.counts)))
        # On the effect scale (Cohen's w) of the reported, unpooled statistic.
        return math.sqrt(crit / c.n) if c.n > 0 else math.inf
    table = tables.table(c.column, c.test)
    if table is None:
        return math.inf
    rest = level - _rare_mass(baseline, c)
    return table.threshold(rest, c.n) if rest > 0 else math.inf
