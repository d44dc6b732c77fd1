"""The baseline data model: what a model's training data looked like, per column.

A :class:`Baseline` is immutable. :meth:`Baseline.prepare` turns it into the
per-column structures the statistics need (sorted reference sample, bin edges,
category index), once per load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from drift_monitor.stats.calibration import Calibration
from drift_monitor.stats.prepared import PreparedCategorical, PreparedNumeric

if TYPE_CHECKING:  # labels.baseline imports this module
    from drift_monitor.baseline.performance import BaselinePerformance
    from drift_monitor.baseline.segments import SegmentBaselines

FloatArray = npt.NDArray[np.float64]
Kind = Literal["numeric", "categorical"]
Role = Literal["feature", "prediction"]

#: Version of the on-disk format written by this release (see baseline/store.py).
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class NumericProfile:
    """Numeric column summary.

    ``quantile_probs``/``quantile_values``: the quantile grid (0 %, 1 % … 100 %) of the
    full training column; ``inner_edges``/``expected_fractions``: PSI bins (outer edges
    -inf/+inf implied); ``reference_sample``: a seeded, capped sample, sorted ascending.
    Statistics are over finite values; missing, NaN and ±inf count as missing.
    """

    mean: float
    std: float
    minimum: float
    maximum: float
    quantile_probs: FloatArray
    quantile_values: FloatArray
    inner_edges: FloatArray
    expected_fractions: FloatArray
    reference_sample: FloatArray


@dataclass(frozen=True, slots=True)
class CategoricalProfile:
    """Categorical column summary: categories (as strings, most frequent first) with
    their training counts. ``pooled_other`` is True when the tail beyond
    ``max_categories`` was pooled into ``__other__``; ``distinct`` counts the
    categories before pooling."""

    categories: tuple[str, ...]
    counts: tuple[int, ...]
    pooled_other: bool
    distinct: int

    @property
    def fractions(self) -> FloatArray:
        """Training proportion of each category (sums to 1; empty when no values)."""
        c = np.asarray(self.counts, dtype=np.float64)
        total = c.sum()
        return c / total if total > 0 else c


@dataclass(frozen=True, slots=True, eq=False)
class ColumnBaseline:
    """One column: its kind (how it is tested), role (feature or prediction), row count
    in training, the ratio of missing values, and its profile (None when every training
    value was missing: such a column only reports its missing ratio)."""

    name: str
    kind: Kind
    role: Role
    rows: int
    missing_ratio: float
    profile: NumericProfile | CategoricalProfile | None

    @property
    def reported_kind(self) -> str:
        """The ``kind`` label in metrics and reports: ``prediction`` for prediction
        columns, else ``numeric`` or ``categorical``."""
        return "prediction" if self.role == "prediction" else self.kind


PreparedColumn = PreparedNumeric | PreparedCategorical


@dataclass(frozen=True, slots=True, eq=False)
class Baseline:
    """A model's training baseline, as built by :func:`drift_monitor.build_baseline`.

    Compared by identity (it holds numpy arrays); compare ``checksum`` for content.

    ``created_at`` is an RFC 3339 UTC string; ``build`` holds the build parameters
    (sample size, seed, bins, …); ``checksum`` is the content checksum of the file it
    was loaded from or saved to (``sha256:<hex>``), empty for a fresh in-memory build.
    ``calibration``: the null tables of calibrated thresholds (None for a file written
    before calibration existed; see :mod:`drift_monitor.baseline.calibrate`).
    ``performance``: the model's metrics on a labelled validation set (``--label``), or
    None. ``segments``: per-segment baselines (``--segment-by``), or None.
    """

    model: str
    version: str
    created_at: str
    source: str
    build: dict[str, Any]
    columns: tuple[ColumnBaseline, ...]
    schema_version: int = SCHEMA_VERSION
    checksum: str = ""
    calibration: Calibration | None = None
    performance: BaselinePerformance | None = None
    segments: SegmentBaselines | None = None
    _prepared: dict[str, PreparedColumn] = field(default_factory=dict, compare=False, repr=False)
    _lazy_calibration: list[Calibration] = field(default_factory=list, compare=False, repr=False)

    def null_tables(self) -> Calibration:
        """The calibration tables: the stored ones, else computed once from this baseline
        (deterministic: the numbers a rebuild would store) and cached."""
        if self.calibration is not None:
            return self.calibration
        if not self._lazy_calibration:
            from drift_monitor.baseline.calibrate import calibrate  # noqa: PLC0415 - cycle

            self._lazy_calibration.append(calibrate(self))
        return self._lazy_calibration[0]

    def column(self, name: str) -> ColumnBaseline:
        """The column called ``name``; KeyError when the baseline has no such column."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Column names in baseline order."""
        return [c.name for c in self.columns]

    @property
    def prediction_columns(self) -> list[str]:
        """Names of the columns with role ``prediction``."""
        return [c.name for c in self.columns if c.role == "prediction"]

    def prepared(self) -> dict[str, PreparedColumn]:
        """Per-column scoring structures, built on first call and cached.

        Columns without a profile (all values missing in training) are absent.
        """
        if not self._prepared:
            for c in self.columns:
                p = c.profile
                if isinstance(p, NumericProfile) and p.reference_sample.shape[0] > 0:
                    self._prepared[c.name] = PreparedNumeric.build(
                        p.reference_sample, p.inner_edges, p.expected_fractions, p.std
                    )
                elif isinstance(p, CategoricalProfile) and p.categories:
                    self._prepared[c.name] = PreparedCategorical.build(
                        list(p.categories), p.fractions, p.pooled_other
                    )
        return self._prepared
