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
    NullTable,
    ks_threshold,
    pooled_chi2,
    pooled_chi2_threshold,
)
from drift_monitor.stats.null_stack import EmptyCells, NullStack
from drift_monitor.stats.registry import Calibrated, drift_test

FloatArray = npt.NDArray[np.float64]


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


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """What the calibrated decision needs from a baseline, built once per loaded baseline
    (cached on its :class:`Calibration`): each (column, test)'s null table as a row of a
    :class:`NullStack`, the PSI cells for the rare-empty bound, the chi-square
    proportions and populations, the KS reference sizes."""

    tables: dict[tuple[str, str], tuple[NullStack, int]]
    empty: EmptyCells
    chi2: dict[str, tuple[npt.NDArray[np.float64], float]]
    reference: dict[str, int]

    @classmethod
    def build(cls, baseline: Baseline, calibration: Calibration) -> _Plan:
        groups: dict[tuple[str, bytes, bytes], dict[str, NullTable]] = {}
        for column, tests in calibration.columns.items():
            for test, tab in tests.items():
                key = (test, tab.sizes.tobytes(), tab.probs.tobytes())
                groups.setdefault(key, {})[column] = tab
        tables: dict[tuple[str, str], tuple[NullStack, int]] = {}
        for (test, _, _), members in groups.items():
            stack = NullStack.build(test, members)
            for column, row in stack.index.items():
                tables[(column, test)] = (stack, row)
        fractions: dict[str, npt.NDArray[np.float64]] = {}
        chi2: dict[str, tuple[npt.NDArray[np.float64], float]] = {}
        reference: dict[str, int] = {}
        for col in baseline.columns:
            p = col.profile
            if isinstance(p, NumericProfile):
                fractions[col.name] = p.expected_fractions
                reference[col.name] = int(p.reference_sample.shape[0])
            elif isinstance(p, CategoricalProfile):
                fractions[col.name] = p.fractions
                chi2[col.name] = (p.fractions, float(sum(p.counts)))
        return cls(tables, EmptyCells.build(fractions), chi2, reference)


def calibrated_decisions(
    baseline: Baseline, candidates: Sequence[Candidate], settings: DetectionSettings
) -> dict[tuple[str, str], Decision]:
    """Calibrated verdicts of a window's deciding tests, keyed by (column, test)."""
    if not candidates:
        return {}
    tables = baseline.null_tables()
    plan = tables.derived(baseline.columns, lambda: _Plan.build(baseline, tables))
    cal = settings.calibration
    m = len(candidates)
    budgets = {"warning": cal.warning_rate, "alert": cal.alert_rate}
    nulls = _Nulls.of(plan, candidates)
    pv = nulls.p_values
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
    thresholds = {name: nulls.thresholds(per_test[name].tolist()) for name in budgets}
    floors = _Floors(settings)
    out: dict[tuple[str, str], Decision] = {}
    p_adj_l, pv_l = p_adj.tolist(), pv.tolist()
    alert_l, warning_l = level["alert"].tolist(), level["warning"].tolist()
    for i, c in enumerate(candidates):
        fl = floors.of(c)
        levels = {name: Level(thresholds[name][i], getattr(fl, name)) for name in budgets}
        status = Status.OK
        pa = p_adj_l[i]
        if pa < alert_l[i] and c.effect >= fl.alert:
            status = Status.ALERT
        elif pa < warning_l[i] and c.effect >= fl.warning:
            status = Status.WARNING
        out[(c.column, c.test)] = Decision(status, pv_l[i], pa, levels)
    return out


def _spec(test: str) -> Calibrated:
    spec = drift_test(test).calibration
    if spec is None:  # evaluate.py only passes calibrated tests
        raise ValueError(f"drift test {test!r} has no calibration")
    return spec


class _Floors:
    """The effect floors of a candidate: ``calibration.floors`` for a test whose registry
    entry has floors, else its thresholds (KS and chi2, whose fixed-mode thresholds
    already are effect floors on D and Cohen's w, per column overridable). Looked up
    once per test (and per overridden column) in a window."""

    def __init__(self, settings: DetectionSettings) -> None:
        self._settings = settings
        self._memo: dict[tuple[str | None, str], Threshold] = {}

    def of(self, c: Candidate) -> Threshold:
        col = c.column if c.column in self._settings.columns else None
        key = (col, c.test)
        found = self._memo.get(key)
        if found is None:
            if _spec(c.test).floors is None:
                found = self._settings.threshold(c.column, c.test)
            else:
                found = self._settings.calibration.floors[c.test]
            self._memo[key] = found
        return found


