"""Categorical column statistics: chi-square goodness of fit, PSI, Jensen–Shannon, unseen ratio.

Window values are strings. Categories absent from the baseline are pooled into one
``__unseen__`` bucket (SPEC):

- ``chi2``: ``scipy.stats.chisquare(counts, baseline_proportions * n)`` over the baseline
  categories; when unseen values occur, an ``__unseen__`` bucket is appended with its
  proportion floored at 1e-4 and all proportions renormalised, so a new category gives
  a finite statistic, never inf or NaN.
- ``psi`` and ``jensen_shannon``: over the baseline categories plus ``__unseen__``, all
  fractions floored at 1e-4 (as for numeric columns).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from drift_monitor.stats.numeric import FRACTION_FLOOR, jensen_shannon, psi
from drift_monitor.stats.prepared import PreparedCategorical

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

#: Name of the bucket that pools categories never seen in the baseline.
UNSEEN = "__unseen__"
#: Name of the bucket a baseline pools its rarest categories into (cardinality cap).
OTHER = "__other__"


def category_key(value: object) -> str | None:
    """The string a categorical value is compared as, or None for a missing value.

    The same rule applies to training data and to events, so ``3``, ``3.0`` and ``"3"``
    are one category: bools become ``"true"``/``"false"``, integral floats lose their
    ``.0``, other numbers use ``repr``; None, NaN and pandas' NA/NaT are missing.
    """
    # pandas' nullable dtypes (string, Int64, boolean) and datetimes hand out NA/NaT.
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            return None
        if f.is_integer():
            return str(int(f))
        return repr(f)
    return str(value)


@dataclass(frozen=True, slots=True)
class CategoricalScores:
    """Every categorical test on one window of one column (missing values removed)."""

    n: int
    chi2_statistic: float
    chi2_p_value: float
    psi: float
    jensen_shannon: float
    unseen_ratio: float
    #: window counts per baseline category (aligned with ``PreparedCategorical.categories``)
    counts: tuple[int, ...]
    unseen_count: int


def chi2_goodness_of_fit(counts: FloatArray, proportions: FloatArray) -> tuple[float, float]:
    """Pearson chi-square of observed ``counts`` against ``proportions * counts.sum()``.

    Equal to ``scipy.stats.chisquare(counts, proportions * n)`` with k - 1 degrees of
    freedom. ``proportions`` must be > 0 and sum to 1. With a single category the
    statistic is 0 and the p-value 1 (there is nothing to compare); n = 0 gives (0, 1).
    """
    n = float(counts.sum())
    k = counts.shape[0]
    if n == 0 or k < 2:
        return 0.0, 1.0
    expected = proportions * n
    stat = float(np.sum((counts - expected) ** 2 / expected))
    # chi2.sf's own function (the same float, without rv_continuous's ~20 us overhead).
    return stat, float(special.chdtrc(k - 1, stat))


def encode_categories(values: Iterable[object], prepared: PreparedCategorical) -> IntArray:
    """Category codes of raw values: ``0..k-1`` the baseline categories, ``k`` unseen,
    ``-1`` missing (None/NaN/NA). Values are normalised with :func:`category_key`; when
    the baseline pooled its tail into ``__other__``, values outside it code as
    ``__other__``.

    Vectorised: the values are factorised in C (pandas' hash table) and only the
    distinct values go through :func:`category_key`, so a 100 000-value column of a few
    hundred categories costs milliseconds, not a Python call per value. Inputs mixing
    kinds that compare equal across types (``True == 1 == 1.0``, which a hash table
    would merge although ``category_key`` tells ``true`` from ``1``) take the value by
    value path (so does an input of any other kind of value).
    """
    index = prepared.index
    k = len(prepared.categories)
    fallback = index.get(OTHER, k) if prepared.pooled_other else k
    data: pd.Series | npt.NDArray[np.object_] = (
        values
        if isinstance(values, pd.Series) and values.dtype != object
        else _object_array(values)
    )
    if len(data) == 0:
        return np.empty(0, dtype=np.int32)
    if isinstance(data, np.ndarray) and not _hashes_like_keys(data):
        codes = [-1 if (key := category_key(v)) is None else index.get(key, fallback) for v in data]
        return np.asarray(codes, dtype=np.int32)
    positions, uniques = pd.factorize(data, use_na_sentinel=True)
    table = np.empty(len(uniques) + 1, dtype=np.int32)
    for i, v in enumerate(uniques):
        key = category_key(v)
        table[i] = -1 if key is None else index.get(key, fallback)
    table[-1] = -1  # factorize's NA sentinel (-1) indexes the last slot
    out: IntArray = table[np.asarray(positions)]
    return out


def _hashes_like_keys(values: npt.NDArray[np.object_]) -> bool:
    """Whether hashing ``values`` merges only values :func:`category_key` merges too:
    one kind of value (pandas' own inference, in C), or ints mixed with floats (3 and
    3.0 are both category "3"). Typed (non-object) Series always qualify."""
    return pd.api.types.infer_dtype(values, skipna=True) in _HASHABLE_KINDS


#: ``pandas.api.types.infer_dtype`` kinds whose values hash as ``category_key`` tells
#: them apart (one Python type each, or ints mixed with floats: 3 and 3.0 are both
#: category "3", so merging them is right).
_HASHABLE_KINDS = frozenset(
    {"string", "empty", "integer", "floating", "mixed-integer-float", "boolean"}
)


def _object_array(values: Iterable[object]) -> npt.NDArray[np.object_]:
    """``values`` as a 1-d object array (no copy for an object ndarray)."""
    if isinstance(values, pd.Series | pd.Index):
        as_series: npt.NDArray[np.object_] = values.to_numpy(dtype=object)
        return as_series
    if isinstance(values, np.ndarray) and values.dtype == object and values.ndim == 1:
        return values
    items = values if isinstance(values, list | tuple) else list(values)
    # Filled element by element (not np.array(items)): a list of tuples or lists must
    # stay one object per value, not become a 2-d array.
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def tally_codes(codes: IntArray, k: int) -> tuple[npt.NDArray[np.int64], int]:
    """(counts per baseline category, unseen count) of category codes (see
    :func:`encode_categories`); missing codes (-1) are ignored."""
    present = codes[codes >= 0]
    counts = np.bincount(present, minlength=k + 1).astype(np.int64)
    return counts[:k], int(counts[k])


def score_categorical(
    values: Iterable[object], prepared: PreparedCategorical
) -> CategoricalScores | None:
    """All categorical tests of raw window values against the prepared baseline.

    Missing values (None/NaN) are ignored. Returns None when no value is present.
    """
    counts, unseen = tally_codes(encode_categories(values, prepared), len(prepared.categories))
    return score_counts(counts, unseen, prepared)


def score_counts(
    counts: npt.NDArray[np.int64], unseen: int, prepared: PreparedCategorical
) -> CategoricalScores | None:
    """The categorical tests from already-tallied counts (see :func:`tally_codes`)."""
    n = int(counts.sum()) + unseen
    if n == 0:
        return None
    stat, p = chi2_against_baseline(counts, unseen, prepared)
    actual, expected_u = fractions_with_unseen(counts, unseen, prepared)
    return CategoricalScores(
        n=n,
        chi2_statistic=stat,
        chi2_p_value=p,
        psi=psi(actual, expected_u),
        jensen_shannon=jensen_shannon(actual, expected_u),
        unseen_ratio=unseen / n,
        counts=tuple(int(c) for c in counts),
        unseen_count=unseen,
    )


def chi2_against_baseline(
    counts: npt.NDArray[np.int64], unseen: int, prepared: PreparedCategorical
) -> tuple[float, float]:
    """SPEC chi-square of tallied counts: goodness of fit to the baseline proportions,
    with an ``__unseen__`` bucket (proportion floored at 1e-4, all renormalised) when
    unseen values occur. (0, 1) for an empty tally."""
    expected = prepared.expected_fractions
    if unseen > 0:
        obs = np.append(counts, unseen).astype(np.float64)
        props = np.append(expected, FRACTION_FLOOR)
        props = props / props.sum()
    else:
        obs = counts.astype(np.float64)
        props = expected
    return chi2_goodness_of_fit(obs, props)


def fractions_with_unseen(
    counts: npt.NDArray[np.int64], unseen: int, prepared: PreparedCategorical
) -> tuple[FloatArray, FloatArray]:
    """(window, baseline) fractions over the baseline categories plus ``__unseen__``
    (the baseline's unseen fraction is 0): what PSI and Jensen–Shannon compare. The
    tally must not be empty."""
    n = int(counts.sum()) + unseen
    actual = np.append(counts, unseen).astype(np.float64) / n
    return actual, np.append(prepared.expected_fractions, 0.0)
