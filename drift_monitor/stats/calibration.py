"""Null distributions of the drift statistics at a window's size (calibrated thresholds).

Under no drift a window of n events is a draw from the training distribution, and every
distance statistic is biased upwards at small n (E[PSI] ~ (bins - 1) / n). This module
computes, from the baseline alone, the upper-tail quantiles of each statistic's null
distribution on a grid of window sizes, and turns a statistic into a calibrated p-value
(and a level into a threshold) at any size in between. Pure numpy: no I/O, no clock.

How each test's null is obtained:

- ``psi``, ``jensen_shannon`` (numeric bins and categories): seeded Monte Carlo, exact
  for the window's noise: bin counts ``~ Multinomial(n, training fractions)``, scored with
  the very formulas of :mod:`.numeric` (floored fractions).
- ``wasserstein``: seeded bootstrap from the reference sample compressed to
  :data:`WASSERSTEIN_ATOMS` equal-mass atoms (counts ~ Multinomial over the atoms).
- ``ks`` and ``chi2`` have laws: the KS p-value (exact or Smirnov) already is the null, and
  chi-square uses its chi2(df) law on sparse-pooled cells (:func:`pooled_chi2`).

Interpolation between grid sizes: quantiles are scaled by the known rate, ``n * q`` for
PSI and ``sqrt(n) * q`` for JS and Wasserstein (nearly constant in n), interpolated
linearly in log n, clamped at the grid's ends, then divided back. The baseline itself is a
finite sample (N training rows, or the reference sample for Wasserstein), which adds its
own noise to what a window is compared with: the looked-up quantiles are multiplied by
``(1 + n / N)`` (PSI) or ``sqrt(1 + n / N)`` (JS, Wasserstein), the variance of a
two-sample comparison. Beyond the most extreme stored tail probability the tail is
extrapolated both exponentially in the statistic (log p linear through the two most
extreme stored points) and, for PSI and JS, with the asymptotic law (``n * PSI`` and
``8 ln2 n JS^2`` are chi2(cells - 1)); the more conservative of the two is used (the law
alone misses the heavy tail of empty bins at small n, the exponential alone is a few per
cent conservative at large n).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
from scipy import special

from drift_monitor.stats.numeric import FRACTION_FLOOR

FloatArray = npt.NDArray[np.float64]
T = TypeVar("T")

#: Version of the calibration member of a baseline file.
CALIBRATION_VERSION = 1
#: Window sizes the null is simulated at (log-spaced, events).
GRID: tuple[int, ...] = (50, 100, 200, 500, 1_000, 3_000, 10_000, 100_000)
#: Stored upper-tail probabilities, largest first.
TAIL_PROBS: tuple[float, ...] = (
    0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 5e-4, 2e-4, 1e-4
)  # fmt: skip
#: Monte Carlo replicates per size for PSI / JS (0.002 -> ~8 exceedances).
REPLICATES = 4096
#: Up to this window size a rare event dominates the PSI/JS tail (a bin left empty
#: scores (e - 1e-4) ln(e / 1e-4), ~0.7 for a 10 % bin, with probability ~(1 - e)^n):
#: these sizes get enough replicates to resolve the tail down to 1e-4.
DEEP_MAX_N = 100
DEEP_REPLICATES = 16384
#: A tail probability is estimated from the replicates only with this many exceedances;
#: deeper ones are extrapolated (see NullTable.threshold).
_MIN_EXCEEDANCES = 8
#: Wasserstein is costlier (a multinomial over the atoms): fewer sizes and replicates.
WASSERSTEIN_GRID: tuple[int, ...] = (50, 500, 5_000, 100_000)
WASSERSTEIN_REPLICATES = 512
WASSERSTEIN_ATOMS = 64
#: Work cap (multinomial cells x replicates per size) so that a column with hundreds of
#: categories costs about what a 10-bin one does; never fewer than 1024 replicates.
_CELL_BUDGET = 1 << 17
#: Expected count below which a chi-square cell is pooled (the textbook rule).
MIN_EXPECTED = 5.0

#: test -> (rate exponent g: n**g * q is ~constant, power p: n * q**p ~ chi2 law or None)
_LAWS: dict[str, tuple[float, float | None]] = {
    "psi": (1.0, 1.0),
    "jensen_shannon": (0.5, 2.0),
    "wasserstein": (0.5, None),
}
SIMULATED_TESTS = frozenset(_LAWS)


@dataclass(frozen=True, slots=True, eq=False)
class NullTable:
    """One column's null quantiles of one test.

    ``sizes``: grid of window sizes; ``probs``: upper-tail probabilities (descending);
    ``quantiles[i, j]``: the statistic exceeded with probability ``probs[j]`` by a window
    of ``sizes[i]`` events drawn from the training distribution; ``population``: the size
    of the sample the baseline side was estimated from (variance inflation);
    ``cells``: bins/categories (degrees of freedom + 1 of the asymptotic law).
    """

    test: str
    sizes: FloatArray
    probs: FloatArray
    quantiles: FloatArray
    population: float
    cells: int

    def quantiles_at(self, n: int) -> FloatArray:
        """Null quantiles (aligned with ``probs``) for a window of ``n`` events (n >= 1)."""
        g, _ = _LAWS[self.test]
        x = math.log(max(n, 1))
        logs = np.log(self.sizes)
        i = int(np.searchsorted(logs, x, side="right")) - 1
        if i < 0:
            row = self.quantiles[0] * self.sizes[0] ** g
        elif i >= logs.shape[0] - 1:
            row = self.quantiles[-1] * self.sizes[-1] ** g
        else:
            w = (x - logs[i]) / (logs[i + 1] - logs[i])
            row = (1.0 - w) * self.quantiles[i] * self.sizes[i] ** g + w * self.quantiles[
                i + 1
            ] * self.sizes[i + 1] ** g
        inflate = (1.0 + n / self.population) ** g if self.population > 0 else 1.0
        q: FloatArray = np.maximum.accumulate(row) * (inflate / max(n, 1) ** g)
        return q

    def p_value(self, statistic: float, n: int) -> float:
        """Calibrated upper-tail probability of ``statistic`` at ``n`` events, in (0, 1]."""
        q = self.quantiles_at(n)
        logp = np.log(self.probs)
        if statistic <= q[0]:
            # Below the median: interpolate towards p = 1 at statistic 0.
            return float(1.0 - 0.5 * statistic / q[0]) if q[0] > 0 else 1.0
        if statistic <= q[-1]:
            return float(np.exp(np.interp(statistic, q, logp)))
        return self._tail_p(statistic, q)

    def threshold(self, level: float, n: int) -> float:
        """The statistic whose calibrated p-value is ``level`` at ``n`` events (the
        inverse of :meth:`p_value`; ``level`` in (0, 1))."""
        q = self.quantiles_at(n)
        p_min = float(self.probs[-1])
        if level >= float(self.probs[0]):
            return float(q[0] * 2.0 * (1.0 - level))
        if level >= p_min:
            return float(np.interp(-math.log(level), -np.log(self.probs), q))
        slope = self._exp_slope(q)
        s_exp = float(q[-1] + (math.log(p_min) - math.log(level)) / slope)
        _, power = _LAWS[self.test]
        if power is None:
            return s_exp
        df = max(self.cells - 1, 1)
        ratio = float(special.chdtri(df, level) / special.chdtri(df, p_min))
        return max(float(q[-1] * ratio ** (1.0 / power)), s_exp)

    def _tail_p(self, statistic: float, q: FloatArray) -> float:
        p_min = float(self.probs[-1])
        p_exp = float(p_min * math.exp(-self._exp_slope(q) * (statistic - q[-1])))
        _, power = _LAWS[self.test]
        if power is None or q[-1] <= 0:
            return p_exp
        df = max(self.cells - 1, 1)
        law = special.chdtri(df, p_min) * (statistic / q[-1]) ** power
        return max(float(special.chdtrc(df, law)), p_exp)

    def _exp_slope(self, q: FloatArray) -> float:
        # d(-log p)/d(statistic) over the last two stored points.
        dq = float(q[-1] - q[-2])
        dl = float(math.log(self.probs[-2]) - math.log(self.probs[-1]))
        return dl / dq if dq > 0 else 1e12

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (floats round-trip exactly through ``repr``)."""
        return {
            "sizes": [float(x) for x in self.sizes],
            "probs": [float(x) for x in self.probs],
            "quantiles": [[float(x) for x in row] for row in self.quantiles],
            "population": float(self.population),
            "cells": int(self.cells),
        }

    @classmethod
    def from_json(cls, test: str, doc: Mapping[str, Any]) -> NullTable:
        """Inverse of :meth:`to_json`; ValueError on inconsistent shapes."""
        sizes = np.asarray(doc["sizes"], dtype=np.float64)
        probs = np.asarray(doc["probs"], dtype=np.float64)
        quantiles = np.asarray(doc["quantiles"], dtype=np.float64)
        if test not in _LAWS or quantiles.shape != (sizes.shape[0], probs.shape[0]):
            raise ValueError(f"calibration table {test!r}: inconsistent shapes")
        return cls(test, sizes, probs, quantiles, float(doc["population"]), int(doc["cells"]))


