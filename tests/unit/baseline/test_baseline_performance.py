"""Baseline performance (``--label``): stored metrics, bootstrap variability, the
degradation decision and label drift."""

from __future__ import annotations

import itertools
import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from drift_monitor.baseline import CategoricalProfile, build_baseline, load_baseline, save_baseline
from drift_monitor.baseline.pairs import TaskSpec
from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.errors import BaselineError
from drift_monitor.evaluation import DetectionSettings, Status
from drift_monitor.labels.decision import (
    DegradationSettings,
    PerformanceStatus,
    decide_performance,
)
from drift_monitor.labels.drift import label_drift
from drift_monitor.stats.performance import Performance, binary_metrics


def _binary(n: int, seed: int, signal: float = 0.3, prior: float = 0.5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < prior).astype(int)
    s = np.clip(signal * y + rng.uniform(0, 1 - signal, n), 0, 1)
    return pd.DataFrame({"x": rng.normal(size=n), "score": s, "label": y})


def _multiclass(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = np.array(["a", "b", "c"])
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return pd.DataFrame(
        {"x": rng.normal(size=n), "p_a": p[:, 0], "p_b": p[:, 1], "p_c": p[:, 2]}
    ).assign(label=classes[y])


def _regression(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.gamma(3, 10, n)
    return pd.DataFrame({"x": rng.normal(size=n), "pred": y + rng.normal(0, 4, n), "label": y})


def test_binary_baseline_performance_equals_sklearn_and_round_trips(tmp_path: Path) -> None:
    df = _binary(3000, 1)
    b = build_baseline(df, "m", prediction=["score"], label="label", version="v1")
    assert b.column_names == ["x", "score"]  # the label is not profiled as a feature
    perf = b.performance
    assert perf is not None and perf.spec.task == "binary" and perf.count == 3000
    assert math.isclose(
        perf.metrics["roc_auc"], skm.roc_auc_score(df.label, df.score), abs_tol=1e-9
    )
    assert math.isclose(
        perf.metrics["brier"], skm.brier_score_loss(df.label, df.score), abs_tol=1e-9
    )
    saved = save_baseline(b, tmp_path / "m.dmb")
    loaded = load_baseline(tmp_path / "m.dmb")
    assert loaded.checksum == saved.checksum
    lp = loaded.performance
    assert lp is not None
    assert lp.spec == perf.spec and lp.sizes == perf.sizes and lp.count == perf.count
    assert lp.metrics == pytest.approx(perf.metrics)
    for m in perf.spread:
        assert lp.spread[m][0.99] == pytest.approx(perf.spread[m][0.99], nan_ok=True)
    assert lp.label_profile is not None and lp.label_profile.kind == "categorical"


def test_performance_member_is_covered_by_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "m.dmb"
    save_baseline(build_baseline(_binary(500, 2), "m", prediction=["score"], label="label"), path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["performance.json"])
    doc["metrics"]["roc_auc"] = 0.99
    members["performance.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(BaselineError, match="checksum mismatch"):
        load_baseline(path)


def test_without_label_there_is_no_performance(tmp_path: Path) -> None:
    b = build_baseline(_binary(300, 3), "m", prediction=["score"])
    assert b.performance is None
    save_baseline(b, tmp_path / "m.dmb")
    with zipfile.ZipFile(tmp_path / "m.dmb") as zf:
        assert "performance.json" not in zf.namelist()
    assert load_baseline(tmp_path / "m.dmb").performance is None


def test_multiclass_and_regression_tasks(tmp_path: Path) -> None:
    mc = _multiclass(2000, 4)
    b = build_baseline(mc, "m", prediction=["p_a", "p_b", "p_c"], label="label")
    assert b.performance is not None
    assert b.performance.spec.classes == ("a", "b", "c")
    codes = mc.label.map({"a": 0, "b": 1, "c": 2}).to_numpy()
    proba = mc[["p_a", "p_b", "p_c"]].to_numpy()
    assert math.isclose(b.performance.metrics["log_loss"], skm.log_loss(codes, proba), abs_tol=1e-9)
    rg = _regression(2000, 5)
    r = build_baseline(rg, "r", prediction=["pred"], label="label")
    assert r.performance is not None and r.performance.spec.task == "regression"
    assert math.isclose(
        r.performance.metrics["rmse"], skm.root_mean_squared_error(rg.label, rg.pred), abs_tol=1e-9
    )
    assert r.performance.label_profile is not None
    assert r.performance.label_profile.kind == "numeric"
    save_baseline(r, tmp_path / "r.dmb")
    loaded = load_baseline(tmp_path / "r.dmb")
    assert loaded.performance is not None and loaded.performance.label_profile is not None


def test_hard_class_predictions() -> None:
    df = pd.DataFrame({"pred": ["x", "y", "x", "y"] * 50, "label": ["x", "y", "y", "y"] * 50})
    b = build_baseline(df, "m", prediction=["pred"], label="label")
    assert b.performance is not None and b.performance.spec.hard
    assert b.performance.metrics["accuracy"] == pytest.approx(0.75)
    assert math.isnan(b.performance.metrics["roc_auc"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"label": "label"}, "--prediction"),
        ({"label": "nope", "prediction": ["score"]}, "'nope' is missing"),
        ({"label": "score", "prediction": ["score"]}, "cannot also be"),
    ],
)
def test_bad_label_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(BaselineError, match=match):
        build_baseline(_binary(100, 6), "m", **kwargs)  # type: ignore[arg-type]


def test_multiclass_label_without_probability_column() -> None:
    df = _multiclass(200, 7)
    with pytest.raises(BaselineError, match="label value 'c'"):
        build_baseline(df, "m", prediction=["p_a", "p_b"], label="label")


def test_bootstrap_is_seeded_and_shrinks_with_window_size() -> None:
    df = _binary(2000, 8)
    a = build_baseline(df, "m", prediction=["score"], label="label", seed=3).performance
    b = build_baseline(df, "m", prediction=["score"], label="label", seed=3).performance
    assert a is not None and b is not None
    assert a.spread["roc_auc"][0.99] == b.spread["roc_auc"][0.99]
    tol = [a.tolerance("roc_auc", n) for n in (30, 50, 120, 500, 5000, 20000, 80000)]
    assert all(x > y for x, y in itertools.pairwise(tol)), tol
    # Beyond the grid the quantile scales like 1/sqrt(n).
    assert tol[-1] == pytest.approx(tol[-2] / 2, rel=1e-9)
    assert math.isnan(a.tolerance("roc_auc", 100, level=0.5))


def test_false_degradation_rate_is_bounded_on_windows_of_the_same_model() -> None:
    perf = build_baseline(_binary(4000, 9), "m", prediction=["score"], label="label").performance
    assert perf is not None
    # The variability condition alone (no minimum effect): windows of 200 labels from the
    # same generating process are degraded about 1 % of the time at level 0.99.
    settings = DegradationSettings(min_labels=100, minimums={}, relative_minimum=0.0)
    flagged = 0
    trials = 400
    for i in range(trials):
        w = _binary(200, 1000 + i)
        verdict = decide_performance(binary_metrics(w.label, w.score), perf, settings)
        flagged += verdict.status == PerformanceStatus.DEGRADED
    assert flagged / trials <= 0.03, flagged
    # A clearly worse model (less signal) is caught at the same window size.
    caught = 0
    for i in range(50):
        w = _binary(200, 5000 + i, signal=0.1)
        verdict = decide_performance(binary_metrics(w.label, w.score), perf, settings)
        caught += verdict.status == PerformanceStatus.DEGRADED
    assert caught >= 45, caught


def _window(auc: float, count: int) -> Performance:
    return Performance("binary", count, {"roc_auc": auc, "accuracy": 0.7})


def test_decision_needs_both_the_variability_and_the_minimum() -> None:
    perf = build_baseline(_binary(4000, 10), "m", prediction=["score"], label="label").performance
    assert perf is not None
    base = perf.metrics["roc_auc"]
    settings = DegradationSettings(min_labels=200)
    few = decide_performance(_window(base - 0.3, 150), perf, settings)
    assert few.status == PerformanceStatus.INSUFFICIENT_LABELS
    assert not few.degraded_metrics
    # 100 000 labels: the chance tolerance is tiny, but 0.02 < the 0.03 minimum.
    assert perf.tolerance("roc_auc", 100_000) < 0.01
    big = decide_performance(_window(base - 0.02, 100_000), perf, settings)
    assert big.status == PerformanceStatus.OK
    big = decide_performance(_window(base - 0.04, 100_000), perf, settings)
    assert big.status == PerformanceStatus.DEGRADED
    assert [m.metric for m in big.degraded_metrics] == ["roc_auc"]
    # 200 labels: 0.04 is within chance (tolerance ~0.07), so not degraded.
    small = decide_performance(_window(base - 0.04, 200), perf, settings)
    assert small.status == PerformanceStatus.OK
    assert small.metrics[0].metric == "roc_auc" and small.metrics[0].tolerance > 0.04
    undefined = decide_performance(_window(float("nan"), 5000), perf, settings)
    assert undefined.status == PerformanceStatus.OK


def test_label_drift_uses_the_prediction_tests() -> None:
    perf = build_baseline(_binary(5000, 11), "m", prediction=["score"], label="label").performance
    assert perf is not None
    settings = DetectionSettings()
    same = label_drift(perf, _binary(2000, 12).label.tolist(), settings)
    shifted = label_drift(perf, _binary(2000, 13, prior=0.8).label.tolist(), settings)
    assert same is not None and shifted is not None
    assert same.status == Status.OK
    assert shifted.status == Status.ALERT
    assert set(shifted.tests) >= {"chi2", "psi"}
    profile = perf.label_profile.profile if perf.label_profile is not None else None
    assert isinstance(profile, CategoricalProfile)
    window = _binary(2000, 13, prior=0.8).label.astype(str)
    counts = np.array([(window == k).sum() for k in profile.categories])
    expected = stats.chisquare(counts, profile.fractions * counts.sum())
    assert shifted.tests["chi2"].statistic == pytest.approx(expected.statistic, rel=1e-9)
    rperf = build_baseline(_regression(3000, 14), "r", prediction=["pred"], label="label")
    assert rperf.performance is not None
    moved = _regression(2000, 15).label * 1.5
    result = label_drift(rperf.performance, moved.tolist(), settings)
    assert result is not None and result.status == Status.ALERT and "ks" in result.tests


def test_chance_tolerance_adds_the_baselines_own_error_and_levels_extrapolate_in_z() -> None:
    # A normal shortfall of sd s/sqrt(n): the stored quantiles are z(level) s / sqrt(n).
    sizes = (100, 1_000, 10_000)
    spread = {
        "rmse": {
            lv: tuple(stats.norm.ppf(lv) * 2.0 / math.sqrt(n) for n in sizes) for lv in (0.95, 0.99)
        }
    }
    perf = BaselinePerformance(
        TaskSpec("regression", "y", ("p",)), 4_000, {"rmse": 1.0}, sizes, spread, 200, 0
    )
    for level in (0.99, 0.995, 0.9975, 0.999):
        want = stats.norm.ppf(level) * 2.0 / math.sqrt(1_000)
        assert perf.tolerance("rmse", 1_000, level) == pytest.approx(want, rel=1e-9)
    window, own = perf.tolerance("rmse", 300), perf.tolerance("rmse", 4_000)
    assert perf.chance_tolerance("rmse", 300) == pytest.approx(math.hypot(window, own))
    # A window as large as the validation set: sqrt(2) x the bootstrap's alone.
    assert perf.chance_tolerance("rmse", 4_000) == pytest.approx(math.sqrt(2) * own)
    assert math.isnan(perf.tolerance("rmse", 300, level=0.9))
    assert math.isnan(perf.chance_tolerance("mae", 300))


def test_each_of_k_deciding_metrics_is_judged_at_its_share_of_the_budget() -> None:
    perf = build_baseline(_binary(3000, 16), "m", prediction=["score"], label="label").performance
    assert perf is not None
    one = DegradationSettings()
    three = DegradationSettings(metrics=("roc_auc", "accuracy", "brier"))
    assert three.metric_level(3) == pytest.approx(1 - 0.01 / 3)
    window = Performance("binary", 500, dict(perf.metrics))
    tol = {v.metric: v.tolerance for v in decide_performance(window, perf, three).metrics}
    assert tol["roc_auc"] == pytest.approx(perf.chance_tolerance("roc_auc", 500, 1 - 0.01 / 3))
    alone = {v.metric: v.tolerance for v in decide_performance(window, perf, one).metrics}
    assert alone["roc_auc"] == pytest.approx(perf.chance_tolerance("roc_auc", 500, 0.99))
    assert tol["roc_auc"] > alone["roc_auc"]
