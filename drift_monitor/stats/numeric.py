"""Numeric column statistics: KS, PSI, normalised Wasserstein, Jensen–Shannon.

Definitions follow SPEC.md exactly:

- ``ks``: D = sup|F_w - F_b| against the reference sample; statistic and p-value equal
  to ``scipy.stats.ks_2samp(window, reference, method="auto")``.
- ``psi``: sum (a_i - e_i) * ln(a_i / e_i) over the baseline's quantile bins, fractions
  floored at 1e-4 (no renormalisation after flooring).
- ``wasserstein``: first Wasserstein distance to the reference sample divided by the
  baseline standard deviation (raw distance when that std is 0).
- ``jensen_shannon``: Jensen–Shannon *distance*, base 2, between the same floored bin
  fractions PSI uses (scipy's ``jensenshannon`` normalises them to sum 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats._ksstats import kolmogn  # kstwo.sf's own function (see _kstwo_sf)

from drift_monitor.stats.prepared import PreparedNumeric, distinct_sorted, reference_prefix_sums

FloatArray = npt.NDArray[np.float64]

#: Floor applied to bin fractions before PSI / Jensen–Shannon (SPEC: 1e-4).
FRACTION_FLOOR = 1e-4

# scipy.stats.ks_2samp's method="auto" is exact when both samples are at most this big.
_KS_MAX_AUTO_N = 10_000


@dataclass(frozen=True, slots=True)
class NumericScores:
    """Every numeric test on one window of one column (missing values already removed)."""

    n: int
    ks_statistic: float
    ks_p_value: float
    psi: float
    wasserstein: float
    jensen_shannon: float


def ks_2samp_sorted(window_sorted: FloatArray, ref_sorted: FloatArray) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test of a sorted window against a sorted reference.

    Returns ``(D, p_value)`` equal to ``scipy.stats.ks_2samp(window, ref)`` (two-sided,
    ``method="auto"``: exact when both sizes are <= 10 000, else Smirnov's asymptotic
    distribution). Cost is O(n_w log n_ref): only the window is searched into the
    reference, because between two consecutive window values F_w is constant and the
    extremes of F_ref are reached at the reference points next to those window values.

    Both inputs must be sorted ascending, finite and non-empty (``ValueError`` otherwise).
    """
    if window_sorted.shape[0] == 0 or ref_sorted.shape[0] == 0:
        raise ValueError("ks_2samp_sorted needs two non-empty samples")
    uniq, at_most = distinct_sorted(window_sorted)
    below = np.searchsorted(ref_sorted, uniq, side="left")
    upto = np.searchsorted(ref_sorted, uniq, side="right")
    return ks_from_counts(at_most, below, upto, int(ref_sorted.shape[0]))


#: Window-sized work is done in slices of this many values: 64 KiB arrays stay below
#: glibc's mmap threshold and are reused from the heap. Whole-window temporaries (800 KB
#: at 100 000 values) were handed back to the kernel after each call and faulted in
#: again on the next - 3x the arithmetic's cost on these VMs, and the cause of the
#: "numpy 2.4 is slower than 1.26" measurement (docs/BENCHMARKS.md).
CHUNK = 8192


def _chunks(n: int) -> list[tuple[int, int]]:
    return [(lo, min(lo + CHUNK, n)) for lo in range(0, n, CHUNK)]


def ks_from_counts(
    at_most: npt.NDArray[np.intp],
    ref_below: npt.NDArray[np.intp],
    ref_upto: npt.NDArray[np.intp],
    n_ref: int,
) -> tuple[float, float]:
    """:func:`ks_2samp_sorted` from counts at the window's distinct values u_k:
    ``at_most[k]`` = #(window <= u_k) (so the last is the window size),
    ``ref_below[k]`` = #(ref < u_k), ``ref_upto[k]`` = #(ref <= u_k)."""
    n_w = int(at_most[-1])
    n_b = n_ref
    max_s, min_s = -math.inf, math.inf
    for lo, hi in _chunks(at_most.shape[0]):
        # Right-continuous ECDFs at the window's distinct values, and the reference
        # ECDF just below each: the same integer counts scipy derives, so the same floats.
        cw = at_most[lo:hi] / n_w
        # diffs are F_w - F_b, the sign convention of ks_2samp(window, ref).
        d_at = cw - ref_upto[lo:hi] / n_b
        # Just below u_k the window ECDF still equals its value at u_{k-1} (0 before u_0).
        cw_prev = at_most[lo - 1 : hi - 1] / n_w if lo else np.concatenate(([0.0], cw[:-1]))
        d_below = cw_prev - ref_below[lo:hi] / n_b
        max_s = max(max_s, float(d_at.max()), float(d_below.max()))
        min_s = min(min_s, float(d_at.min()), float(d_below.min()))
    # After the last window value F_w = 1 and F_b rises to 1: diffs shrink to 0, which
    # both extremes already dominate. min over data points in scipy is clipped at 0.
    min_s_pos = min(max(-min_s, 0.0), 1.0)
    d = min_s_pos if min_s_pos > max_s else max_s
    if max(n_w, n_b) <= _KS_MAX_AUTO_N:
        exact = _ks_exact(n_w, n_b, d)
        if exact is not None:
            return exact
    m, n = sorted([float(n_w), float(n_b)], reverse=True)
    en = m * n / (m + n)
    p = _kstwo_sf(d, float(np.round(en)))
    return float(d), min(max(p, 0.0), 1.0)


