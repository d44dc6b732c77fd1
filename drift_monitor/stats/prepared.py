"""Per-column baseline data prepared once per baseline load.

Scoring a window must be cheap, so whatever depends only on the baseline (sorted
reference sample, PSI edges, expected fractions, category lookup) is computed here,
once, and reused for every window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def reference_prefix_sums(ref_sorted: FloatArray) -> tuple[float, FloatArray]:
    """``(center, prefix)`` for ``numeric.wasserstein_from_counts``: ``prefix[i]`` is the
    sum of the first ``i`` values of ``ref_sorted - center`` (``center``: its middle value),
    accumulated in extended precision and rounded once, so that differences of prefix
    sums lose no more than the data's own rounding. Centring keeps them small for data
    far from zero (timestamps, large amounts)."""
    m = int(ref_sorted.shape[0])
    center = float(ref_sorted[m // 2]) if m else 0.0
    prefix = np.empty(m + 1, dtype=np.float64)
    prefix[0] = 0.0
    # longdouble is 80-bit on x86-64 Linux; where it is plain double the sums are
    # ordinary cumulative sums (the 1e-9 promise then rests on the centring alone).
    prefix[1:] = np.cumsum((ref_sorted - center).astype(np.longdouble))
    return center, prefix


#: :attr:`PreparedNumeric.ref_distinct` is kept when the reference has at most 1/this
#: as many distinct values as values
DISTINCT_SHARE = 8


def distinct_sorted(values_sorted: FloatArray) -> tuple[FloatArray, npt.NDArray[np.intp]]:
    """(distinct values, #(values <= each)) of a sorted, non-empty array, in O(n)."""
    starts = np.flatnonzero(values_sorted[1:] != values_sorted[:-1]) + 1
    uniq = values_sorted[np.concatenate(([0], starts))]
    return uniq, np.append(starts, values_sorted.shape[0])


@dataclass(frozen=True, slots=True)
class PreparedNumeric:
    """A numeric column's baseline, ready for scoring.

    ``ref_sorted``: the reference sample sorted ascending (finite values only);
    ``inner_edges``: the PSI bin edges without the outer -inf/+inf;
    ``expected_fractions``: baseline fraction per bin (``len(inner_edges) + 1``);
    ``std``: baseline standard deviation used to normalise Wasserstein (0 = none);
    ``center``/``ref_prefix``: prefix sums of ``ref_sorted - center`` (length n + 1),
    so that Wasserstein costs O(window) per window, not O(reference) (see
    :func:`reference_prefix_sums`).
    """

    ref_sorted: FloatArray
    inner_edges: FloatArray
    expected_fractions: FloatArray
    std: float
    center: float = 0.0
    ref_prefix: FloatArray = field(default_factory=lambda: np.zeros(1), repr=False)
    #: where ``ref_sorted`` has at most 1/8 as many distinct values as values (rounded or
    #: whole numbers): those values (then NaN) and #(ref <= each) (then n), for
    #: :meth:`ranks`; else empty (they would cost memory and save no search)
    ref_distinct: FloatArray = field(default_factory=lambda: np.empty(0), repr=False)
    ref_upto: npt.NDArray[np.intp] = field(
        default_factory=lambda: np.empty(0, dtype=np.intp), repr=False
    )

    @classmethod
    def build(
        cls,
        reference_sample: npt.ArrayLike,
        inner_edges: npt.ArrayLike,
        expected_fractions: npt.ArrayLike,
        std: float,
    ) -> PreparedNumeric:
        """Sort and freeze the arrays. Raises ValueError on an empty reference sample or
        on edges/fractions of inconsistent length."""
        ref = np.sort(np.asarray(reference_sample, dtype=np.float64))
        edges = np.asarray(inner_edges, dtype=np.float64)
        fractions = np.asarray(expected_fractions, dtype=np.float64)
        if ref.shape[0] == 0:
            raise ValueError("empty reference sample")
        if fractions.shape[0] != edges.shape[0] + 1:
            raise ValueError("expected_fractions must have one more entry than inner_edges")
        center, prefix = reference_prefix_sums(ref)
        uniq, upto = distinct_sorted(ref)
        if uniq.shape[0] * DISTINCT_SHARE <= ref.shape[0]:
            distinct, upto = np.append(uniq, np.nan), np.append(upto, ref.shape[0])
        else:
            distinct, upto = np.empty(0), np.empty(0, dtype=np.intp)
        for arr in (ref, edges, fractions, prefix, distinct, upto):
            arr.setflags(write=False)
        std = float(std) if np.isfinite(std) else 0.0
        return cls(ref, edges, fractions, std, center, prefix, distinct, upto)

    def ranks(self, values: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(#(ref < v), #(ref <= v)) for each of ``values`` (distinct, ascending,
        finite): the two ``np.searchsorted(ref_sorted, values, side=left/right)``, from
        one search into the reference's distinct values where they are few (a rounded
        feature: a few thousand, where the two searches walked 100 000)."""
        if not self.ref_distinct.shape[0]:
            ref = self.ref_sorted
            return np.searchsorted(ref, values, "left"), np.searchsorted(ref, values, "right")
        k = np.searchsorted(self.ref_distinct[:-1], values, side="left")
        # the reference values below v are those below its k-th distinct value (the
        # first >= v): #(ref <= the (k-1)-th), 0 for k = 0
        below = np.where(k > 0, self.ref_upto[k - 1], 0)
        hit = self.ref_distinct[k] == values  # the padding NaN is never equal
        return below, np.where(hit, self.ref_upto[k], below)


@dataclass(frozen=True, slots=True)
class PreparedCategorical:
    """A categorical column's baseline, ready for scoring.

    ``categories``: the baseline's categories (strings) in a fixed order;
    ``expected_fractions``: their baseline proportions (sum 1);
    ``pooled_other``: when the baseline pooled its rarest categories into ``__other__``
    (a cap on cardinality), values outside ``categories`` count as ``__other__``
    rather than unseen, so unseen values cannot be told apart for that column.
    """

    categories: tuple[str, ...]
    expected_fractions: FloatArray
    pooled_other: bool = False
    index: dict[str, int] = field(default_factory=dict, compare=False)

    @classmethod
    def build(
        cls, categories: list[str], expected_fractions: npt.ArrayLike, pooled_other: bool = False
    ) -> PreparedCategorical:
        """Freeze categories and proportions; ValueError when lengths differ or empty."""
        fractions = np.asarray(expected_fractions, dtype=np.float64)
        if len(categories) == 0 or fractions.shape[0] != len(categories):
            raise ValueError("categories and expected_fractions must be non-empty and aligned")
        fractions.setflags(write=False)
        index = {c: i for i, c in enumerate(categories)}
        return cls(tuple(categories), fractions, pooled_other, index)
