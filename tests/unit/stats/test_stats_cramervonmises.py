"""The two-sample Cramér–von Mises test, added through the drift-test registry.

Its numbers against ``scipy.stats.cramervonmises_2samp`` (bit for bit, both branches
of ``method="auto"``), and that it reaches every output - metrics, ``check``'s table
and JSON, the HTML report - when configured, while deciding nothing by default and
leaving a default configuration's outputs as they were.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drift_monitor.baseline import Baseline, build_baseline, save_baseline
from drift_monitor.cli import main
from drift_monitor.evaluation import DetectionSettings, Status, evaluate_frame, window_from_frame
from drift_monitor.report import render_report
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.stats import drift_test
from drift_monitor.stats.cramervonmises import cramervonmises_2samp_sorted
from drift_monitor.status.state import MonitorState
from tests.unit.stats.test_stats_numeric import KINDS, make_samples

CVM = "cramervonmises"


def _assert_same_as_scipy(w: np.ndarray, ref: np.ndarray) -> None:
    expected = stats.cramervonmises_2samp(w, ref, method="auto")
    t, p = cramervonmises_2samp_sorted(np.sort(w), np.sort(ref))
    assert (t, p) == (float(expected.statistic), float(expected.pvalue))
    assert 0.0 <= p <= 1.0


# Both samples <= 20: scipy's exact distribution; otherwise the asymptotic one.
SIZES = [(2, 2), (3, 7), (20, 20), (20, 21), (21, 20), (100, 7), (999, 1000), (10_000, 100_000)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n_w", "n_ref"), SIZES)
def test_equals_scipy_bit_for_bit(kind: str, n_w: int, n_ref: int) -> None:
    nw, nr = (max(n_w, n_ref),) * 2 if kind == "identical" else (n_w, n_ref)
    _assert_same_as_scipy(*make_samples(kind, nw, nr, seed=n_w * 31 + n_ref))


@pytest.mark.parametrize("seed", range(30))
def test_equals_scipy_on_random_mixtures_of_ties_and_integers(seed: int) -> None:
    rng = np.random.default_rng(3000 + seed)
    n_w = int(rng.choice([2, 5, 19, int(rng.integers(21, 3_000))]))
    n_ref = int(rng.choice([2, 13, int(rng.integers(21, 40_000))]))

    def draw(n: int, shift: float) -> np.ndarray:
        parts = [rng.normal(shift, 1, n), np.round(rng.normal(shift, 1, n), 1)]
        parts.append(rng.integers(-2, 3, n).astype(float))
        return np.choose(rng.integers(0, 3, n), parts)

    _assert_same_as_scipy(draw(n_w, float(rng.choice([0.0, 0.1, 1.0]))), draw(n_ref, 0.0))


def test_a_single_window_value_is_defined_where_scipy_gives_nan() -> None:
    with pytest.warns(Warning, match="too small"):
        assert np.isnan(stats.cramervonmises_2samp([1.0], np.arange(50.0)).statistic)
    t, p = cramervonmises_2samp_sorted(np.array([1.0]), np.arange(50.0))
    assert np.isfinite(t) and 0.0 <= p <= 1.0
    with pytest.raises(ValueError, match="non-empty"):
        cramervonmises_2samp_sorted(np.empty(0), np.arange(3.0))


# ---------------------------------------------------------------------------------------
# through the registry: reported when configured, deciding only when asked
# ---------------------------------------------------------------------------------------


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(shift, 1.0, n), "c": rng.choice(["a", "b"], size=n)})


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(frame(20_000, 1), "m", version="v1", sample_size=5_000)


WITH_CVM = DetectionSettings(numeric_tests=["ks", "psi", "wasserstein", "jensen_shannon", CVM])


def test_off_by_default_and_not_deciding(baseline: Baseline) -> None:
    t = drift_test(CVM)
    assert t.has_p_value and not t.computed_by_default and not t.decides_by_default
    assert CVM not in DetectionSettings().numeric_tests
    r = evaluate_frame(frame(2_000, 2, shift=1.0), baseline)
    assert all(CVM not in c.tests for c in r.columns)


def test_configured_it_is_reported_equal_to_scipy_and_decides_nothing(
    baseline: Baseline,
) -> None:
    df = frame(2_000, 3, shift=0.5)
    r = evaluate_frame(df, baseline, WITH_CVM)
    x = next(c for c in r.columns if c.name == "x")
    res = x.tests[CVM]
    ref = baseline.column("x").profile.reference_sample  # type: ignore[union-attr]
    expected = stats.cramervonmises_2samp(df["x"].to_numpy(), ref)
    assert (res.statistic, res.p_value) == (float(expected.statistic), float(expected.pvalue))
    assert res.status is None  # reported only
    c = next(c for c in r.columns if c.name == "c")
    assert CVM not in c.tests  # a numeric test only


def test_made_deciding_it_alerts_on_a_shift(baseline: Baseline) -> None:
    settings = DetectionSettings(numeric_decision=[CVM], categorical_decision=["psi"])
    r = evaluate_frame(frame(2_000, 4, shift=0.5), baseline, settings)
    x = next(c for c in r.columns if c.name == "x")
    assert x.tests[CVM].status == Status.ALERT
    assert x.status == Status.ALERT
    calm = evaluate_frame(frame(2_000, 5), baseline, settings)
    assert next(c for c in calm.columns if c.name == "x").tests[CVM].status == Status.OK


def test_metric_families_appear_once_computed(baseline: Baseline) -> None:
    def scrape(settings: DetectionSettings) -> tuple[set[str], MonitorState]:
        state = MonitorState(["m"], {"m": 60.0})
        state.record_result(evaluate_frame(frame(2_000, 6, 0.3), baseline, settings), 0.01, 1.0)
        registry = build_registry(state)
        return {m.name for m in registry.collect()}, state

    names, _ = scrape(DetectionSettings())
    assert "drift_monitor_feature_cramervonmises_statistic" not in names
    names, state = scrape(WITH_CVM)
    assert "drift_monitor_feature_cramervonmises_statistic" in names
    registry = build_registry(state)
    result = state.results["m"]
    x = next(c for c in result.columns if c.name == "x").tests[CVM]
    labels = {"model": "m", "feature": "x", "kind": "numeric"}
    got = registry.get_sample_value("drift_monitor_feature_cramervonmises_statistic", labels)
    assert got == x.statistic
    got_p = registry.get_sample_value("drift_monitor_feature_cramervonmises_p_value", labels)
    assert got_p == x.p_value


def test_check_table_json_and_report_show_it(
    baseline: Baseline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save_baseline(baseline, tmp_path / "m.dmb")
    frame(2_000, 7, shift=0.4).to_csv(tmp_path / "w.csv", index=False)
    (tmp_path / "c.yaml").write_text(
        "kafka: {bootstrap_servers: ['localhost:9092'], topics: [t]}\n"
        f"models: [{{name: m, baseline: {tmp_path / 'm.dmb'}}}]\n"
        "defaults:\n  detection:\n    numeric_tests: [ks, psi, cramervonmises]\n"
    )
    common = ["check", "--baseline", str(tmp_path / "m.dmb"), "--input", str(tmp_path / "w.csv")]
    common += ["--config", str(tmp_path / "c.yaml")]
    main([*common, "--format", "json", "--report", str(tmp_path / "r.html")])
    doc = json.loads(capsys.readouterr().out)
    x = next(f for f in doc["features"] if f["name"] == "x")
    assert set(x["tests"]) == {"ks", "psi", CVM}
    ref = baseline.column("x").profile.reference_sample  # type: ignore[union-attr]
    w = pd.read_csv(tmp_path / "w.csv")["x"].to_numpy()
    assert x["tests"][CVM]["statistic"] == float(stats.cramervonmises_2samp(w, ref).statistic)
    html = (tmp_path / "r.html").read_text()
    assert "<th>CvM T</th>" in html
    main(common)
    table = capsys.readouterr().out
    assert "CVM T" in table.splitlines()[2]


def test_default_report_has_no_cvm_column(baseline: Baseline) -> None:
    df = frame(1_000, 8)
    r = evaluate_frame(df, baseline)
    assert "CvM" not in render_report(r, baseline, window_from_frame(baseline, df))
