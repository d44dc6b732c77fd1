"""The registry of drift tests: one frozen definition per test.

Everything downstream iterates over :data:`REGISTRY` - the detection settings (which
test names exist, of which column kinds, their default thresholds and whether they
compute and decide by default), the evaluation (only configured tests are scored), the
Prometheus families (``sinks/metrics.py``), ``check``'s table and JSON and the HTML
report. Adding a test is one :class:`DriftTest` entry here plus its score function
(and its oracle in ``tests/unit/test_stats_conformance.py``); see the README, "How to
add a drift test".

The order of :data:`REGISTRY` is the order tests are listed in: the default test lists
of the settings, the table and report columns, the metric families.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from drift_monitor.stats.categorical import (
    chi2_against_baseline,
    fractions_with_unseen,
)
from drift_monitor.stats.cramervonmises import score_cramervonmises
from drift_monitor.stats.numeric import (
    jensen_shannon,
    ks_from_counts,
    psi,
    wasserstein_from_counts,
)
from drift_monitor.stats.prepared import PreparedCategorical, PreparedNumeric
from drift_monitor.stats.score import CategoryCounts, NumericWindow, Score

#: Column kinds a test can score (prediction columns are scored as their kind).
ColumnKind = Literal["numeric", "categorical"]
NumericScorer = Callable[[PreparedNumeric, NumericWindow], Score]
CategoricalScorer = Callable[[PreparedCategorical, CategoryCounts], Score]


@dataclass(frozen=True, slots=True)
class Levels:
    """A test's default warning and alert levels, compared with its ``effect``
    (alert >= warning >= 0). For a p-value test these are the effect-size floor: the
    test also needs its corrected p-value below ``alpha``."""

    warning: float
    alert: float

    def __post_init__(self) -> None:
        if not 0 <= self.warning <= self.alert:
            raise ValueError(f"levels need 0 <= warning <= alert, got {self}")


#: How a calibrated test's null distribution at the window's size is obtained:
#: ``p_value``: the test's own p-value already is it (KS); ``pooled_chi2``: the chi2 law on
#: sparse-pooled cells; ``table``: the baseline's seeded null tables
#: (:mod:`drift_monitor.stats.calibration`, simulated at ``baseline build``).
NullLaw = Literal["p_value", "pooled_chi2", "table"]


@dataclass(frozen=True, slots=True)
class Calibrated:
    """What ``detection.thresholds.mode: calibrated`` needs of a test.

    ``null``: see :data:`NullLaw`. ``floors``: default effect floors (overridable in
    ``detection.calibration.floors``); None: the test's ``thresholds`` are its floors
    (they already are effect floors, as for KS's D and chi2's Cohen's w).
    ``rare_empty_bound``: add the bound on empty-bin events too rare for the Monte Carlo
    (PSI, whose log-ratio explodes on an empty bin).
    """

    null: NullLaw
    floors: Levels | None = None
    rare_empty_bound: bool = False


@dataclass(frozen=True, slots=True)
class DriftTest:
    """One drift test.

    ``name``: the config and JSON name; ``label``: its column header in ``check``'s
    table; ``html_label``: in the HTML report; ``effect_label``: how the report names
    the effect when it is not the statistic itself (None: it is).
    ``statistic_metric``/``p_value_metric``: Prometheus family names without the
    ``drift_monitor_`` prefix, with their HELP texts (``p_value_metric`` is None exactly
    when the test has no p-value). ``levels``: default thresholds.
    ``computed_by_default``/``decides_by_default``: whether a column of a kind the test
    supports computes and reports it, and whether its status decides the column, when
    the settings do not say otherwise. ``table_p_value``: ``check``'s table shows the
    p-value next to the statistic. ``numeric``/``categorical``: the score functions,
    None for a kind the test does not support (at least one is set).
    ``calibration``: how the test is calibrated (see :class:`Calibrated`); None: it has
    no calibration and, in calibrated mode, is decided as in fixed mode (its own
    p-value below ``alpha`` and its effect at its ``thresholds``), outside the
    calibrated false-alarm budget.
    """

    name: str
    label: str
    html_label: str
    statistic_metric: str
    statistic_help: str
    levels: Levels
    computed_by_default: bool
    decides_by_default: bool
    numeric: NumericScorer | None = None
    categorical: CategoricalScorer | None = None
    p_value_metric: str | None = None
    p_value_help: str | None = None
    effect_label: str | None = None
    table_p_value: bool = False
    calibration: Calibrated | None = None

    def __post_init__(self) -> None:
        if self.numeric is None and self.categorical is None:
            raise ValueError(f"drift test {self.name!r} scores no column kind")
        if (self.p_value_metric is None) != (self.p_value_help is None):
            raise ValueError(f"drift test {self.name!r}: p-value metric and help go together")
        if (
            self.calibration is not None
            and self.calibration.null == "p_value"
            and not self.has_p_value
        ):
            raise ValueError(f"drift test {self.name!r} is calibrated by a p-value it lacks")
        if self.decides_by_default and not self.computed_by_default:
            raise ValueError(f"drift test {self.name!r} decides by default but is not computed")

    @property
    def has_p_value(self) -> bool:
        """Whether the test has a p-value (corrected across columns, and required below
        ``alpha`` for the test to raise a status)."""
        return self.p_value_metric is not None

    @property
    def kinds(self) -> frozenset[ColumnKind]:
        """The column kinds this test scores."""
        out: set[ColumnKind] = set()
        if self.numeric is not None:
            out.add("numeric")
        if self.categorical is not None:
            out.add("categorical")
        return frozenset(out)

    def supports(self, kind: str) -> bool:
        """Whether the test scores columns of ``kind`` (``numeric``/``categorical``)."""
        return kind in self.kinds


# -- score functions of the SPEC's tests (the math lives in numeric.py / categorical.py)


def _ks(prep: PreparedNumeric, w: NumericWindow) -> Score:
    _, at_most = w.distinct()
    d, p = ks_from_counts(at_most, *w.reference_ranks(prep), int(prep.ref_sorted.shape[0]))
    return Score(d, p, d)


def _psi_numeric(prep: PreparedNumeric, w: NumericWindow) -> Score:
    value = psi(w.bin_fractions(prep), prep.expected_fractions)
    return Score(value, None, value)


def _js_numeric(prep: PreparedNumeric, w: NumericWindow) -> Score:
    value = jensen_shannon(w.bin_fractions(prep), prep.expected_fractions)
    return Score(value, None, value)


def _wasserstein(prep: PreparedNumeric, w: NumericWindow) -> Score:
    uniq, at_most = w.distinct()
    below, upto = w.reference_ranks(prep)
    raw = wasserstein_from_counts(
        uniq, at_most, below, upto, prep.ref_sorted, prep.ref_prefix, prep.center
    )
    value = raw / prep.std if prep.std > 0 else raw
    return Score(value, None, value)


def _chi2(prep: PreparedCategorical, c: CategoryCounts) -> Score:
    stat, p = chi2_against_baseline(c.counts, c.unseen, prep)
    # Decided on Cohen's w = sqrt(chi2 / n): chi2 itself grows with n, so a fixed
    # level on it would page on trivial differences in large windows.
    return Score(stat, p, math.sqrt(stat / c.n))


def _psi_categorical(prep: PreparedCategorical, c: CategoryCounts) -> Score:
    value = psi(*fractions_with_unseen(c.counts, c.unseen, prep))
    return Score(value, None, value)


def _js_categorical(prep: PreparedCategorical, c: CategoryCounts) -> Score:
    value = jensen_shannon(*fractions_with_unseen(c.counts, c.unseen, prep))
    return Score(value, None, value)


REGISTRY: tuple[DriftTest, ...] = (
    DriftTest(
        name="ks",
        label="KS D",
        html_label="KS D",
        statistic_metric="feature_ks_statistic",
        statistic_help="Two-sample Kolmogorov-Smirnov D against the baseline sample",
        p_value_metric="feature_ks_p_value",
        p_value_help="KS p-value (uncorrected)",
        levels=Levels(warning=0.05, alert=0.1),
        computed_by_default=True,
        decides_by_default=True,
        numeric=_ks,
        table_p_value=True,
        calibration=Calibrated("p_value"),
    ),
    DriftTest(
        name="chi2",
        label="CHI2",
        html_label="χ²",
        statistic_metric="feature_chi2_statistic",
        statistic_help="Chi-square goodness-of-fit statistic against baseline shares",
        p_value_metric="feature_chi2_p_value",
        p_value_help="Chi-square p-value (uncorrected)",
        levels=Levels(warning=0.1, alert=0.3),
        computed_by_default=True,
        decides_by_default=True,
        categorical=_chi2,
        effect_label="w",
        calibration=Calibrated("pooled_chi2"),
    ),
    DriftTest(
        name="psi",
        label="PSI",
        html_label="PSI",
        statistic_metric="feature_psi",
        statistic_help="Population Stability Index of the feature in the last window",
        levels=Levels(warning=0.1, alert=0.25),
        computed_by_default=True,
        decides_by_default=True,
        numeric=_psi_numeric,
        categorical=_psi_categorical,
        # Floors at or below the fixed levels: calibrated mode is never less sensitive
        # than fixed at large n.
        calibration=Calibrated("table", Levels(warning=0.05, alert=0.1), rare_empty_bound=True),
    ),
    DriftTest(
        name="wasserstein",
        label="W1/std",
        html_label="W1/std",
        statistic_metric="feature_wasserstein",
        statistic_help="Wasserstein-1 distance divided by the baseline std",
        levels=Levels(warning=0.1, alert=0.25),
        computed_by_default=True,
        decides_by_default=False,
        numeric=_wasserstein,
        calibration=Calibrated("table", Levels(warning=0.05, alert=0.1)),
    ),
    DriftTest(
        name="jensen_shannon",
        label="JS",
        html_label="JS",
        statistic_metric="feature_jensen_shannon",
        statistic_help="Jensen-Shannon distance (base 2) over the PSI bins/categories",
        levels=Levels(warning=0.1, alert=0.2),
        computed_by_default=True,
        decides_by_default=False,
        numeric=_js_numeric,
        categorical=_js_categorical,
        calibration=Calibrated("table", Levels(warning=0.05, alert=0.1)),
    ),
    DriftTest(
        name="cramervonmises",
        label="CVM T",
        html_label="CvM T",
        statistic_metric="feature_cramervonmises_statistic",
        statistic_help="Two-sample Cramer-von Mises T against the baseline sample",
        p_value_metric="feature_cramervonmises_p_value",
        p_value_help="Cramer-von Mises p-value (uncorrected)",
        # Decided (when made deciding) on omega^2 = T (n + m) / (n m), the distance T
        # scales by n: 0.0015 / 0.006 is what a normal shift at KS D 0.05 / 0.1 gives.
        levels=Levels(warning=0.0015, alert=0.006),
        computed_by_default=False,
        decides_by_default=False,
        numeric=score_cramervonmises,
        effect_label="ω²",
        table_p_value=True,
        # No calibration: its exact/asymptotic p-value is decided as in fixed mode.
    ),
)

_BY_NAME = MappingProxyType({t.name: t for t in REGISTRY})
if len(_BY_NAME) != len(REGISTRY):  # pragma: no cover - a registry edit mistake
    raise RuntimeError("two drift tests share a name")


def drift_test(name: str) -> DriftTest:
    """The registered test called ``name``; ``KeyError`` naming the known tests."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a drift test (known: {', '.join(_BY_NAME)})") from None


def registered_names() -> tuple[str, ...]:
    """Every registered test name, in registry order."""
    return tuple(_BY_NAME)


def for_kind(kind: str) -> Iterator[DriftTest]:
    """The registered tests that score columns of ``kind``, in registry order."""
    return (t for t in REGISTRY if t.supports(kind))
