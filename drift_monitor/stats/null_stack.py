"""Many columns' null tables evaluated at once (the calibrated decision of one window).

:class:`~drift_monitor.stats.calibration.NullTable` defines the calibrated p-value and
threshold of one column at one window size. A window asks that of every column at once,
and a per-column call costs ~20 numpy calls on 12-element arrays: for a 121-column window
that was more time than the window's statistics. :class:`NullStack` stacks the tables of
one test (same size grid and tail probabilities) into one array, built once per loaded
baseline, and computes the same quantities for many columns with a handful of array
operations.

Every result is bit-identical to the scalar methods (``tests/unit/stats`` checks it):
the same IEEE operations in the same order on the same operands - scalar powers and
logarithms stay Python's (libm), ``np.interp`` is reproduced with its exact update rule,
and the rare tail branches (beyond the most extreme stored probability, where a p-value
needs the chi2 law) call the scalar method on the row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from drift_monitor.stats.calibration import _LAWS, NullTable, resolved_probability
from drift_monitor.stats.numeric import FRACTION_FLOOR

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


def _interp_rows(x: FloatArray, xp: FloatArray, fp: FloatArray) -> FloatArray:
    """``np.interp(x[r], xp[r], fp[r])`` for every row r, for ``xp[r, 0] <= x[r] <=
    xp[r, -1]`` (the callers' branches guarantee it), bit for bit: numpy's rule is
    j = the last index with xp[j] <= x, fp[j] when x == xp[j] (or j is the last), else
    slope * (x - xp[j]) + fp[j] with slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])."""
    k, p = xp.shape
    rows = np.arange(k)
    j = np.minimum(np.sum(xp <= x[:, None], axis=1) - 1, p - 1)
    j1 = np.minimum(j + 1, p - 1)
    x0, x1 = xp[rows, j], xp[rows, j1]
    y0, y1 = fp[rows, j], fp[rows, j1]
    exact = (j == p - 1) | (x0 == x)
    with np.errstate(all="ignore"):
        slope = (y1 - y0) / (x1 - x0)
        out: FloatArray = slope * (x - x0) + y0
        bad = np.isnan(out) & ~exact
        if bad.any():  # numpy's "try the other direction" for a non-finite slope
            alt = slope * (x - x1) + y1
            alt = np.where(np.isnan(alt) & (y0 == y1), y0, alt)
            out = np.where(bad, alt, out)
    return np.where(exact, y0, out)


@dataclass(frozen=True, slots=True, eq=False)
class NullStack:
    """The null tables of one test for several columns, sharing ``sizes`` and ``probs``.

    ``index``: column -> row. Built once per loaded baseline (:func:`stack_tables`);
    every method takes the rows of the columns asked about and their window sizes ``n``
    (present values, >= 1) and returns one value per row, equal to the scalar
    :class:`NullTable` method's.
    """

    test: str
    tables: tuple[NullTable, ...]
    index: dict[str, int]
    quantiles: FloatArray  # (columns, sizes, probs)
    logs: FloatArray  # log(sizes), as NullTable computes it
    scales: FloatArray  # sizes[i] ** g, each a numpy scalar power as in NullTable
    population: tuple[float, ...]
    logp: FloatArray
    neg_logp: FloatArray

    @classmethod
    def build(cls, test: str, tables: dict[str, NullTable]) -> NullStack:
        """Stack ``tables`` (column -> table; same test, sizes and probs)."""
        first = next(iter(tables.values()))
        g, _ = _LAWS[test]
        return cls(
            test,
            tuple(tables.values()),
            {name: i for i, name in enumerate(tables)},
            np.stack([t.quantiles for t in tables.values()]),
            np.log(first.sizes),
            np.array([first.sizes[i] ** g for i in range(first.sizes.shape[0])]),
            tuple(t.population for t in tables.values()),
            np.log(first.probs),
            -np.log(first.probs),
        )

    def quantiles_at(self, rows: IntArray, ns: Sequence[int]) -> FloatArray:
        """:meth:`NullTable.quantiles_at` of each row's table at its ``n`` (rows x probs)."""
        g, _ = _LAWS[self.test]
        x = np.array([math.log(max(n, 1)) for n in ns])
        last = self.logs.shape[0] - 1
        i = np.searchsorted(self.logs, x, side="right") - 1
        q = self.quantiles[rows]
        sel = np.arange(rows.shape[0])
        ic = np.clip(i, 0, last - 1) if last > 0 else np.zeros_like(i)
        w = (x - self.logs[ic]) / (self.logs[ic + 1] - self.logs[ic]) if last > 0 else x * 0
        row = (1.0 - w)[:, None] * q[sel, ic] * self.scales[ic][:, None] + w[:, None] * q[
            sel, np.minimum(ic + 1, last)
        ] * self.scales[np.minimum(ic + 1, last)][:, None]
        below, above = i < 0, i >= last
        if below.any():
            row[below] = q[below, 0] * self.scales[0]
        if above.any():
            row[above] = q[above, last] * self.scales[last]
        factor = np.array(
            [
                ((1.0 + n / self.population[r]) ** g if self.population[r] > 0 else 1.0)
                / max(n, 1) ** g
                for r, n in zip(rows.tolist(), ns, strict=True)
            ]
        )
        out: FloatArray = np.maximum.accumulate(row, axis=1) * factor[:, None]
        return out

    def p_values(self, rows: IntArray, q: FloatArray, statistics: FloatArray) -> FloatArray:
        """:meth:`NullTable.p_value` of each row's statistic, given its :meth:`quantiles_at`."""
        s = np.asarray(statistics, dtype=np.float64)
        q0, q_last = q[:, 0], q[:, -1]
        with np.errstate(all="ignore"):
            out: FloatArray = np.where(q0 > 0, 1.0 - 0.5 * s / q0, 1.0)
        low = s <= q0
        mid = ~low & (s <= q_last)
        if mid.any():
            logp = np.broadcast_to(self.logp, (int(mid.sum()), self.logp.shape[0]))
            out[mid] = np.exp(_interp_rows(s[mid], q[mid], logp))
        for r in np.flatnonzero(~low & ~mid).tolist():
            out[r] = self.tables[int(rows[r])]._tail_p(float(s[r]), q[r])
        return out

    def thresholds(self, rows: IntArray, q: FloatArray, levels: Sequence[float]) -> FloatArray:
        """:meth:`NullTable.threshold` of each row at its ``level`` (in (0, 1))."""
        lv = np.asarray(levels, dtype=np.float64)
        probs = self.tables[0].probs
        p0, p_min = float(probs[0]), float(probs[-1])
        out: FloatArray = q[:, 0] * 2.0 * (1.0 - lv)
        mid = (lv < p0) & (lv >= p_min)
        if mid.any():
            x = np.array([-math.log(v) for v in lv[mid].tolist()])
            xp = np.broadcast_to(self.neg_logp, (x.shape[0], self.neg_logp.shape[0]))
            out[mid] = _interp_rows(x, xp, q[mid])
        tail = lv < p_min
        if tail.any():
            out[tail] = self._tail_thresholds(rows[tail], q[tail], lv[tail].tolist())
        return out

    def _tail_thresholds(self, rows: IntArray, q: FloatArray, levels: list[float]) -> FloatArray:
        # NullTable.threshold below the most extreme stored probability, in array form:
        # the exponential extrapolation and, for PSI/JS, the chi2 law; the larger wins.
        probs = self.tables[0].probs
        p_min = float(probs[-1])
        dq = q[:, -1] - q[:, -2]
        dl = float(math.log(probs[-2]) - math.log(probs[-1]))
        with np.errstate(all="ignore"):
            slope = np.where(dq > 0, dl / dq, 1e12)
        gap = np.array([math.log(p_min) - math.log(v) for v in levels])
        s_exp: FloatArray = q[:, -1] + gap / slope
        _, power = _LAWS[self.test]
        if power is None:
            return s_exp
        df = np.array([max(self.tables[int(r)].cells - 1, 1) for r in rows.tolist()])
        lv = np.asarray(levels, dtype=np.float64)
        ratio = special.chdtri(df, lv) / special.chdtri(df, p_min)
        inv = 1.0 / power
        law = q[:, -1] * np.array([r**inv for r in ratio.tolist()])
        return np.where(law >= s_exp, law, s_exp)


