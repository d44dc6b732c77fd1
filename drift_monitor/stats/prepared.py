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


@dataclass(frozen=True, slots=True)
class PreparedNumeric:
    """A numeric column's baseline, ready for scoring.

    ``ref_sorted``: the reference sample sorted ascending (finite values only);
    ``inner_edges``: the PSI bin edges without the outer -inf/+inf;
    ``expected_fractions``: baseline fraction per bin (``len(inner_edges) + 1``);
    ``std``: baseline standard deviation used to normalise Wasserstein (0 = none).
    """

    ref_sorted: FloatArray
    inner_edges: FloatArray
    expected_fractions: FloatArray
    std: float

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
        for arr in (ref, edges, fractions):
            arr.setflags(write=False)
        return cls(ref, edges, fractions, float(std) if np.isfinite(std) else 0.0)


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
