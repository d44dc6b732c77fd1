"""A FAST-style numpy reference for one window's statistics (``bench.evaluation``).

What a careful numpy programmer writes when the baseline is prepared once and every
window must be cheap: the reference sample sorted once with its prefix sums, KS by
searching the window's distinct values into the reference, PSI and Jensen–Shannon by
``bincount`` over ``searchsorted`` bins, Wasserstein from the prefix sums (one closed
form per window interval), chi-square from ``bincount`` of the category codes. The
p-values are scipy's (``kstwo``/the exact two-sample distribution, ``chi2.sf``), as
ours must be. No decisions, no multiple-testing correction: the statistics only, so
it is a lower bound on what ``evaluate_window`` can cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats as sps
from scipy.stats._stats_py import _attempt_exact_2kssamp

from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.windows.data import WindowData

FloatArray = npt.NDArray[np.float64]
FLOOR = 1e-4
#: Said next to its time in the benchmark's output: what ``evaluate_window`` does and this
#: reference does not, so its time is a lower bound for the same work.
OMITS = (
    "the reference computes the statistics only: no decisions (calibrated p-values and "
    "thresholds from the null tables, multiple-testing correction, column and model "
    "status), no result objects"
)


@dataclass(frozen=True)
class FastNumeric:
    ref: FloatArray  # sorted
    center: float
    prefix: FloatArray  # prefix[i] = sum(ref[:i] - center)
    edges: FloatArray
    expected: FloatArray
    std: float


@dataclass(frozen=True)
class FastCategorical:
    k: int
    expected: FloatArray


def prepare(baseline: Baseline) -> dict[str, FastNumeric | FastCategorical]:
    """Once per baseline (not timed per window)."""
    out: dict[str, FastNumeric | FastCategorical] = {}
    for col in baseline.columns:
        p = col.profile
        if isinstance(p, NumericProfile) and p.reference_sample.shape[0]:
            ref = np.sort(p.reference_sample)
            center = float(ref[ref.shape[0] // 2])
            prefix = np.concatenate(([0.0], np.cumsum(ref - center)))
            std = p.std if np.isfinite(p.std) else 0.0
            out[col.name] = FastNumeric(
                ref, center, prefix, p.inner_edges, p.expected_fractions, std
            )
        elif isinstance(p, CategoricalProfile) and p.categories:
            out[col.name] = FastCategorical(len(p.categories), p.fractions)
    return out


def _psi(a: FloatArray, e: FloatArray) -> float:
    a, e = np.maximum(a, FLOOR), np.maximum(e, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def _js(a: FloatArray, e: FloatArray) -> float:
    p, q = np.maximum(a, FLOOR), np.maximum(e, FLOOR)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    js = 0.5 * (np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m))) / math.log(2.0)
    return math.sqrt(max(float(js), 0.0))


def _ks_p(d: float, n: int, m: int) -> float:
    if max(n, m) <= 10_000:
        ok, _, p = _attempt_exact_2kssamp(n, m, math.gcd(n, m), d, "two-sided")
        if ok:
            return float(np.clip(p, 0.0, 1.0))
    big, small = max(n, m), min(n, m)
    return float(np.clip(sps.kstwo.sf(d, np.round(big * small / (big + small))), 0.0, 1.0))


def numeric(c: FastNumeric, x: FloatArray) -> dict[str, float]:
    w = np.sort(x[np.isfinite(x)])
    n, m = w.shape[0], c.ref.shape[0]
    u, counts = np.unique(w, return_counts=True)
    fw = np.cumsum(counts) / n
    below = np.searchsorted(c.ref, u, side="left")
    upto = np.searchsorted(c.ref, u, side="right")
    fw_prev = np.concatenate(([0.0], fw[:-1]))
    d = float(max(np.abs(fw - upto / m).max(), np.abs(fw_prev - below / m).max()))
    a = np.bincount(np.searchsorted(c.edges, w, side="right"), minlength=c.edges.shape[0] + 1) / n
    # W1: in [u_k, u_{k+1}) F_w = f; F_b first reaches f at x* = ref[ceil(f m) - 1];
    # with G(x) = integral of F_b up to x = (x cnt - prefix[cnt]) / m, the interval's
    # integral is f (2x* - a - b) - 2 G(x*) + G(a) + G(b).
    uc = u - c.center

    def g(x: FloatArray, cnt: npt.NDArray[np.intp]) -> FloatArray:
        out: FloatArray = (x * cnt - c.prefix[cnt]) / m
        return out

    total = float(g(uc[:1], below[:1])[0])  # below u_0: integral of F_b
    last = int(upto[-1])
    total += float((c.prefix[m] - c.prefix[last]) / m - (m - last) / m * uc[-1])
    if u.shape[0] > 1:
        f = fw[:-1]
        lo, hi = uc[:-1], uc[1:]
        j = np.clip(np.ceil(f * m).astype(np.intp), 1, m)
        xs = np.clip(c.ref[j - 1] - c.center, lo, hi)
        jc = np.where(xs == lo, upto[:-1], np.where(xs == hi, below[1:], j))
        parts = f * (2 * xs - lo - hi) - 2 * g(xs, jc) + g(lo, upto[:-1]) + g(hi, below[1:])
        total += float(np.sum(parts))
    return {
        "ks": d,
        "ks_p": _ks_p(d, n, m),
        "psi": _psi(a, c.expected),
        "jensen_shannon": _js(a, c.expected),
        "wasserstein": total / c.std if c.std > 0 else total,
    }


def categorical(c: FastCategorical, codes: npt.NDArray[np.int32]) -> dict[str, float]:
    counts = np.bincount(codes[codes >= 0], minlength=c.k + 1).astype(np.float64)
    n = counts.sum()
    if counts[c.k] > 0:
        props = np.append(c.expected, FLOOR)
        props, obs = props / props.sum(), counts
    else:
        props, obs = c.expected, counts[: c.k]
    exp = props * n
    chi = float(np.sum((obs - exp) ** 2 / exp))
    a, e = counts / n, np.append(c.expected, 0.0)
    return {
        "chi2": chi,
        "chi2_p": float(sps.chi2.sf(chi, obs.shape[0] - 1)),
        "psi": _psi(a, e),
        "jensen_shannon": _js(a, e),
    }


def window(
    prepared: dict[str, FastNumeric | FastCategorical], data: WindowData
) -> dict[tuple[str, str], float]:
    """Every default statistic of every column: (column, test) -> value."""
    out: dict[tuple[str, str], float] = {}
    for name, c in prepared.items():
        stats = (
            numeric(c, data.numeric[name])
            if isinstance(c, FastNumeric)
            else categorical(c, data.categorical[name])
        )
        for test, value in stats.items():
            out[(name, test)] = value
    return out
