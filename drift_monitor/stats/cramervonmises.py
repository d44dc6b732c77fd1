"""Two-sample Cramér–von Mises test of a sorted window against the sorted reference.

Statistic and p-value equal ``scipy.stats.cramervonmises_2samp(window, reference)``
(``method="auto"``: the exact distribution when both samples have at most 20 values,
else the asymptotic one), computed from the same floats in the same order, so the
numbers are identical, not merely close. Ties get mid-ranks, as in scipy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from drift_monitor.stats.prepared import PreparedNumeric
from drift_monitor.stats.score import NumericWindow, Score

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# scipy's method="auto" is exact when neither sample has more values than this.
_EXACT_MAX_N = 20


def cramervonmises_2samp_sorted(
    window_sorted: FloatArray, ref_sorted: FloatArray
) -> tuple[float, float]:
    """``(T, p_value)`` of the two-sample Cramér–von Mises test.

    T = U / (n m (n + m)) - (4 n m - 1) / (6 (n + m)) with U from the mid-ranks of both
    samples in the pooled sample (Anderson 1962), as scipy defines it. Both inputs must
    be sorted ascending, finite and non-empty (``ValueError`` otherwise). scipy returns NaN
    for a sample of one value; here the same formulas apply to it (T is defined; the
    p-value is the same approximation scipy uses for larger samples).

    Cost: O(n log m) searches of the window into the reference and O(n + m) vector
    work; the pooled sample is never sorted (the reference's ranks among itself are
    read off its runs of equal values).
    """
    nx = int(window_sorted.shape[0])
    ny = int(ref_sorted.shape[0])
    if nx == 0 or ny == 0:
        raise ValueError("cramervonmises_2samp_sorted needs two non-empty samples")
    # Twice the pooled mid-rank of each value: #(pooled < v) + #(pooled <= v) + 1.
    # Integers, so every rank and rank difference below is exact in float64, which
    # makes the squared differences - and their sums - the very floats scipy forms.
    two_rx = (
        np.searchsorted(window_sorted, window_sorted, side="left")
        + np.searchsorted(window_sorted, window_sorted, side="right")
        + np.searchsorted(ref_sorted, window_sorted, side="left")
        + np.searchsorted(ref_sorted, window_sorted, side="right")
        + 1
    )
    two_ry = _own_ranks_twice(ref_sorted) + _window_counts_twice(window_sorted, ref_sorted)
    dx = (two_rx - 2 * np.arange(1, nx + 1)) / 2.0
    dy = (two_ry - 2 * np.arange(1, ny + 1)) / 2.0
    u = nx * np.sum(dx**2) + ny * np.sum(dy**2)
    k, n = nx * ny, nx + ny
    t = u / (k * n) - (4 * k - 1) / (6 * n)
    # scipy exposes no public function for the p-value given T; we call the helpers
    # cramervonmises_2samp itself uses so the numbers are identical
    # (tests/unit/test_stats_cramervonmises.py pins this against scipy).
    from scipy._lib._array_api import array_namespace  # noqa: PLC0415
    from scipy.stats._hypotests import (  # noqa: PLC0415
        _pval_cvm_2samp_asymptotic,
        _pval_cvm_2samp_exact,
    )

    if max(nx, ny) <= _EXACT_MAX_N:
        p = _pval_cvm_2samp_exact(np.asarray(u), nx, ny)
    else:
        t_arr = np.asarray(t)
        p = _pval_cvm_2samp_asymptotic(t_arr, n, nx, ny, k, xp=array_namespace(t_arr))
    return float(t), float(np.clip(p, 0.0, 1.0))


def _own_ranks_twice(ref_sorted: FloatArray) -> IntArray:
    """For each reference value: #(ref < v) + #(ref <= v) + 1, from its runs of ties."""
    n = ref_sorted.shape[0]
    starts = np.flatnonzero(np.concatenate(([True], ref_sorted[1:] != ref_sorted[:-1])))
    lengths = np.diff(np.append(starts, n))
    out: IntArray = np.repeat(2 * starts + lengths + 1, lengths).astype(np.int64)
    return out


def _window_counts_twice(window_sorted: FloatArray, ref_sorted: FloatArray) -> IntArray:
    """For each reference value v: #(window < v) + #(window <= v).

    Piecewise constant along the sorted reference: equal to a window value u_k on
    [L_k, R_k) (the reference's run of u_k) and to 2 #(window <= u_k) from R_k up to
    L_{k+1}. So the window's distinct values are searched into the reference, not the
    reference into the window.
    """
    uniq, counts = np.unique(window_sorted, return_counts=True)
    le = np.cumsum(counts)  # #(window <= u_k)
    lt = le - counts  # #(window < u_k)
    lo = np.searchsorted(ref_sorted, uniq, side="left")
    hi = np.searchsorted(ref_sorted, uniq, side="right")
    bounds = np.empty(2 * uniq.shape[0] + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-1:2] = lo
    bounds[2:-1:2] = hi
    bounds[-1] = ref_sorted.shape[0]
    values = np.empty(2 * uniq.shape[0] + 1, dtype=np.int64)
    values[0] = 0
    values[1::2] = lt + le
    values[2::2] = 2 * le
    out: IntArray = np.repeat(values, np.diff(bounds))
    return out


def score_cramervonmises(prepared: PreparedNumeric, window: NumericWindow) -> Score:
    """The registry's score: T and its p-value; the effect is the Cramér–von Mises
    distance omega^2 = T (n + m) / (n m) (T itself grows with the sample sizes)."""
    t, p = cramervonmises_2samp_sorted(window.sorted, prepared.ref_sorted)
    nx, ny = window.n, int(prepared.ref_sorted.shape[0])
    return Score(t, p, t * (nx + ny) / (nx * ny))