@dataclass(slots=True)
class _Mass:
    """The rare-empty masses of a stack's candidates (``rows`` in :class:`EmptyCells`,
    -1: none), summed exactly only where the result can differ: ``x + mass`` and
    ``x - mass`` equal ``x`` when the mass is below a quarter of x's spacing, which an
    upper bound computed for all rows at once shows for nearly every column."""

    empty: EmptyCells
    rows: list[int]
    ns: list[int]
    bound: FloatArray | None = None
    exact: dict[int, float] | None = None

    @classmethod
    def of(cls, empty: EmptyCells, columns: list[str], ns: list[int]) -> _Mass:
        rows = [empty.index.get(c, -1) for c in columns]
        known = [j for j, r in enumerate(rows) if r >= 0]
        bound = np.zeros(len(rows))
        bound[known] = empty.bounds([rows[j] for j in known], [ns[j] for j in known])
        return cls(empty, rows, ns, bound, {})

    def exact_where_it_matters(self, x: FloatArray) -> FloatArray:
        """Per row, the exact mass where it may change ``x`` (added or subtracted),
        else 0.0 (which leaves x as the exact mass would)."""
        out = np.zeros(len(self.rows))
        if self.bound is None or self.exact is None:
            return out
        with np.errstate(under="ignore"):
            need = ~(self.bound < np.spacing(x) / 4)
        todo = [j for j in np.flatnonzero(need).tolist() if j not in self.exact]
        for j in todo:
            if self.rows[j] < 0:  # no profile: no mass
                self.exact[j] = 0.0
        todo = [j for j in todo if self.rows[j] >= 0]
        got = self.empty.masses([self.rows[j] for j in todo], [self.ns[j] for j in todo])
        for j, m in zip(todo, got, strict=True):
            self.exact[j] = m
        for j in np.flatnonzero(need).tolist():
            out[j] = self.exact[j]
        return out


@dataclass(slots=True)
class _Nulls:
    """One window's candidates against their null laws: the calibrated p-values (before
    the correction) and what the thresholds need, computed per law for all candidates
    at once. ``tabled``: per stack, (candidate indices, rows, null quantiles at each
    candidate's n, rare-empty masses)."""

    candidates: Sequence[Candidate]
    plan: _Plan
    p_values: npt.NDArray[np.float64]
    tabled: list[tuple[NullStack, list[int], npt.NDArray[np.intp], FloatArray, _Mass]]
    chi2_df: dict[int, int]

    @classmethod
    def of(cls, plan: _Plan, candidates: Sequence[Candidate]) -> _Nulls:
        pv = np.ones(len(candidates))
        by_stack: dict[int, tuple[NullStack, list[int], list[int]]] = {}
        chi2_df: dict[int, int] = {}
        for i, c in enumerate(candidates):
            null = _spec(c.test).null
            if null == "p_value":
                pv[i] = 1.0 if c.p_value is None else float(c.p_value)
            elif null == "pooled_chi2":
                fractions, population = plan.chi2[c.column]
                assert c.counts is not None
                _, df, p = pooled_chi2(c.counts, c.unseen, fractions, population)
                pv[i], chi2_df[i] = p, df
            else:
                found = plan.tables.get((c.column, c.test))
                if found is not None:  # else not calibrated for this column: never significant
                    stack, row = found
                    entry = by_stack.setdefault(id(stack), (stack, [], []))
                    entry[1].append(i)
                    entry[2].append(row)
        tabled = []
        for stack, idx, rows_l in by_stack.values():
            rows = np.array(rows_l, dtype=np.intp)
            ns = [candidates[i].n for i in idx]
            q = stack.quantiles_at(rows, ns)
            stats = np.array([candidates[i].statistic for i in idx])
            p_tab = stack.p_values(rows, q, stats)
            mass = _Mass(plan.empty, [-1] * len(idx), ns)
            if _spec(stack.test).rare_empty_bound:
                mass = _Mass.of(plan.empty, [candidates[i].column for i in idx], ns)
            p_tab = p_tab + mass.exact_where_it_matters(p_tab)
            pv[idx] = np.where(p_tab < 1.0, p_tab, 1.0)
            tabled.append((stack, idx, rows, q, mass))
        return cls(candidates, plan, pv, tabled, chi2_df)

    def thresholds(self, levels: list[float]) -> list[float]:
        """Each candidate's statistic (effect scale) at which its calibrated p-value
        equals its ``levels`` entry."""
        out = [math.inf] * len(self.candidates)
        for i, c in enumerate(self.candidates):
            null = _spec(c.test).null
            if null == "p_value":
                # KS is the one test calibrated by its own p-value: its D at that p-value.
                out[i] = ks_threshold(levels[i], c.n, self.plan.reference[c.column])
            elif null == "pooled_chi2":
                _, population = self.plan.chi2[c.column]
                crit = pooled_chi2_threshold(levels[i], self.chi2_df[i], c.n, population)
                # On the effect scale (Cohen's w) of the reported, unpooled statistic.
                out[i] = math.sqrt(crit / c.n) if c.n > 0 else math.inf
        for stack, idx, rows, q, mass in self.tabled:
            lv = np.array([levels[i] for i in idx])
            rest = lv - mass.exact_where_it_matters(lv)
            ok = rest > 0
            if ok.any():
                got = stack.thresholds(rows[ok], q[ok], rest[ok].tolist())
                for i, t in zip(np.asarray(idx)[ok].tolist(), got.tolist(), strict=True):
                    out[i] = t
        return out
