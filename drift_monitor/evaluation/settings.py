"""Detection settings: which tests run, their thresholds, and how statuses combine.

These pydantic models are part of the daemon's config (``detection:`` globally and per
model) and of ``drift-monitor check --config``. Unknown fields are rejected so that a
misspelled field is an error, not a silent default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TestName = Literal["ks", "psi", "wasserstein", "jensen_shannon", "chi2"]
Correction = Literal["none", "bonferroni", "benjamini_hochberg"]

NUMERIC_TESTS: tuple[TestName, ...] = ("ks", "psi", "wasserstein", "jensen_shannon")
CATEGORICAL_TESTS: tuple[TestName, ...] = ("chi2", "psi", "jensen_shannon")
#: Tests with a p-value: their threshold is an effect-size floor, and the test only
#: counts when its (corrected) p-value is below ``alpha`` as well.
P_VALUE_TESTS: frozenset[str] = frozenset({"ks", "chi2"})
_NUMERIC_DECISION: tuple[TestName, ...] = ("psi", "ks")
_CATEGORICAL_DECISION: tuple[TestName, ...] = ("psi", "chi2")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Strict):
    """Warning and alert levels of one test's statistic (alert >= warning).

    For ``ks`` the statistic is D; for ``chi2`` it is the effect size Cohen's
    w = sqrt(chi2 / n), so that a huge window does not alarm on a trivial difference.
    """

    warning: float = Field(ge=0)
    alert: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Threshold:
        if self.alert < self.warning:
            raise ValueError(f"alert ({self.alert}) must be >= warning ({self.warning})")
        return self


def _default_thresholds() -> dict[TestName, Threshold]:
    return {
        "psi": Threshold(warning=0.1, alert=0.25),
        "ks": Threshold(warning=0.05, alert=0.1),
        "chi2": Threshold(warning=0.1, alert=0.3),
        "wasserstein": Threshold(warning=0.1, alert=0.25),
        "jensen_shannon": Threshold(warning=0.1, alert=0.2),
    }


# -- calibrated thresholds (see drift_monitor/evaluation/calibrated.py) ---------------
ThresholdMode = Literal["calibrated", "fixed"]


def _default_floors() -> dict[TestName, Threshold]:
    # Effect sizes below which a window never warns/alerts, however significant: a
    # 100 000-event window must not page on a trivial shift. The distance floors sit at
    # or below the fixed thresholds, so calibrated mode is never less sensitive than fixed
    # at large n. KS and chi2 use their `thresholds` (already effect floors) instead.
    return {
        "psi": Threshold(warning=0.05, alert=0.1),
        "ks": Threshold(warning=0.05, alert=0.1),
        "chi2": Threshold(warning=0.1, alert=0.3),
        "wasserstein": Threshold(warning=0.05, alert=0.1),
        "jensen_shannon": Threshold(warning=0.05, alert=0.1),
    }


class CalibrationSettings(_Strict):
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
            "Effect-size floors of psi, jensen_shannon and wasserstein (merged over the "
            "defaults); ks and chi2 take theirs from `thresholds`."
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


class ColumnSettings(_Strict):
    """Per-column overrides. Unset fields inherit the model's settings."""

    ignore: bool = Field(default=False, description="Do not evaluate this column at all.")
    decision: list[TestName] | None = Field(
        default=None, description="Tests whose status decides the column's status."
    )
    thresholds: dict[TestName, Threshold] = Field(
        default_factory=dict, description="Threshold overrides for this column."
    )


class StatusRule(_Strict):
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


class DetectionSettings(_Strict):
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
        default_factory=lambda: list(NUMERIC_TESTS),
        description="Tests computed and reported for numeric and numeric prediction columns.",
    )
    categorical_tests: list[TestName] = Field(
        default_factory=lambda: list(CATEGORICAL_TESTS),
        description="Tests computed and reported for categorical columns.",
    )
    numeric_decision: list[TestName] = Field(
        default_factory=lambda: list(_NUMERIC_DECISION),
        description="Tests deciding a numeric column.",
    )
    categorical_decision: list[TestName] = Field(
        default_factory=lambda: list(_CATEGORICAL_DECISION),
        description="Tests deciding a categorical column.",
    )
    thresholds: dict[TestName, Threshold] = Field(
        default_factory=_default_thresholds,
        description="Warning/alert levels per test (merged over the defaults).",
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
        for name in self.numeric_tests:
            if name not in NUMERIC_TESTS:
                raise ValueError(f"numeric_tests: {name!r} is not a numeric test {NUMERIC_TESTS}")
        for name in self.categorical_tests:
            if name not in CATEGORICAL_TESTS:
                raise ValueError(
                    f"categorical_tests: {name!r} is not a categorical test {CATEGORICAL_TESTS}"
                )
        # A decision test of the wrong kind would be dropped by tests_for, silently
        # turning detection off for every column of that kind.
        for name in self.numeric_decision:
            if name not in NUMERIC_TESTS:
                raise ValueError(
                    f"numeric_decision: {name!r} is not a numeric test {NUMERIC_TESTS}"
                )
        for name in self.categorical_decision:
            if name not in CATEGORICAL_TESTS:
                raise ValueError(
                    f"categorical_decision: {name!r} is not a categorical test {CATEGORICAL_TESTS}"
                )
        merged = {**_default_thresholds(), **self.thresholds}
        object.__setattr__(self, "thresholds", merged)
        return self

    def threshold(self, column: str, test: TestName) -> Threshold:
        """The threshold of ``test`` for ``column`` (column override, else model level)."""
        col = self.columns.get(column)
        if col is not None and test in col.thresholds:
            return col.thresholds[test]
        return self.thresholds[test]

    def tests_for(self, column: str, kind: str) -> tuple[list[TestName], list[TestName]]:
        """(tests to compute, tests that decide) for a column of ``kind``; the deciding
        tests are always computed too."""
        if kind == "numeric":
            compute, decide = list(self.numeric_tests), list(self.numeric_decision)
        else:
            compute, decide = list(self.categorical_tests), list(self.categorical_decision)
        col = self.columns.get(column)
        if col is not None and col.decision is not None:
            decide = list(col.decision)
        allowed = NUMERIC_TESTS if kind == "numeric" else CATEGORICAL_TESTS
        decide = [t for t in decide if t in allowed]
        for t in decide:
            if t not in compute:
                compute.append(t)
        return compute, decide


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
