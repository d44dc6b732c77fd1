"""Drift statistics: pure functions of numpy arrays (no I/O, no clock, no globals).

Everything that depends only on the baseline is prepared once (:mod:`.prepared`), so
that scoring a window is a handful of vectorised numpy calls per column.
"""

from drift_monitor.stats.categorical import (
    UNSEEN,
    CategoricalScores,
    category_key,
    chi2_goodness_of_fit,
    encode_categories,
    score_categorical,
    tally_codes,
)
from drift_monitor.stats.numeric import (
    FRACTION_FLOOR,
    NumericScores,
    bin_fractions,
    jensen_shannon,
    ks_2samp_sorted,
    psi,
    score_numeric,
    wasserstein_sorted,
)
from drift_monitor.stats.prepared import PreparedCategorical, PreparedNumeric
from drift_monitor.stats.registry import REGISTRY, DriftTest, Levels, drift_test, for_kind
from drift_monitor.stats.score import CategoryCounts, NumericWindow, Score

__all__ = [
    "FRACTION_FLOOR",
    "REGISTRY",
    "UNSEEN",
    "CategoricalScores",
    "CategoryCounts",
    "DriftTest",
    "Levels",
    "NumericScores",
    "NumericWindow",
    "PreparedCategorical",
    "PreparedNumeric",
    "Score",
    "bin_fractions",
    "category_key",
    "chi2_goodness_of_fit",
    "drift_test",
    "encode_categories",
    "for_kind",
    "jensen_shannon",
    "ks_2samp_sorted",
    "psi",
    "score_categorical",
    "score_numeric",
    "tally_codes",
    "wasserstein_sorted",
]
