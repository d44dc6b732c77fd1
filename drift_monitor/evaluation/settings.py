"""Detection settings: which tests run, their thresholds, and how statuses combine.

These pydantic models are part of the daemon's config (``detection:`` globally and per
model) and of ``drift-monitor check --config``. Unknown fields are rejected so that a
misspelled field is an error, not a silent default.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator
from typing_extensions import TypeAliasType

from drift_monitor.settings import StrictModel
from drift_monitor.stats.registry import (
    REGISTRY,
    DriftTest,
    Levels,
    drift_test,
    for_kind,
    registered_names,
)


def _registered(name: str) -> str:
    try:
        drift_test(name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    return name


#: A registered drift test's name (see :mod:`drift_monitor.stats.registry`).
TestName = TypeAliasType(
    "TestName",
    Annotated[
        str,
        AfterValidator(_registered),
        WithJsonSchema({"type": "string", "enum": list(registered_names())}),
    ],
)
Correction = Literal["none", "bonferroni", "benjamini_hochberg"]


def _defaults(kind: str, *, deciding: bool) -> list[str]:
    return [
        t.name
        for t in for_kind(kind)
        if (t.decides_by_default if deciding else t.computed_by_default)
    ]


class Threshold(StrictModel):
    """Warning and alert levels of one test's effect (alert >= warning).

    The effect is the statistic itself, except for ``chi2``: the effect size Cohen's
    w = sqrt(chi2 / n), so that a huge window does not alarm on a trivial difference.
    For a test with a p-value (``ks``, ``chi2``) the levels are an effect-size floor:
    the corrected p-value must also be below ``alpha``. Unset, a test's levels are its
    registered defaults (README, "Drift tests").
    """

    warning: float = Field(ge=0)
    alert: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.alert < self.warning:
            raise ValueError(f"alert ({self.alert}) must be >= warning ({self.warning})")
        return self

    @classmethod
    def of(cls, levels: Levels) -> Threshold:
        """The threshold of a test's registered default levels."""
        return cls(warning=levels.warning, alert=levels.alert)


# -- calibrated thresholds (see drift_monitor/evaluation/calibrated.py) ---------------
ThresholdMode = Literal["calibrated", "fixed"]


def _default_floors() -> dict[str, Threshold]:
    # Effect sizes below which a window never warns/alerts, however significant: a
    # 100 000-event window must not page on a trivial shift. Each calibrated test's
    # registry entry carries its floors (stats/registry.py, ``Calibrated.floors``); a
    # test without them (KS, chi2: their `thresholds` already are effect floors) is absent.
    return {
        t.name: Threshold.of(t.calibration.floors)
        for t in REGISTRY
        if t.calibration is not None and t.calibration.floors is not None
    }