def _kstwo_sf(d: float, n: float) -> float:
    """``scipy.stats.kstwo.sf(d, n)`` (n a positive whole number), the same float: the
    function it wraps, without ``rv_continuous``'s argument handling (~25 us a call,
    ~5 % of a 2 000-event window's evaluation). Its support is [1 / (2n), 1]."""
    if d <= 0.5 / n:
        return 1.0
    if d >= 1.0:
        return 0.0
    return float(kolmogn(n, d, cdf=False))


def _ks_exact(n_w: int, n_b: int, d: float) -> tuple[float, float] | None:
    """scipy's exact two-sided p-value, or None where scipy itself would fall back."""
    # scipy exposes no public function for the exact two-sample distribution given D;
    # we call the same private helper ks_2samp uses so the numbers are identical.
    # tests/unit/test_stats_numeric.py pins this against ks_2samp on every release of scipy.
    from scipy.stats._stats_py import _attempt_exact_2kssamp  # noqa: PLC0415

    g = math.gcd(n_w, n_b)
    with np.errstate(all="ignore"):
        success, d_exact, prob = _attempt_exact_2kssamp(n_w, n_b, g, d, "two-sided")
    if not success:
        return None
    # np.clip's result (NaN stays NaN) without its ~5 us of dispatch on a scalar.
    return float(d_exact), float(min(max(prob, 0.0), 1.0))


