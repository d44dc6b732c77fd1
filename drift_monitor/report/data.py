"""What the report plots, computed from a baseline column and a window's values.

Pure functions of arrays: histograms on a common grid, ECDFs with the location of the
largest gap (the KS statistic), PSI-bin fractions and category proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drift_monitor.baseline.model import CategoricalProfile, NumericProfile
from drift_monitor.stats.categorical import UNSEEN, tally_codes
from drift_monitor.stats.numeric import bin_fractions

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

#: Bins of the numeric histogram (continuous columns).
HIST_BINS = 30
#: A numeric column with at most this many distinct values is drawn value by value.
MAX_DISCRETE = 25
#: Categories drawn individually; the rest are pooled into one bar.
TOP_CATEGORIES = 15
#: Points per sample on the ECDF grid.
ECDF_POINTS = 400
#: Histogram and ECDF x range: these quantiles of baseline and window together.
RANGE_QUANTILES = (0.005, 0.995)


@dataclass(frozen=True, slots=True)
class Histogram:
    """Fractions of values per bin of ``edges`` (``len(edges) - 1`` bins, equal width).
    Values outside the range are counted in the first/last bin (``clipped``)."""

    edges: FloatArray
    baseline: FloatArray
    window: FloatArray | None
    clipped: bool


@dataclass(frozen=True, slots=True)
class Discrete:
    """Fractions per distinct value, for numeric columns with few values."""

    values: FloatArray
    baseline: FloatArray
    window: FloatArray | None


@dataclass(frozen=True, slots=True)
class Ecdf:
    """Both ECDFs evaluated on the sorted grid ``x`` (within :func:`value_range`), and
    where they differ most: at ``gap_x`` the baseline is at ``gap_baseline`` and the
    window at ``gap_window`` (``gap_x`` may lie outside the grid's range)."""

    x: FloatArray
    baseline: FloatArray
    window: FloatArray | None
    gap_x: float | None
    gap_baseline: float
    gap_window: float


@dataclass(frozen=True, slots=True)
class PsiBins:
    """The PSI bins: inner edges, baseline (expected) and window fractions per bin."""

    inner_edges: FloatArray
    baseline: FloatArray
    window: FloatArray | None


@dataclass(frozen=True, slots=True)
class NumericPlots:
    """Everything drawn for a numeric column (``discrete`` replaces ``histogram`` for
    columns with few distinct values)."""

    histogram: Histogram | None
    discrete: Discrete | None
    ecdf: Ecdf
    psi: PsiBins
    window_values: int


@dataclass(frozen=True, slots=True)
class CategoricalPlots:
    """Proportions per bar: the top categories, then ``(N more)`` when categories were
    pooled, then ``__unseen__`` when the window has unseen values (``unseen_index``)."""

    labels: tuple[str, ...]
    baseline: FloatArray
    window: FloatArray | None
    unseen_index: int | None
    window_values: int


def numeric_plots(profile: NumericProfile, values: FloatArray | None) -> NumericPlots:
    """Plot data of a numeric column; ``values`` may hold NaN (missing) or be None."""
    ref = profile.reference_sample
    win = np.sort(values[np.isfinite(values)]) if values is not None else np.empty(0)
    w: FloatArray | None = win if win.shape[0] else None
    psi = PsiBins(
        profile.inner_edges,
        profile.expected_fractions,
        bin_fractions(win, profile.inner_edges) if w is not None else None,
    )
    distinct = np.unique(ref)
    if distinct.shape[0] <= MAX_DISCRETE:
        allv = np.unique(np.concatenate([distinct, np.unique(win)]))
        if allv.shape[0] <= MAX_DISCRETE + 5:
            disc = Discrete(allv, _value_fractions(ref, allv), _maybe(w, allv))
            return NumericPlots(None, disc, _ecdf(ref, w), psi, int(win.shape[0]))
    return NumericPlots(_histogram(ref, w), None, _ecdf(ref, w), psi, int(win.shape[0]))


def _maybe(w: FloatArray | None, allv: FloatArray) -> FloatArray | None:
    return _value_fractions(w, allv) if w is not None else None


def _value_fractions(sample: FloatArray, allv: FloatArray) -> FloatArray:
    counts = np.searchsorted(sample, allv, side="right") - np.searchsorted(sample, allv)
    out: FloatArray = counts / max(sample.shape[0], 1)
    return out


def value_range(ref: FloatArray, win: FloatArray | None) -> tuple[float, float]:
    """The x range of the plots: the 0.5 % and 99.5 % quantiles over both samples."""
    lo_q, hi_q = RANGE_QUANTILES
    lo, hi = np.quantile(ref, [lo_q, hi_q])
    if win is not None:
        wlo, whi = np.quantile(win, [lo_q, hi_q])
        lo, hi = min(lo, wlo), max(hi, whi)
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def _histogram(ref: FloatArray, win: FloatArray | None) -> Histogram:
    lo, hi = value_range(ref, win)
    integral = bool(np.all(ref == np.round(ref)))
    if integral:
        # Integer data: bins aligned on whole numbers, so no bin is empty by aliasing.
        start, stop = np.floor(lo) - 0.5, np.ceil(hi) + 0.5
        width = max(1.0, float(np.ceil((stop - start) / HIST_BINS)))
        edges = start + width * np.arange(int(np.ceil((stop - start) / width)) + 1)
    else:
        edges = np.linspace(lo, hi, HIST_BINS + 1)
    clipped = bool(ref[0] < edges[0] or ref[-1] > edges[-1])
    if win is not None:
        clipped = clipped or bool(win[0] < edges[0] or win[-1] > edges[-1])
    return Histogram(
        edges, _bin(ref, edges), _bin(win, edges) if win is not None else None, clipped
    )


def _bin(sample: FloatArray, edges: FloatArray) -> FloatArray:
    counts, _ = np.histogram(np.clip(sample, edges[0], edges[-1]), bins=edges)
    out: FloatArray = counts / max(sample.shape[0], 1)
    return out


def _cdf(sorted_sample: FloatArray, x: FloatArray) -> FloatArray:
    out: FloatArray = np.searchsorted(sorted_sample, x, side="right") / sorted_sample.shape[0]
    return out


def _ecdf(ref: FloatArray, win: FloatArray | None) -> Ecdf:
    def grid(sample: FloatArray) -> FloatArray:
        idx = np.linspace(0, sample.shape[0] - 1, min(ECDF_POINTS, sample.shape[0]))
        g: FloatArray = sample[np.round(idx).astype(np.int64)]
        return g

    lo, hi = value_range(ref, win)
    parts = [grid(ref)] + ([grid(win)] if win is not None else [])
    x = np.unique(np.clip(np.concatenate(parts), lo, hi))
    if win is None:
        return Ecdf(x, _cdf(ref, x), None, None, 0.0, 0.0)
    # The exact sup |F_w - F_b| is attained at one of the sample values.
    allv = np.unique(np.concatenate([ref, win]))
    fb, fw = _cdf(ref, allv), _cdf(win, allv)
    i = int(np.argmax(np.abs(fw - fb)))
    if lo <= allv[i] <= hi:
        x = np.unique(np.append(x, allv[i]))
    return Ecdf(x, _cdf(ref, x), _cdf(win, x), float(allv[i]), float(fb[i]), float(fw[i]))


def categorical_plots(profile: CategoricalProfile, codes: IntArray | None) -> CategoricalPlots:
    """Plot data of a categorical column from the window's category codes (``-1``
    missing, ``0..k-1`` baseline categories, ``k`` unseen); None = all missing."""
    k = len(profile.categories)
    base = profile.fractions
    if codes is None:
        codes = np.full(0, -1, dtype=np.int32)
    counts, unseen = tally_codes(codes, k)
    present = int(counts.sum()) + unseen
    win = counts / present if present else None
    key = np.maximum(base, win) if win is not None else base
    # Largest first; ties keep the baseline's order (most frequent in training first).
    order = sorted(range(k), key=lambda i: (-float(key[i]), i))
    top, rest = order[:TOP_CATEGORIES], order[TOP_CATEGORIES:]
    labels = [profile.categories[i] for i in top]
    b = [float(base[i]) for i in top]
    w = [float(win[i]) for i in top] if win is not None else []
    if rest:
        labels.append(f"({len(rest)} more)")
        b.append(float(base[rest].sum()))
        if win is not None:
            w.append(float(win[rest].sum()))
    unseen_index: int | None = None
    if unseen:
        unseen_index = len(labels)
        labels.append(UNSEEN)
        b.append(0.0)
        w.append(unseen / present)
    return CategoricalPlots(
        tuple(labels),
        np.asarray(b, dtype=np.float64),
        np.asarray(w, dtype=np.float64) if win is not None else None,
        unseen_index,
        present,
    )
