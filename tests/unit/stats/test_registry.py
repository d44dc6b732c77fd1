"""The drift-test registry as the rest of the package sees it: settings built from it,
only configured tests computed, the decision function, and ``evaluate_frame``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pydantic
import pytest

import drift_monitor
from drift_monitor.baseline import Baseline, build_baseline
from drift_monitor.errors import InputError
from drift_monitor.evaluation import (
    DetectionSettings,
    Status,
    Threshold,
    decide,
    evaluate_frame,
    evaluate_window,
    window_from_frame,
)
from drift_monitor.stats import REGISTRY, drift_test
from drift_monitor.stats import registry as registry_module


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "k": rng.poisson(3 + shift, n),
            "c": rng.choice(
                ["a", "b", "c"], p=[0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5], size=n
            ),
            "score": rng.beta(2, 5 - min(shift, 2), n),
        }
    )


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(
        frame(20_000, 1), "m", version="v1", prediction=["score"], sample_size=5_000
    )


def test_default_settings_come_from_the_registry() -> None:
    s = DetectionSettings()
    for kind, computed, deciding in (
        ("numeric", s.numeric_tests, s.numeric_decision),
        ("categorical", s.categorical_tests, s.categorical_decision),
    ):
        assert computed == [t.name for t in REGISTRY if t.supports(kind) and t.computed_by_default]
        assert deciding == [t.name for t in REGISTRY if t.supports(kind) and t.decides_by_default]
    for t in REGISTRY:
        assert s.threshold("any", t.name) == Threshold(
            warning=t.levels.warning, alert=t.levels.alert
        )


def test_threshold_overrides_column_then_model_then_registry() -> None:
    s = DetectionSettings.model_validate(
        {
            "thresholds": {"psi": {"warning": 0.2, "alert": 0.4}},
            "columns": {"x": {"thresholds": {"psi": {"warning": 0.3, "alert": 0.5}}}},
        }
    )
    assert s.threshold("x", "psi") == Threshold(warning=0.3, alert=0.5)
    assert s.threshold("y", "psi") == Threshold(warning=0.2, alert=0.4)
    ks = drift_test("ks").levels
    assert s.threshold("x", "ks") == Threshold(warning=ks.warning, alert=ks.alert)


def test_an_unknown_test_name_is_rejected_naming_the_known_ones() -> None:
    with pytest.raises(pydantic.ValidationError, match="'kolmogorov' is not a drift test"):
        DetectionSettings.model_validate({"numeric_tests": ["kolmogorov"]})


def test_the_json_schema_enumerates_the_registered_tests() -> None:
    schema = json.dumps(DetectionSettings.model_json_schema())
    for t in REGISTRY:
        assert f'"{t.name}"' in schema


def test_only_configured_tests_are_computed(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> tuple[float, float]:
        raise AssertionError("KS computed although not configured")

    # The registry's KS entry looks its math up at call time: a KS run would raise.
    monkeypatch.setattr(registry_module, "ks_from_counts", boom)
    settings = DetectionSettings(
        numeric_tests=["psi"], numeric_decision=["psi"], categorical_tests=["chi2"]
    )
    data = window_from_frame(baseline, frame(2_000, 2, shift=0.5))
    result = evaluate_window(baseline, data, settings)
    for c in result.columns:
        expected = {"psi"} if c.name in ("x", "k", "score") else {"chi2", "psi"}
        assert set(c.tests) == expected, c.name
    with pytest.raises(AssertionError, match="not configured"):
        evaluate_window(baseline, data, DetectionSettings())


@pytest.mark.parametrize("test", [t.name for t in REGISTRY])
def test_decide_follows_levels_and_p_values(test: str) -> None:
    t = drift_test(test)
    th = Threshold(warning=0.1, alert=0.2)
    significant = 0.001 if t.has_p_value else None
    assert decide(t, th, 0.05, significant, 1_000, 0.05) == Status.OK
    assert decide(t, th, 0.1, significant, 1_000, 0.05) == Status.WARNING
    assert decide(t, th, 0.2, significant, 1_000, 0.05) == Status.ALERT
    if t.has_p_value:
        # An effect above every level with p >= alpha is not drift (effect floor AND p).
        assert decide(t, th, 0.9, 0.05, 1_000, 0.05) == Status.OK
        assert decide(t, th, 0.9, None, 1_000, 0.05) == Status.OK


def test_evaluate_frame_equals_check_path_and_is_exported(baseline: Baseline) -> None:
    assert drift_monitor.evaluate_frame is evaluate_frame
    df = frame(3_000, 3, shift=0.6)
    got = evaluate_frame(df, baseline)
    want = evaluate_window(baseline, window_from_frame(baseline, df), DetectionSettings())
    assert got == want  # frozen dataclasses of floats: the same numbers
    assert got.status == Status.ALERT
    assert {c.name for c in got.drifted} >= {"x", "c"}
    same = evaluate_frame(frame(3_000, 4), baseline, DetectionSettings(min_events=50))
    assert same.status in (Status.OK, Status.WARNING)
    assert same.start is None and same.end is None


def test_evaluate_frame_of_too_few_rows_is_insufficient_data(baseline: Baseline) -> None:
    r = evaluate_frame(frame(20, 5), baseline)
    assert r.status == Status.INSUFFICIENT_DATA
    assert all(c.status == Status.INSUFFICIENT_DATA for c in r.columns)


def test_evaluate_frame_names_a_missing_column(baseline: Baseline) -> None:
    with pytest.raises(InputError, match=r"DataFrame: column 'c' .* is missing"):
        evaluate_frame(frame(500, 6).drop(columns=["c"]), baseline)
