"""What a drift test receives and returns.

A numeric test scores a :class:`NumericWindow` (the window's finite values, sorted once
per column and shared by every test of that column); a categorical test scores a
:class:`CategoryCounts` (the window's tally against the baseline categories, counted
once). Both return a :class:`Score`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drift_monitor.stats.numeric import bin_fractions_sorted
from drift_monitor.stats.prepared import PreparedNumeric, distinct_sorted

FloatArray = npt.NDArray[np.float64]
CountArray = npt.NDArray[np.int64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class Score:
    """One test on one window column.

    ``statistic``: the reported number (the metric value); ``p_value``: None for
    distance tests; ``effect``: the quantity the thresholds compare (the statistic
    itself, or an effect size such as Cohen's w for chi-square).
    """

    statistic: float
    p_value: float | None
    effect: float


class NumericWindow:
    """A numeric window column ready for scoring: ``sorted`` holds its finite values
    ascending (non-empty). Derived quantities several tests share (PSI-bin fractions,
    the distinct values and their ranks in the reference, which KS and Wasserstein both
    use) are computed on first use and kept for the other tests of the column: one
    window is scored against one prepared baseline column."""

    __slots__ = ("_distinct", "_fractions", "_ranks", "sorted")

    def __init__(self, sorted_values: FloatArray) -> None:
        if sorted_values.shape[0] == 0:
            raise ValueError("a NumericWindow needs at least one value")
        self.sorted = sorted_values
        self._fractions: FloatArray | None = None
        self._distinct: tuple[FloatArray, IndexArray] | None = None
        self._ranks: tuple[IndexArray, IndexArray] | None = None

    @classmethod
    def of(cls, values: FloatArray) -> NumericWindow:
        """Sort finite, non-empty ``values`` (a copy: the caller's array is untouched)."""
        return cls(np.sort(values))

    @property
    def n(self) -> int:
        """Number of values."""
        return int(self.sorted.shape[0])

    def bin_fractions(self, prepared: PreparedNumeric) -> FloatArray:
        """Fraction of the window in each of ``prepared``'s PSI bins (cached)."""
        if self._fractions is None:
            self._fractions = bin_fractions_sorted(self.sorted, prepared.inner_edges)
        return self._fractions

    def distinct(self) -> tuple[FloatArray, IndexArray]:
        """(distinct values u_k ascending, #(window <= u_k)) (cached)."""
        if self._distinct is None:
            self._distinct = distinct_sorted(self.sorted)
        return self._distinct

    def reference_ranks(self, prepared: PreparedNumeric) -> tuple[IndexArray, IndexArray]:
        """(#(ref < u_k), #(ref <= u_k)) at the distinct values (cached)."""
        if self._ranks is None:
            uniq, _ = self.distinct()
            self._ranks = prepared.ranks(uniq)
        return self._ranks


@dataclass(frozen=True, slots=True)
class CategoryCounts:
    """A categorical window column ready for scoring: ``counts`` per baseline category
    (aligned with ``PreparedCategorical.categories``) and the ``unseen`` count; missing
    values are not counted. ``n`` (present values) is > 0."""

    counts: CountArray
    unseen: int

    @property
    def n(self) -> int:
        """Present values: baseline categories plus unseen."""
        return int(self.counts.sum()) + self.unseen
