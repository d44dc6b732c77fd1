"""The decision layer: multiple testing, thresholds, effect-size floors, status rules,
per-column overrides and settings validation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pydantic
import pytest
from scipy import stats

from drift_monitor.baseline import Baseline, build_baseline
from drift_monitor.evaluation import (
    ColumnResult,
    ColumnSettings,
    DetectionSettings,
    Status,
    StatusRule,
    Threshold,
    WindowData,
    WindowResult,
    adjust_p_values,
    evaluate_window,
    model_status,
    window_from_frame,
)

# imported under another name: pytest would collect a module-level ``test_status``
from drift_monitor.evaluation.decision import test_status as status_of
from tests.profiles import numeric

# ---------------------------------------------------------------------------------------
# multiple-testing correction
# ---------------------------------------------------------------------------------------


def random_p_values(rng: np.random.Generator) -> np.ndarray:
    m = int(rng.integers(1, 60))
    p = rng.uniform(size=m) ** rng.uniform(0.5, 6)  # skew towards small p
    if m > 3:
        p[rng.integers(0, m)] = p[rng.integers(0, m)]  # ties
        p[rng.integers(0, m)] = 0.0
        p[rng.integers(0, m)] = 1.0
    return p


@pytest.mark.parametrize("seed", range(50))
def test_benjamini_hochberg_equals_scipy(seed: int) -> None:
    p = random_p_values(np.random.default_rng(seed))
    got = adjust_p_values(p, "benjamini_hochberg")
    expected = stats.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert got.shape == p.shape


@pytest.mark.parametrize("seed", range(30))
def test_bonferroni_is_min_one_p_times_m(seed: int) -> None:
    p = random_p_values(np.random.default_rng(100 + seed))
    m = len(p)
    got = adjust_p_values(p, "bonferroni")
    assert got.tolist() == [min(1.0, float(x) * m) for x in p]


def test_no_correction_returns_a_copy_of_the_input() -> None:
    p = np.array([0.01, 0.5])
    got = adjust_p_values(p, "none")
    assert got.tolist() == [0.01, 0.5]
    got[0] = 1.0
    assert p[0] == 0.01


@pytest.mark.parametrize("method", ["none", "bonferroni", "benjamini_hochberg"])
def test_correction_of_no_p_values_is_empty(method: str) -> None:
    assert adjust_p_values([], method).shape == (0,)  # type: ignore[arg-type]


def test_single_p_value_is_unchanged_by_any_correction() -> None:
    for method in ("none", "bonferroni", "benjamini_hochberg"):
        assert adjust_p_values([0.03], method).tolist() == [0.03]


# ---------------------------------------------------------------------------------------
# one test's status: thresholds at the exact levels, p-value gate
# ---------------------------------------------------------------------------------------

TH = Threshold(warning=0.1, alert=0.25)


@pytest.mark.parametrize("test", ["psi", "wasserstein", "jensen_shannon"])
def test_distance_thresholds_are_inclusive(test: str) -> None:
    below_warning = math.nextafter(0.1, 0.0)
    below_alert = math.nextafter(0.25, 0.0)
    assert status_of(test, below_warning, None, TH, 0.05) == Status.OK
    assert status_of(test, 0.1, None, TH, 0.05) == Status.WARNING
    assert status_of(test, below_alert, None, TH, 0.05) == Status.WARNING
    assert status_of(test, 0.25, None, TH, 0.05) == Status.ALERT
    assert status_of(test, 7.0, None, TH, 0.05) == Status.ALERT


@pytest.mark.parametrize("test", ["ks", "chi2"])
def test_p_value_tests_need_significance_and_effect(test: str) -> None:
    alpha = 0.05
    just_significant = math.nextafter(alpha, 0.0)
    # p exactly alpha is not significant: no status however large the effect
    assert status_of(test, 0.9, alpha, TH, alpha) == Status.OK
    assert status_of(test, 0.9, None, TH, alpha) == Status.OK
    # significant: the effect size decides, thresholds inclusive
    assert status_of(test, 0.9, just_significant, TH, alpha) == Status.ALERT
    assert status_of(test, 0.25, 1e-300, TH, alpha) == Status.ALERT
    assert status_of(test, 0.1, 0.0, TH, alpha) == Status.WARNING
    # significant but below the effect floor: ok
    assert status_of(test, math.nextafter(0.1, 0.0), 0.0, TH, alpha) == Status.OK


# ---------------------------------------------------------------------------------------
# windows evaluated end to end
# ---------------------------------------------------------------------------------------


def _evaluate(
    baseline: Baseline, window: pd.DataFrame, settings: DetectionSettings | None = None
) -> WindowResult:
    data = window_from_frame(baseline, window)
    return evaluate_window(baseline, data, settings or DetectionSettings())


def _col(result: WindowResult, name: str) -> ColumnResult:
    matches = [c for c in result.columns if c.name == name]
    assert len(matches) == 1, name
    return matches[0]


def test_large_window_with_tiny_real_shift_is_significant_but_ok() -> None:
    rng = np.random.default_rng(7)
    train = pd.DataFrame({"x": rng.normal(size=300_000)})
    baseline = build_baseline(train, "m", version="1")
    window = pd.DataFrame({"x": rng.normal(0.03, 1.0, size=300_000)})
    result = _evaluate(baseline, window)
    ks = _col(result, "x").tests["ks"]
    ref = numeric(baseline.column("x")).reference_sample
    expected = stats.ks_2samp(window["x"].to_numpy(), ref, method="auto")
    assert ks.statistic == float(expected.statistic)
    assert ks.p_value == float(expected.pvalue)
    assert ks.p_value_adjusted is not None
    assert ks.p_value_adjusted < 1e-4  # a real, highly significant difference ...
    assert ks.status == Status.OK  # ... below the effect-size floor
    assert _col(result, "x").tests["psi"].status == Status.OK
    assert result.status == Status.OK

    # Without the floor the same window would page: the floor is what keeps it ok.
    no_floor = DetectionSettings(thresholds={"ks": Threshold(warning=0.0, alert=0.0)})
    assert _evaluate(baseline, window, no_floor).status == Status.ALERT


def test_large_categorical_window_with_tiny_shift_is_significant_but_ok() -> None:
    rng = np.random.default_rng(8)
    train = pd.DataFrame({"c": rng.choice(list("abc"), p=[0.5, 0.3, 0.2], size=200_000)})
    baseline = build_baseline(train, "m", version="1")
    window = pd.DataFrame({"c": rng.choice(list("abc"), p=[0.52, 0.29, 0.19], size=400_000)})
    result = _evaluate(baseline, window)
    chi2 = _col(result, "c").tests["chi2"]
    assert chi2.p_value_adjusted is not None
    assert chi2.p_value_adjusted < 1e-6
    assert chi2.effect == pytest.approx(math.sqrt(chi2.statistic / 400_000), rel=1e-12)
    assert chi2.effect < 0.1
    assert chi2.status == Status.OK
    assert result.status == Status.OK


def _frame(n: int, seed: int, shifts: dict[str, float] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    shifts = shifts or {}
    return pd.DataFrame(
        {
            "a": rng.normal(shifts.get("a", 0.0), 1, n),
            "b": rng.normal(shifts.get("b", 0.0), 1, n),
            "c": rng.normal(shifts.get("c", 0.0), 1, n),
            "cat": rng.choice(["x", "y", "z"], size=n),
        }
    )


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(_frame(20_000, seed=1), "m", version="1")


def test_fewer_events_than_min_events_is_insufficient_data(baseline: Baseline) -> None:
    settings = DetectionSettings(min_events=100)
    # a drastic shift: the status must come from the event count, not the data
    window = _frame(99, seed=2, shifts={"a": 5.0, "b": 5.0})
    result = _evaluate(baseline, window, settings)
    assert result.status == Status.INSUFFICIENT_DATA
    assert result.drift_share == 0.0
    assert all(c.status == Status.INSUFFICIENT_DATA for c in result.columns)
    assert all(c.tests == {} for c in result.columns)
    assert "99 present values < min_events 100" in _col(result, "a").note

    at_limit = _evaluate(baseline, _frame(100, seed=2, shifts={"a": 5.0}), settings)
    assert at_limit.status == Status.ALERT
    assert _col(at_limit, "a").status == Status.ALERT


def test_a_mostly_missing_column_is_insufficient_alone(baseline: Baseline) -> None:
    window = _frame(1000, seed=3, shifts={"b": 3.0})
    window.loc[window.index[50:], "a"] = np.nan  # 50 present values < 100
    result = _evaluate(baseline, window)
    a = _col(result, "a")
    assert a.status == Status.INSUFFICIENT_DATA
    assert a.missing_ratio == 0.95
    assert a.events == 50
    assert _col(result, "b").status == Status.ALERT
    assert result.status == Status.ALERT
    # the insufficient column is not part of the drift share's denominator
    assert result.drift_share == pytest.approx(1 / 3)


def test_window_of_zero_events(baseline: Baseline) -> None:
    result = evaluate_window(baseline, WindowData(events=0), DetectionSettings())
    assert result.status == Status.INSUFFICIENT_DATA
    assert [c.status for c in result.columns] == [Status.INSUFFICIENT_DATA] * 4
    assert all(c.missing_ratio == 0.0 for c in result.columns)


@pytest.mark.parametrize("correction", ["bonferroni", "benjamini_hochberg", "none"])
def test_p_values_are_corrected_across_columns(baseline: Baseline, correction: str) -> None:
    # fixed mode: it is the raw chi-square p-value that is corrected there (calibrated
    # mode corrects the sparse-pooled one, tests/unit/test_calibrated_decision.py)
    settings = DetectionSettings(correction=correction, threshold_mode="fixed")  # type: ignore[arg-type]
    window = _frame(400, seed=4, shifts={"a": 0.1, "b": 0.2})
    result = _evaluate(baseline, window, settings)
    names = ["a", "b", "c"]
    raw = [_col(result, n).tests["ks"].p_value for n in names]
    expected = adjust_p_values(raw, correction)  # type: ignore[arg-type]
    got = [_col(result, n).tests["ks"].p_value_adjusted for n in names]
    assert got == expected.tolist()
    # chi2 is corrected on its own (one categorical column: unchanged)
    chi2 = _col(result, "cat").tests["chi2"]
    assert chi2.p_value_adjusted == chi2.p_value


def test_reported_and_deciding_tests(baseline: Baseline) -> None:
    result = _evaluate(baseline, _frame(500, seed=5))
    a = _col(result, "a")
    assert set(a.tests) == {"ks", "psi", "wasserstein", "jensen_shannon"}
    assert {t for t, r in a.tests.items() if r.status is not None} == {"ks", "psi"}
    cat = _col(result, "cat")
    assert set(cat.tests) == {"chi2", "psi", "jensen_shannon"}
    assert {t for t, r in cat.tests.items() if r.status is not None} == {"chi2", "psi"}
    assert cat.tests["chi2"].effect == pytest.approx(
        math.sqrt(cat.tests["chi2"].statistic / 500), rel=1e-12
    )


# ---------------------------------------------------------------------------------------
# per-column overrides
# ---------------------------------------------------------------------------------------


def test_ignored_column_is_not_evaluated_nor_counted(baseline: Baseline) -> None:
    settings = DetectionSettings(columns={"a": ColumnSettings(ignore=True)})
    window = _frame(500, seed=6, shifts={"a": 4.0})
    result = _evaluate(baseline, window, settings)
    assert "a" not in [c.name for c in result.columns]
    assert result.status == Status.OK
    raw = [_col(result, n).tests["ks"].p_value for n in ("b", "c")]
    assert None not in raw
    assert [_col(result, n).tests["ks"].p_value_adjusted for n in ("b", "c")] == [
        min(1.0, p * 2) for p in raw if p is not None
    ]


def test_column_decision_override(baseline: Baseline) -> None:
    settings = DetectionSettings(columns={"a": ColumnSettings(decision=["wasserstein"])})
    window = _frame(500, seed=7, shifts={"a": 0.4, "b": 0.4})
    result = _evaluate(baseline, window, settings)
    a, b = _col(result, "a"), _col(result, "b")
    assert {t for t, r in a.tests.items() if r.status is not None} == {"wasserstein"}
    w = a.tests["wasserstein"]
    expected = status_of("wasserstein", w.effect, None, settings.threshold("a", "wasserstein"), 0)
    assert a.status == expected == Status.ALERT  # W1/std ~ 0.4 >= 0.25
    assert {t for t, r in b.tests.items() if r.status is not None} == {"ks", "psi"}
    ks_status, psi_status = b.tests["ks"].status, b.tests["psi"].status
    assert ks_status is not None and psi_status is not None
    assert b.status == max(ks_status, psi_status)


def test_column_threshold_override(baseline: Baseline) -> None:
    window = _frame(2000, seed=8)
    # fixed mode: a PSI threshold override is a fixed threshold (calibrated mode takes
    # PSI's level from the null distribution and its floor from calibration.floors)
    plain = _evaluate(baseline, window, DetectionSettings(threshold_mode="fixed"))
    psi_b = _col(plain, "b").tests["psi"].statistic
    assert _col(plain, "b").status == Status.OK
    assert psi_b > 0
    tight = Threshold(warning=psi_b / 2, alert=psi_b)  # the value itself: inclusive
    settings = DetectionSettings(
        columns={"b": ColumnSettings(thresholds={"psi": tight})}, threshold_mode="fixed"
    )
    result = _evaluate(baseline, window, settings)
    assert _col(result, "b").status == Status.ALERT
    assert _col(result, "b").tests["psi"].threshold == psi_b
    assert _col(result, "c").status == Status.OK
    assert result.status == Status.ALERT


def test_model_level_threshold_override_keeps_other_defaults() -> None:
    s = DetectionSettings(thresholds={"psi": Threshold(warning=0.2, alert=0.5)})
    assert s.threshold("x", "psi") == Threshold(warning=0.2, alert=0.5)
    assert s.threshold("x", "ks") == Threshold(warning=0.05, alert=0.1)
    assert s.threshold("x", "chi2") == DetectionSettings().threshold("x", "chi2")


# ---------------------------------------------------------------------------------------
# model status rules
# ---------------------------------------------------------------------------------------


def cr(name: str, status: Status) -> ColumnResult:
    return ColumnResult(name, "numeric", status, 100, 0.0, None, {})


OK, WARN, ALERT, NODATA = Status.OK, Status.WARNING, Status.ALERT, Status.INSUFFICIENT_DATA


def test_any_critical_column_alerting_alerts_the_model() -> None:
    cols = [cr("a", OK), cr("b", ALERT), cr("c", OK), cr("d", WARN)]
    assert model_status(cols, 500, 100, StatusRule()) == (ALERT, 0.25)


def test_critical_columns_list() -> None:
    rule = StatusRule(critical_columns=["a"])
    assert model_status([cr("a", OK), cr("b", ALERT)], 500, 100, rule) == (WARN, 0.5)
    assert model_status([cr("a", ALERT), cr("b", OK)], 500, 100, rule) == (ALERT, 0.5)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([ALERT, OK, OK, OK], WARN),  # 0.25 < 0.5
        ([ALERT, ALERT, OK, OK], ALERT),  # exactly 0.5
        ([ALERT, ALERT, ALERT, OK], ALERT),
        ([ALERT, NODATA, NODATA, OK], ALERT),  # 1 of 2 evaluated columns
        ([WARN, WARN, OK, OK], WARN),
        ([OK, OK, OK, OK], OK),
    ],
)
def test_drift_share_rule(statuses: list[Status], expected: Status) -> None:
    rule = StatusRule(critical_columns=[], drift_share=0.5)
    cols = [cr(f"c{i}", s) for i, s in enumerate(statuses)]
    status, share = model_status(cols, 500, 100, rule)
    evaluated = [s for s in statuses if s != NODATA]
    assert share == evaluated.count(ALERT) / len(evaluated)
    assert status == expected


def test_model_status_insufficient_data() -> None:
    assert model_status([cr("a", ALERT)], 99, 100, StatusRule()) == (NODATA, 0.0)
    assert model_status([cr("a", NODATA), cr("b", NODATA)], 500, 100, StatusRule()) == (
        NODATA,
        0.0,
    )
    assert model_status([], 500, 100, StatusRule()) == (NODATA, 0.0)


def test_model_status_warning_and_ok() -> None:
    assert model_status([cr("a", WARN), cr("b", OK)], 500, 100, StatusRule()) == (WARN, 0.0)
    assert model_status([cr("a", OK), cr("b", NODATA)], 500, 100, StatusRule()) == (OK, 0.0)


# ---------------------------------------------------------------------------------------
# settings validation
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_event": 10},  # misspelled
        {"thresholds": {"psi": {"warning": 0.1, "alert": 0.2, "critical": 0.3}}},
        {"columns": {"a": {"ignored": True}}},
        {"status_rule": {"drift_shares": 0.5}},
        {"thresholds": {"psi": {"warning": 0.3, "alert": 0.2}}},  # alert < warning
        {"columns": {"a": {"thresholds": {"ks": {"warning": 0.2, "alert": 0.1}}}}},
        {"thresholds": {"psi": {"warning": -0.1, "alert": 0.2}}},
        {"thresholds": {"kolmogorov": {"warning": 0.1, "alert": 0.2}}},
        {"numeric_tests": ["ks", "chi2"]},
        {"categorical_tests": ["ks"]},
        {"numeric_decision": ["chi2"]},
        {"categorical_decision": ["wasserstein"]},
        {"correction": "holm"},
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"min_events": 0},
        {"status_rule": {"drift_share": 0.0}},
        {"status_rule": {"drift_share": 1.5}},
    ],
)
def test_detection_settings_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError):
        DetectionSettings.model_validate(kwargs)


def test_threshold_rejects_alert_below_warning_and_accepts_equal() -> None:
    with pytest.raises(pydantic.ValidationError, match="must be >= warning"):
        Threshold(warning=0.3, alert=0.2)
    assert Threshold(warning=0.2, alert=0.2).alert == 0.2


def test_detection_settings_accepts_a_full_valid_document() -> None:
    s = DetectionSettings.model_validate(
        {
            "min_events": 50,
            "alpha": 0.01,
            "correction": "benjamini_hochberg",
            "numeric_decision": ["ks"],
            "thresholds": {"ks": {"warning": 0.2, "alert": 0.3}},
            "status_rule": {"critical_columns": ["a"], "drift_share": 0.3},
            "columns": {
                "a": {"decision": ["psi"], "thresholds": {"psi": {"warning": 0, "alert": 1}}}
            },
        }
    )
    assert s.tests_for("b", "numeric") == (["ks", "psi", "wasserstein", "jensen_shannon"], ["ks"])
    assert s.tests_for("a", "numeric")[1] == ["psi"]
    assert s.threshold("a", "psi") == Threshold(warning=0, alert=1)
    assert s.threshold("b", "ks") == Threshold(warning=0.2, alert=0.3)