@dataclass(frozen=True, slots=True, eq=False)
class EmptyCells:
    """:func:`~drift_monitor.stats.calibration.rare_empty_mass` for many columns: each
    column's log(1 - e) of its cells of fraction e > 1e-4, computed once per baseline."""

    index: dict[str, int]
    log_stay: tuple[FloatArray, ...]  # per column, log1p(-min(e, 1 - 1e-12))

    @classmethod
    def build(cls, fractions: dict[str, FloatArray]) -> EmptyCells:
        """From column -> PSI fractions (bins or categories)."""
        logs = []
        for f in fractions.values():
            e = np.asarray(f, dtype=np.float64)
            e = e[e > FRACTION_FLOOR]
            logs.append(np.log1p(-np.minimum(e, 1.0 - 1e-12)))
        return cls({name: i for i, name in enumerate(fractions)}, tuple(logs))

    def bounds(self, rows: Sequence[int], ns: Sequence[int]) -> FloatArray:
        """An upper bound of each row's :meth:`masses` entry (twice its sum taken in
        any order), for all rows in a few array operations. Where the bound is below a
        quarter of the spacing of the number the mass is added to (or subtracted from),
        adding the exact mass gives that number unchanged: the caller skips the exact
        (per-row) sum then."""
        logs = [self.log_stay[r] for r in rows]
        lens = np.array([x.shape[0] for x in logs], dtype=np.intp)
        out = np.zeros(len(logs))
        nz = lens > 0
        if not nz.any():
            return out
        flat = np.concatenate(logs)
        empty = np.exp(np.repeat(np.asarray(ns, dtype=np.float64), lens) * flat)
        resolved = [resolved_probability(n, int(k) + 1) for n, k in zip(ns, lens, strict=True)]
        rare = empty < np.repeat(resolved, lens)
        starts = np.concatenate(([0], np.cumsum(lens[nz])[:-1]))
        out[nz] = np.add.reduceat(np.where(rare, empty, 0.0), starts) * 2.0
        return out

    def masses(self, rows: Sequence[int], ns: Sequence[int]) -> list[float]:
        """The rare-empty mass of each row's column at its ``n``."""
        out = []
        for r, n in zip(rows, ns, strict=True):
            ls = self.log_stay[r]
            if ls.shape[0] == 0:
                out.append(0.0)
                continue
            empty = np.exp(n * ls)
            rare = empty < resolved_probability(n, int(ls.shape[0]) + 1)
            out.append(float(empty[rare].sum()))
        return out