def bin_fractions(values: FloatArray, inner_edges: FloatArray) -> FloatArray:
    """Fraction of ``values`` in each PSI bin.

    Bins are ``(-inf, e_0), [e_0, e_1), ..., [e_k, +inf)`` for the sorted inner edges
    ``e``: a value equal to an edge belongs to the bin that starts at it. Returns
    ``len(inner_edges) + 1`` fractions summing to 1, or all zeros for an empty input.
    """
    counts = np.bincount(
        np.searchsorted(inner_edges, values, side="right"), minlength=inner_edges.shape[0] + 1
    ).astype(np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def bin_fractions_sorted(values_sorted: FloatArray, inner_edges: FloatArray) -> FloatArray:
    """:func:`bin_fractions` of an ascending array, in O(bins log n): the counts are
    differences of #(values < edge), the same integers, so the same fractions."""
    n = values_sorted.shape[0]
    below = np.searchsorted(values_sorted, inner_edges, side="left")
    counts = np.diff(np.concatenate(([0], below, [n]))).astype(np.float64)
    return counts / n if n > 0 else counts


def psi(actual: FloatArray, expected: FloatArray, floor: float = FRACTION_FLOOR) -> float:
    """Population Stability Index, sum (a - e) * ln(a / e), fractions floored at ``floor``.

    ``actual`` and ``expected`` are bin fractions of equal length. Always finite and >= 0.
    """
    a = np.maximum(actual, floor)
    e = np.maximum(expected, floor)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon(
    actual: FloatArray, expected: FloatArray, floor: float = FRACTION_FLOOR
) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between floored bin fractions.

    Equal to ``scipy.spatial.distance.jensenshannon(max(a, floor), max(e, floor), base=2)``.
    """
    p = np.maximum(actual, floor)
    q = np.maximum(expected, floor)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)
    # p, q > 0 after flooring, so every log is finite.
    js = 0.5 * (np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m))) / math.log(2.0)
    return float(math.sqrt(max(js, 0.0)))


def wasserstein_sorted(window_sorted: FloatArray, ref_sorted: FloatArray, scale: float) -> float:
    """First Wasserstein distance between two sorted samples, divided by ``scale``.

    Equal to ``scipy.stats.wasserstein_distance(window, ref) / scale`` within 1e-9
    relative (``scale`` <= 0 means no normalisation: the raw distance, in the column's
    units). Both samples must be non-empty and sorted ascending. Builds the reference's
    prefix sums on every call: scoring many windows against one reference goes through
    :func:`reference_prefix_sums` once and :func:`wasserstein_from_counts` per window.
    """
    center, prefix = reference_prefix_sums(ref_sorted)
    uniq, at_most = distinct_sorted(window_sorted)
    below = np.searchsorted(ref_sorted, uniq, side="left")
    upto = np.searchsorted(ref_sorted, uniq, side="right")
    dist = wasserstein_from_counts(uniq, at_most, below, upto, ref_sorted, prefix, center)
    return dist / scale if scale > 0 else dist


def wasserstein_from_counts(
    uniq: FloatArray,
    at_most: npt.NDArray[np.intp],
    ref_below: npt.NDArray[np.intp],
    ref_upto: npt.NDArray[np.intp],
    ref_sorted: FloatArray,
    prefix: FloatArray,
    center: float,
) -> float:
    """Raw W1 = integral |F_w - F_b| from the window's distinct values (the counts of
    :func:`ks_from_counts`) and the reference's prefix sums: O(k) for k distinct window
    values, never touching every reference value.

    Between consecutive window values u_k < u_{k+1}, F_w is the constant c = a/n and F_b
    steps through the reference points inside; the segments where F_b < c and where
    F_b >= c are each a closed form in two prefix sums (summation by parts), with every
    count kept as an integer (n m F is exact) so that equal ECDFs give exactly 0. The
    two tails (before u_0 and after the last window value) are closed forms too. The
    summation order differs from scipy's: results agree within 1e-9 relative (tests).
    """
    n = int(at_most[-1])
    m = int(ref_sorted.shape[0])
    uc = uniq - center
    # Tails, times n m: below u_0 F_w = 0, above the last window value F_w = 1.
    lo0, hi_last = int(ref_below[0]), int(ref_upto[-1])
    total = n * (lo0 * float(uc[0]) - float(prefix[lo0]))
    total += n * ((float(prefix[m]) - float(prefix[hi_last])) - (m - hi_last) * float(uc[-1]))
    for lo_k, hi_k in _chunks(uniq.shape[0] - 1):
        # Interval [u_k, u_{k+1}): reference points lo..hi-1 lie strictly inside; segment
        # s (s = lo..hi) has F_b = s/m, from x_s (u_k, then r_{s-1}) to x_{s+1}.
        a = at_most[lo_k:hi_k] * m  # n m F_w on the interval, exact
        lo = ref_upto[lo_k:hi_k]
        hi = ref_below[lo_k + 1 : hi_k + 1]
        # First segment with s n >= a, i.e. F_b >= F_w (ceil(a / n), in integers).
        split = np.clip((a + n - 1) // n, lo, hi + 1)
        u_lo, u_hi = uc[lo_k:hi_k], uc[lo_k + 1 : hi_k + 1]
        inner = ref_sorted[np.maximum(split - 1, 0)] - center
        x_split = np.where(split == lo, u_lo, np.where(split == hi + 1, u_hi, inner))
        # Segments lo..split-1 (F_b < F_w): sum (a - s n) len_s
        #   = (a - lo n)(x_split - u_lo) - n sum_{t=lo+1}^{split-1} (x_split - x_t).
        n_left = np.maximum(split - lo - 1, 0)
        left = (a - lo * n) * (x_split - u_lo) - n * (
            n_left * x_split - (prefix[np.maximum(split - 1, lo)] - prefix[lo])
        )
        # Segments split..hi (F_b >= F_w): sum (s n - a) len_s, the same by parts.
        n_right = np.maximum(hi - split, 0)
        right = (split * n - a) * (u_hi - x_split) + n * (
            n_right * u_hi - (prefix[hi] - prefix[np.minimum(split, hi)])
        )
        total += float(np.sum(left + right))
    return total / (float(n) * float(m))


def score_numeric(values: FloatArray, prepared: PreparedNumeric) -> NumericScores | None:
    """All numeric tests of one window column against its prepared baseline.

    ``values`` holds the window's finite values (missing, NaN and ±inf removed by the
    caller). Returns None for an empty window: no statistic is defined on zero values.
    """
    if values.shape[0] == 0:
        return None
    w = np.sort(values)
    d, p = ks_2samp_sorted(w, prepared.ref_sorted)
    actual = bin_fractions_sorted(w, prepared.inner_edges)
    return NumericScores(
        n=int(w.shape[0]),
        ks_statistic=d,
        ks_p_value=p,
        psi=psi(actual, prepared.expected_fractions),
        wasserstein=wasserstein_sorted(w, prepared.ref_sorted, prepared.std),
        jensen_shannon=jensen_shannon(actual, prepared.expected_fractions),
    )