def _tail_row(test: str, samples: FloatArray, n: int, cells: int) -> FloatArray:
    """Quantiles of ``samples`` at ``TAIL_PROBS``: empirical where the replicates resolve
    them, extrapolated beyond as at run time (a one-size table without inflation)."""
    probs = np.asarray(TAIL_PROBS)
    resolved = int(np.sum(probs * samples.shape[0] >= _MIN_EXCEEDANCES))
    row = np.quantile(samples, 1.0 - probs[:resolved])
    row = np.maximum.accumulate(row)
    if resolved == probs.shape[0]:
        return row
    one = NullTable(test, np.array([float(n)]), probs[:resolved], row[None, :], 0.0, cells)
    deep = [one.threshold(float(p), n) for p in probs[resolved:]]
    return np.maximum.accumulate(np.concatenate([row, deep]))


def _rng(seed: int, column: str, test: str) -> np.random.Generator:
    # One stream per (column, test): a column's table does not depend on the others.
    return np.random.default_rng([seed, zlib.crc32(column.encode()), zlib.crc32(test.encode())])


def fraction_nulls(
    fractions: npt.ArrayLike, population: float, column: str, seed: int = 0
) -> dict[str, NullTable]:
    """PSI and Jensen–Shannon null tables of a column whose window fractions are compared
    with ``fractions`` (PSI bins or categories; an ``__unseen__`` cell of fraction 0 is
    appended for categorical columns by the caller when it is scored that way).

    ``population``: training rows behind ``fractions``. Deterministic in ``seed``/``column``.
    """
    e = np.asarray(fractions, dtype=np.float64)
    e_pos = e / e.sum()
    ef = np.maximum(e, FRACTION_FLOOR)
    rng = _rng(seed, column, "fractions")
    reps = int(np.clip(_CELL_BUDGET // max(e.shape[0], 1), 1024, REPLICATES))
    psi_q = np.empty((len(GRID), len(TAIL_PROBS)))
    js_q = np.empty_like(psi_q)
    cells = int(e.shape[0])
    deep = int(np.clip(2 * _CELL_BUDGET // max(cells, 1), reps, DEEP_REPLICATES))
    for i, n in enumerate(GRID):
        size = deep if n <= DEEP_MAX_N else reps
        counts = rng.multinomial(n, e_pos, size=size).astype(np.float64)
        a = np.maximum(counts / n, FRACTION_FLOOR)
        psi = np.sum((a - ef) * np.log(a / ef), axis=1)
        p = a / a.sum(axis=1, keepdims=True)
        q = ef / ef.sum()
        m = 0.5 * (p + q)
        js = (
            0.5
            * (np.sum(p * np.log(p / m), axis=1) + np.sum(q * np.log(q / m), axis=1))
            / math.log(2)
        )
        psi_q[i] = _tail_row("psi", psi, n, cells)
        js_q[i] = _tail_row("jensen_shannon", np.sqrt(np.maximum(js, 0.0)), n, cells)
    sizes = np.asarray(GRID, dtype=np.float64)
    probs = np.asarray(TAIL_PROBS, dtype=np.float64)
    return {
        "psi": NullTable("psi", sizes, probs, psi_q, float(population), cells),
        "jensen_shannon": NullTable("jensen_shannon", sizes, probs, js_q, float(population), cells),
    }


def resolved_probability(n: int, cells: int) -> float:
    """The smallest tail probability :func:`fraction_nulls`' replicates resolve at ``n``."""
    # The integers fraction_nulls' np.clip computes, in plain Python: called per column
    # of every window.
    reps = min(max(_CELL_BUDGET // max(cells, 1), 1024), REPLICATES)
    deep = min(max(2 * _CELL_BUDGET // max(cells, 1), reps), DEEP_REPLICATES)
    return _MIN_EXCEEDANCES / (deep if n <= DEEP_MAX_N else reps)


def rare_empty_mass(fractions: npt.ArrayLike, n: int) -> float:
    """Probability bound of the rare events that the PSI Monte Carlo cannot resolve at
    ``n``: a cell of fraction e left empty (probability (1 - e)^n) scores
    (e - 1e-4) ln(e / 1e-4) on its own, ~0.7 for a 10 % bin, far in the tail. Cells
    whose emptiness is rarer than the resolved probability are summed; added to the
    calibrated p-value, it keeps the false-alarm rate bounded at small n (a level below
    this mass cannot be reached by PSI at that size: its threshold is then infinite)."""
    e = np.asarray(fractions, dtype=np.float64)
    e = e[e > FRACTION_FLOOR]
    if e.shape[0] == 0:
        return 0.0
    empty = np.exp(n * np.log1p(-np.minimum(e, 1.0 - 1e-12)))
    rare = empty < resolved_probability(n, int(e.shape[0]) + 1)
    return float(empty[rare].sum())


def wasserstein_null(ref_sorted: FloatArray, scale: float, column: str, seed: int = 0) -> NullTable:
    """Null table of the normalised Wasserstein distance to the reference sample
    (``ref_sorted`` ascending, finite, non-empty; ``scale`` the baseline std, <= 0 = raw)."""
    m = min(WASSERSTEIN_ATOMS, int(ref_sorted.shape[0]))
    # Equal-mass atoms: the mid-quantile of each block of the sorted reference.
    pos = ((np.arange(m) + 0.5) * ref_sorted.shape[0] / m).astype(np.intp)
    atoms = ref_sorted[pos]
    gaps = np.diff(atoms)
    target = np.arange(1, m) / m
    rng = _rng(seed, column, "wasserstein")
    out = np.empty((len(WASSERSTEIN_GRID), len(TAIL_PROBS)))
    for i, n in enumerate(WASSERSTEIN_GRID):
        counts = rng.multinomial(n, np.full(m, 1.0 / m), size=WASSERSTEIN_REPLICATES)
        cdf = np.cumsum(counts[:, :-1], axis=1) / n
        w = np.abs(cdf - target) @ gaps
        out[i] = _tail_row("wasserstein", w / scale if scale > 0 else w, n, m)
    return NullTable(
        "wasserstein",
        np.asarray(WASSERSTEIN_GRID, dtype=np.float64),
        np.asarray(TAIL_PROBS, dtype=np.float64),
        out,
        float(ref_sorted.shape[0]),
        m,
    )


def pooled_chi2(
    counts: npt.ArrayLike, unseen: int, proportions: npt.ArrayLike, population: float
) -> tuple[float, int, float]:
    """(statistic, degrees of freedom, p-value) of the chi-square decision at this window.

    Baseline categories whose expected count ``n * p_i`` is below :data:`MIN_EXPECTED` are
    pooled into one cell (and that cell, while still below, into the smallest other
    cell); the ``__unseen__`` bucket (proportion floored at 1e-4) stays its own cell.
    The p-value uses chi2(df) on the statistic divided by ``1 + n / population`` (the
    baseline proportions are themselves estimated from ``population`` rows). One cell
    left: (0, 0, 1).
    """
    c = np.asarray(counts, dtype=np.float64)
    p = np.asarray(proportions, dtype=np.float64)
    n = float(c.sum()) + unseen
    if n <= 0:
        return 0.0, 0, 1.0
    sparse = p * n < MIN_EXPECTED
    o = c[~sparse]  # boolean indexing: copies this function may change
    e = p[~sparse]
    if sparse.any():
        po, pe = float(c[sparse].sum()), float(p[sparse].sum())
        if pe * n < MIN_EXPECTED and e.shape[0]:
            j = int(np.argmin(e))
            o[j] += po
            e[j] += pe
        else:
            o = np.append(o, po)
            e = np.append(e, pe)
    if unseen > 0:
        o = np.append(o, float(unseen))
        e = np.append(e, FRACTION_FLOOR)
    e = e / e.sum()
    df = int(o.shape[0]) - 1
    if df < 1:
        return 0.0, 0, 1.0
    stat = float(np.sum((o - e * n) ** 2 / (e * n)))
    inflate = 1.0 + n / population if population > 0 else 1.0
    return stat, df, float(special.chdtrc(df, stat / inflate))


def pooled_chi2_threshold(level: float, df: int, n: int, population: float) -> float:
    """The pooled chi-square statistic at which :func:`pooled_chi2`'s p-value is ``level``."""
    if df < 1:
        return math.inf
    inflate = 1.0 + n / population if population > 0 else 1.0
    return float(special.chdtri(df, level) * inflate)


def ks_threshold(level: float, n: int, reference: int) -> float:
    """KS D whose two-sample p-value is about ``level``: Kolmogorov's limit law at
    ``en = n * reference / (n + reference)`` (``kolmogi(level) / sqrt(en)``). The
    decision itself uses the KS p-value (exact or Smirnov, as ``ks_2samp``); this is the
    reported threshold, within a few per cent of the exact one at n >= 100."""
    en = n * reference / (n + reference)
    return float(special.kolmogi(level) / math.sqrt(max(en, 1.0)))


@dataclass(frozen=True, slots=True, eq=False)
class Calibration:
    """A baseline's null tables: column name -> test -> :class:`NullTable`.

    ``seed``: the seed the Monte Carlo ran with; ``version``: :data:`CALIBRATION_VERSION`.
    """

    columns: Mapping[str, Mapping[str, NullTable]]
    seed: int = 0
    version: int = CALIBRATION_VERSION
    _derived: list[tuple[object, object]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

    def derived(self, owner: object, build: Callable[[], T]) -> T:
        """What ``build`` makes of these tables for ``owner`` (compared by identity),
        built on first use and kept while the owner stays the same: the per-load
        precomputation of the calibrated decision (:mod:`drift_monitor.evaluation.calibrated`
        passes the baseline's columns)."""
        for key, value in self._derived:
            if key is owner:
                return cast(T, value)
        value = build()
        self._derived[:] = [(owner, value)]
        return value

    def table(self, column: str, test: str) -> NullTable | None:
        """The table of ``test`` for ``column``, or None when it was not calibrated."""
        return self.columns.get(column, {}).get(test)

    def to_json(self) -> dict[str, Any]:
        """The document stored in the baseline file (deterministic, sorted by name)."""
        return {
            "version": self.version,
            "seed": self.seed,
            "columns": {
                name: {t: tab.to_json() for t, tab in sorted(tests.items())}
                for name, tests in sorted(self.columns.items())
            },
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Calibration:
        """Inverse of :meth:`to_json`; ValueError for another version or bad shapes."""
        if doc.get("version") != CALIBRATION_VERSION:
            raise ValueError(
                f"calibration version {doc.get('version')!r} is not {CALIBRATION_VERSION}"
            )
        cols = {
            str(name): {str(t): NullTable.from_json(str(t), tab) for t, tab in tests.items()}
            for name, tests in doc["columns"].items()
        }
        return cls(cols, int(doc["seed"]), CALIBRATION_VERSION)