class CalibrationSettings(StrictModel):
    """Calibrated thresholds (``detection.thresholds.mode: calibrated``): a window
    warns/alerts when a deciding test's statistic exceeds its null quantile at the
    window's size for the level AND its effect reaches the floor. The levels are a
    false-alarm budget per window for the whole model, split across the model's
    deciding tests by ``detection.correction``."""

    alert_rate: float = Field(
        default=0.01, gt=0, lt=1, description="False-alarm budget per window for alert."
    )
    warning_rate: float = Field(
        default=0.05, gt=0, lt=1, description="False-alarm budget per window for warning."
    )
    floors: dict[TestName, Threshold] = Field(
        default_factory=_default_floors,
        description=(
            "Effect-size floors of the simulated tests (psi, jensen_shannon, wasserstein; "
            "merged over the defaults); ks and chi2 take theirs from `thresholds`."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> CalibrationSettings:
        if self.alert_rate > self.warning_rate:
            raise ValueError(
                f"alert_rate ({self.alert_rate}) must be <= warning_rate ({self.warning_rate})"
            )
        object.__setattr__(self, "floors", {**_default_floors(), **self.floors})
        return self


class ColumnSettings(StrictModel):
    """Per-column overrides. Unset fields inherit the model's settings."""

    ignore: bool = Field(default=False, description="Do not evaluate this column at all.")
    decision: list[TestName] | None = Field(
        default=None, description="Tests whose status decides the column's status."
    )
    thresholds: dict[TestName, Threshold] = Field(
        default_factory=dict, description="Threshold overrides for this column."
    )


class StatusRule(StrictModel):
    """How column statuses combine into the model status.

    The model alerts when any *critical* column alerts (every column is critical unless
    ``critical_columns`` lists some), or when the share of alerting columns reaches
    ``drift_share`` (when set). Otherwise it is ``warning`` if any column warns or alerts.
    """

    critical_columns: list[str] | None = Field(
        default=None, description="Columns whose alert alone makes the model alert; null = all."
    )
    drift_share: float | None = Field(
        default=None, gt=0, le=1, description="Alert when this share of columns alerts."
    )


class DetectionSettings(StrictModel):
    """How a window is judged against its baseline."""

    min_events: int = Field(
        default=100, ge=1, description="Fewer events (or present values) -> insufficient_data."
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="Significance level of KS/chi2.")
    correction: Correction = Field(
        default="bonferroni",
        description="Multiple-testing correction of p-values across a model's columns.",
    )
    numeric_tests: list[TestName] = Field(
        default_factory=lambda: _defaults("numeric", deciding=False),
        description="Tests computed and reported for numeric and numeric prediction columns.",
    )
    categorical_tests: list[TestName] = Field(
        default_factory=lambda: _defaults("categorical", deciding=False),
        description="Tests computed and reported for categorical columns.",
    )
    numeric_decision: list[TestName] = Field(
        default_factory=lambda: _defaults("numeric", deciding=True),
        description="Tests deciding a numeric column.",
    )
    categorical_decision: list[TestName] = Field(
        default_factory=lambda: _defaults("categorical", deciding=True),
        description="Tests deciding a categorical column.",
    )
    thresholds: dict[TestName, Threshold] = Field(
        default_factory=dict,
        description="Warning/alert levels per test; a test not listed keeps its defaults "
        "(README, Drift tests).",
    )
    status_rule: StatusRule = Field(default_factory=StatusRule)
    threshold_mode: ThresholdMode = Field(
        default="calibrated",
        description=(
            "calibrated: thresholds from the baseline's null distribution at the window's "
            "size; fixed: the numbers in `thresholds`. Also spelled `thresholds.mode`."
        ),
    )
    calibration: CalibrationSettings = Field(default_factory=CalibrationSettings)
    columns: dict[str, ColumnSettings] = Field(
        default_factory=dict, description="Per-column overrides, by column name."
    )
    # Per-segment drift (issue 16): the segment column of the baseline's segments.
    segment_by: str | None = Field(
        default=None,
        min_length=1,
        description="Also evaluate every window per segment of this column: one result per "
        "value the baseline was built with (`baseline build --segment-by COL "
        "--segment-top-k K`: its K most frequent values, the rest and unknown values in "
        "`__other__`), against that segment's own baseline and calibrated thresholds, the "
        "false-alarm budget split across the segments. The baseline must have segments "
        "by this column.",
    )

    @model_validator(mode="before")
    @classmethod
    def _thresholds_mode(cls, data: Any) -> Any:
        # `detection.thresholds.mode` (the documented spelling) lives beside the
        # per-test thresholds in YAML; move it to `threshold_mode`.
        if isinstance(data, dict) and isinstance(data.get("thresholds"), dict):
            th = dict(data["thresholds"])
            if "mode" in th:
                data = {**data, "thresholds": th, "threshold_mode": th.pop("mode")}
        return data

    @model_validator(mode="after")
    def _check(self) -> DetectionSettings:
        # A test of the wrong kind would be dropped by tests_for: for a decision list
        # that would silently turn detection off for every column of that kind.
        for field, kind in (
            ("numeric_tests", "numeric"),
            ("categorical_tests", "categorical"),
            ("numeric_decision", "numeric"),
            ("categorical_decision", "categorical"),
        ):
            for name in getattr(self, field):
                if not drift_test(name).supports(kind):
                    known = tuple(t.name for t in for_kind(kind))
                    raise ValueError(f"{field}: {name!r} is not a {kind} test {known}")
        return self

    def threshold(self, column: str, test: str) -> Threshold:
        """The threshold of ``test`` for ``column``: the column's override, else the
        model's, else the test's registered default levels."""
        col = self.columns.get(column)
        if col is not None and test in col.thresholds:
            return col.thresholds[test]
        if test in self.thresholds:
            return self.thresholds[test]
        return Threshold.of(drift_test(test).levels)

    def tests_for(self, column: str, kind: str) -> tuple[list[str], list[str]]:
        """(tests to compute, tests that decide) for a column of ``kind``
        (``numeric``/``categorical``), by name; the deciding tests are always computed
        too, and a per-column decision test of another kind is ignored."""
        if kind == "numeric":
            compute, decide = list(self.numeric_tests), list(self.numeric_decision)
        else:
            compute, decide = list(self.categorical_tests), list(self.categorical_decision)
        col = self.columns.get(column)
        if col is not None and col.decision is not None:
            decide = list(col.decision)
        decide = [t for t in decide if drift_test(t).supports(kind)]
        for t in decide:
            if t not in compute:
                compute.append(t)
        return compute, decide

    def computed_tests(self, column: str, kind: str) -> list[DriftTest]:
        """The definitions of the tests to compute for a column (see :meth:`tests_for`)."""
        return [drift_test(t) for t in self.tests_for(column, kind)[0]]


def unknown_columns(settings: DetectionSettings, columns: list[str]) -> list[str]:
    """Warnings for settings naming columns the baseline does not have (per-column
    overrides and critical columns): such settings would otherwise silently do nothing."""
    known = set(columns)
    out = [
        f"detection.columns.{name}: no such column in the baseline (columns: "
        f"{', '.join(sorted(known)[:12])}); the override is ignored"
        for name in settings.columns
        if name not in known
    ]
    for name in settings.status_rule.critical_columns or ():
        if name not in known:
            out.append(
                f"detection.status_rule.critical_columns: {name!r} is not a column of the "
                "baseline; it can never alert"
            )
    return out


class EpisodeSettings(StrictModel):
    """Hysteresis that turns window verdicts into drift incidents (and webhooks)."""

    enter_after: int = Field(default=2, ge=1, description="Consecutive alerting windows.")
    resolve_after: int = Field(default=3, ge=1, description="Consecutive clean windows.")
    cooldown_seconds: float = Field(
        default=0.0, ge=0, description="Minimum event time between two incidents of a model."
    )
    segment_incidents: bool = Field(
        default=False,
        description="With detection.segment_by: also open a drift incident per segment "
        "(drift.detected / drift.resolved webhooks naming the segment, the same "
        "hysteresis, deduplicated through the same outbox); off: drifted segments show "
        "in metrics, /status and the records only, and page through DriftMonitorSegmentDrift.",
    )
