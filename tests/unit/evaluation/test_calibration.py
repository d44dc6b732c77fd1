"""Calibrated thresholds (issue 13): null tables against brute force, storage, decisions."""

from __future__ import annotations

import itertools
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drift_monitor.baseline import build_baseline, load_baseline, save_baseline
from drift_monitor.baseline.model import Baseline, CategoricalProfile
from drift_monitor.baseline.store import CALIBRATION_MEMBER
from drift_monitor.errors import BaselineError
from drift_monitor.evaluation import (
    DetectionSettings,
    Status,
    evaluate_window,
    window_from_frame,
)
from drift_monitor.stats.calibration import (
    GRID,
    SIMULATED_TESTS,
    TAIL_PROBS,
    Calibration,
    pooled_chi2,
    pooled_chi2_threshold,
)
from drift_monitor.stats.prepared import PreparedCategorical, PreparedNumeric
from drift_monitor.stats.registry import REGISTRY, drift_test
from drift_monitor.stats.score import CategoryCounts, NumericWindow
from tests.unit.baseline.test_baseline import documented_checksum, read_members, write_members

CATS = ["a", "b", "c", "d", "e", "f"]
CAT_P = np.array([0.5, 0.25, 0.15, 0.06, 0.03, 0.01])


def _train(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(10.0, 2.0, n),
            "k": rng.poisson(3.0, n).astype(np.float64),  # ties: a discrete numeric
            "cat": rng.choice(CATS, size=n, p=CAT_P),
        }
    )


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(_train(), "m", version="1")


# -- the null tables against a brute-force Monte Carlo of the same null ---------------


def _table_tests(kind: str) -> list[str]:
    """The registry's tests calibrated by a null table that score ``kind``."""
    return [
        t.name
        for t in REGISTRY
        if t.calibration is not None and t.calibration.null == "table" and t.supports(kind)
    ]


def _brute_numeric(b: Baseline, column: str, n: int, reps: int, seed: int) -> dict[str, np.ndarray]:
    """Windows of n values resampled from the training column, scored by the registry's
    score functions (the ones evaluation calls)."""
    train = _train()[column].to_numpy()
    prep = b.prepared()[column]
    assert isinstance(prep, PreparedNumeric)
    rng = np.random.default_rng(seed)
    names = _table_tests("numeric")
    assert set(names) == {"psi", "jensen_shannon", "wasserstein"}
    out: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(reps):
        window = NumericWindow(np.sort(rng.choice(train, size=n)))
        for name in names:
            scorer = drift_test(name).numeric
            assert scorer is not None
            out[name].append(scorer(prep, window).statistic)
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("column", ["x", "k"])
@pytest.mark.parametrize("n", [50, 200, 1_000])
def test_numeric_quantiles_match_brute_force(baseline: Baseline, column: str, n: int) -> None:
    # The population is the training column itself, so no two-sample inflation: the
    # stored (uninflated) quantiles at a grid size are what is compared.
    brute = _brute_numeric(baseline, column, n, reps=3_000, seed=n)
    tables = baseline.null_tables()
    for test in ("psi", "jensen_shannon"):
        tab = tables.table(column, test)
        assert tab is not None
        i = GRID.index(n)
        for j, p in enumerate(TAIL_PROBS):
            if p < 0.01:
                continue  # 3 000 brute-force replicates do not resolve deeper
            expected = float(np.quantile(brute[test], 1 - p))
            # MC error of a tail quantile from 3 000 draws: a few per cent (discrete at 50)
            assert tab.quantiles[i, j] == pytest.approx(expected, rel=0.12, abs=2e-3), (test, p)


@pytest.mark.parametrize("n", [120, 150, 700, 4_000])
def test_interpolated_quantiles_match_brute_force_between_grid_sizes(
    baseline: Baseline, n: int
) -> None:
    # From n = 100 (the default min_events) up. Below, the tail is made of empty-bin
    # events whose probability changes too fast in n for interpolation (README).
    brute = _brute_numeric(baseline, "x", n, reps=2_000, seed=n)
    tab = baseline.null_tables().table("x", "psi")
    assert tab is not None
    # Undo the two-sample inflation (the brute force resamples the training column).
    q = tab.quantiles_at(n) / (1 + n / tab.population)
    for j, p in enumerate(TAIL_PROBS):
        if p < 0.02:
            break
        assert q[j] == pytest.approx(float(np.quantile(brute["psi"], 1 - p)), rel=0.12)


def test_wasserstein_quantiles_match_brute_force(baseline: Baseline) -> None:
    n = 500
    brute = _brute_numeric(baseline, "x", n, reps=1_500, seed=3)["wasserstein"]
    tab = baseline.null_tables().table("x", "wasserstein")
    assert tab is not None
    q = tab.quantiles_at(n) / math.sqrt(1 + n / tab.population)
    for j, p in enumerate(TAIL_PROBS[:5]):
        assert q[j] == pytest.approx(float(np.quantile(brute, 1 - p)), rel=0.15), p


def test_categorical_quantiles_match_brute_force(baseline: Baseline) -> None:
    prep = baseline.prepared()["cat"]
    profile = baseline.column("cat").profile
    assert isinstance(profile, CategoricalProfile)
    rng = np.random.default_rng(11)
    n = 200
    assert isinstance(prep, PreparedCategorical)
    scorer = drift_test("psi").categorical
    assert scorer is not None
    psis = []
    for _ in range(3_000):
        counts = rng.multinomial(n, profile.fractions).astype(np.int64)
        psis.append(scorer(prep, CategoryCounts(counts, 0)).statistic)
    tab = baseline.null_tables().table("cat", "psi")
    assert tab is not None
    i = GRID.index(n)
    for j, p in enumerate(TAIL_PROBS[:6]):
        assert tab.quantiles[i, j] == pytest.approx(np.quantile(psis, 1 - p), rel=0.12), p


def test_p_value_and_threshold_are_inverse(baseline: Baseline) -> None:
    tab = baseline.null_tables().table("x", "psi")
    assert tab is not None
    for n in (50, 77, 100, 1_000, 123_456, 2_000_000):
        for level in (0.3, 0.05, 0.01, 1e-3, 1e-4, 1e-6):
            t = tab.threshold(level, n)
            assert tab.p_value(t, n) == pytest.approx(level, rel=1e-6)
        # monotone: a larger statistic is never less significant
        grid = np.linspace(0, 3 * tab.threshold(1e-6, n), 200)
        ps = [tab.p_value(float(s), n) for s in grid]
        assert all(a >= b for a, b in itertools.pairwise(ps))


def test_large_n_psi_follows_the_chi_square_law(baseline: Baseline) -> None:
    # n * PSI -> chi2(bins - 1) (times the two-sample inflation): the MC agrees.
    tab = baseline.null_tables().table("x", "psi")
    assert tab is not None
    n = 100_000
    q = tab.quantiles_at(n) * n / (1 + n / tab.population)
    df = tab.cells - 1
    for j, p in enumerate(TAIL_PROBS[:7]):
        assert q[j] == pytest.approx(stats.chi2.isf(p, df), rel=0.1), p


# -- chi-square pooling ----------------------------------------------------------------


def test_sparse_categories_are_pooled_and_unseen_stays() -> None:
    p = np.array([0.6, 0.3, 0.06, 0.03, 0.01])
    counts = np.array([30, 14, 3, 2, 1])  # n = 50: expected 30, 15, 3, 1.5, 0.5
    stat, df, pval = pooled_chi2(counts, 0, p, math.inf)
    # cells: 30 | 15 | pooled (3 + 1.5 + 0.5 = 5 expected, observed 6)
    exp = np.array([30, 15, 5.0])
    obs = np.array([30, 14, 6.0])
    assert df == 2
    assert stat == pytest.approx(float(np.sum((obs - exp) ** 2 / exp)))
    assert pval == pytest.approx(stats.chi2.sf(stat, 2))
    # an unseen value keeps its own cell (proportion floored at 1e-4)
    _, df_u, p_u = pooled_chi2(counts, 1, p, math.inf)
    assert df_u == 3 and p_u < 1e-3
    # at a large n nothing is pooled: equal to scipy's chisquare
    big = np.array([6000, 3000, 600, 300, 100])
    s_big, df_big, _ = pooled_chi2(big, 0, p, math.inf)
    assert df_big == 4
    assert s_big == pytest.approx(stats.chisquare(big, p * big.sum()).statistic)
    assert pooled_chi2_threshold(0.01, 2, 50, math.inf) == pytest.approx(stats.chi2.isf(0.01, 2))


def test_pooled_chi2_holds_its_level_where_the_raw_one_does_not() -> None:
    p = np.array([0.7, 0.2, *([0.1 / 20] * 20)])  # 20 rare categories
    rng = np.random.default_rng(5)
    n, reps = 60, 4_000
    raw_rej = pooled_rej = 0
    for _ in range(reps):
        c = rng.multinomial(n, p)
        raw_rej += stats.chisquare(c, p * n).pvalue < 0.01
        pooled_rej += pooled_chi2(c, 0, p, math.inf)[2] < 0.01
    assert raw_rej / reps > 0.02  # sparse cells inflate the raw chi-square
    assert pooled_rej / reps <= 0.015


# -- storage -------------------------------------------------------------------------


def _tables_json(b: Baseline) -> str:
    assert b.calibration is not None
    return json.dumps(b.calibration.to_json(), sort_keys=True)


def test_calibration_round_trips_bit_for_bit(baseline: Baseline, tmp_path: Path) -> None:
    saved = save_baseline(baseline, tmp_path / "m.dmb")
    loaded = load_baseline(tmp_path / "m.dmb")
    assert loaded.calibration is not None and baseline.calibration is not None
    assert _tables_json(loaded) == _tables_json(baseline)
    for col, tests in baseline.calibration.columns.items():
        for test, tab in tests.items():
            other = loaded.calibration.columns[col][test]
            assert other.quantiles.tobytes() == tab.quantiles.tobytes()
            assert other.sizes.tobytes() == tab.sizes.tobytes()
            assert other.population == tab.population and other.cells == tab.cells
    again = save_baseline(loaded, tmp_path / "again.dmb")
    assert again.checksum == saved.checksum == loaded.checksum


def test_calibration_is_deterministic_and_covered_by_the_checksum(tmp_path: Path) -> None:
    a = build_baseline(_train(), "m", version="1")
    b = build_baseline(_train(), "m", version="1")
    assert _tables_json(a) == _tables_json(b)
    path = tmp_path / "m.dmb"
    save_baseline(a, path)
    doc, members = read_members(path)
    tables = json.loads(members[CALIBRATION_MEMBER])
    tables["columns"]["x"]["psi"]["quantiles"][0][0] *= 2
    members[CALIBRATION_MEMBER] = json.dumps(tables).encode()
    write_members(path, doc, members)
    with pytest.raises(Exception, match="checksum mismatch"):
        load_baseline(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t["columns"]["x"]["psi"]["quantiles"][1].__setitem__(0, math.nan), "finite"),
        (lambda t: t["columns"].__setitem__("ghost", t["columns"]["x"]), "not a baseline column"),
        (lambda t: t["columns"]["x"]["psi"]["sizes"].reverse(), "sizes must increase"),
    ],
)
def test_a_hostile_calibration_member_is_refused_by_name(
    baseline: Baseline, tmp_path: Path, edit: Any, message: str
) -> None:
    # A NaN quantile would make the column unable to alert, silently: refused at load.
    path = tmp_path / "m.dmb"
    save_baseline(baseline, path)
    doc, members = read_members(path)
    tables = json.loads(members[CALIBRATION_MEMBER])
    edit(tables)
    members[CALIBRATION_MEMBER] = json.dumps(tables).encode()
    doc.pop("checksum")
    doc["checksum"] = documented_checksum(doc, members)
    write_members(path, doc, members)
    with pytest.raises(BaselineError, match=f"thresholds/calibration.json.*{message}"):
        load_baseline(path)


def test_older_file_without_calibration_is_calibrated_at_load(
    baseline: Baseline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.dmb"
    save_baseline(baseline, path)
    doc, members = read_members(path)
    del members[CALIBRATION_MEMBER]
    doc.pop("checksum")
    doc["checksum"] = documented_checksum(doc, members)
    write_members(path, doc, members)
    with caplog.at_level(logging.INFO, logger="drift_monitor.baseline"):
        old = load_baseline(path)
    assert any("no calibration tables" in r.getMessage() for r in caplog.records)
    assert _tables_json(old) == _tables_json(baseline)  # the same numbers as at build


def test_calibration_rejects_another_version() -> None:
    with pytest.raises(ValueError, match="calibration version"):
        Calibration.from_json({"version": 99, "seed": 0, "columns": {}})


# -- decisions -------------------------------------------------------------------------


def _window(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    df = _train(n, seed)
    df["x"] = df["x"] + shift * 2.0
    return df


def test_small_null_windows_do_not_alarm_in_calibrated_mode(baseline: Baseline) -> None:
    calibrated, fixed = DetectionSettings(), DetectionSettings(threshold_mode="fixed")
    c_warn = f_warn = 0
    for seed in range(1, 61):
        data = window_from_frame(baseline, _window(100, seed))
        c_warn += evaluate_window(baseline, data, calibrated).status >= Status.WARNING
        f_warn += evaluate_window(baseline, data, fixed).status >= Status.WARNING
    assert c_warn <= 6  # <= 5 % budget (+ noise of 60 windows)
    assert f_warn > 30  # the problem being solved: fixed PSI 0.1 at n = 100


def test_real_shift_alerts_and_levels_are_reported(baseline: Baseline) -> None:
    result = evaluate_window(
        baseline, window_from_frame(baseline, _window(1_000, 9, shift=0.5)), DetectionSettings()
    )
    x = next(c for c in result.columns if c.name == "x")
    assert x.status == Status.ALERT and result.status == Status.ALERT
    psi = x.tests["psi"]
    assert psi.mode == "calibrated" and psi.levels is not None
    alert = psi.levels["alert"]
    assert alert.floor == 0.1
    assert 0 < alert.threshold < 0.1  # far below fixed 0.25 at n = 1 000
    assert psi.threshold == max(alert.threshold, alert.floor)
    assert psi.levels["warning"].threshold < alert.threshold
    # the other columns, not shifted, stay quiet
    assert all(c.status == Status.OK for c in result.columns if c.name != "x")


def test_floor_keeps_a_huge_window_quiet(baseline: Baseline) -> None:
    # A 100 000-event window with a tiny PSI (~0.01): significant, below the floor.
    result = evaluate_window(
        baseline, window_from_frame(baseline, _window(100_000, 4, shift=0.1)), DetectionSettings()
    )
    x = next(c for c in result.columns if c.name == "x")
    psi = x.tests["psi"]
    assert psi.levels is not None and psi.statistic > psi.levels["alert"].threshold
    assert psi.statistic < psi.levels["warning"].floor  # type: ignore[operator]
    assert psi.status == Status.OK


def test_fixed_mode_keeps_todays_numbers(baseline: Baseline) -> None:
    data = window_from_frame(baseline, _window(2_000, 5, shift=0.2))
    fixed = evaluate_window(baseline, data, DetectionSettings(threshold_mode="fixed"))
    for c in fixed.columns:
        for t in c.tests.values():
            assert t.mode == "fixed"
            if t.status is not None:
                assert t.levels is not None
                th = DetectionSettings().threshold(c.name, t.test)
                assert (t.levels["warning"].threshold, t.levels["alert"].threshold) == (
                    th.warning,
                    th.alert,
                )


def test_thresholds_mode_spelling() -> None:
    s = DetectionSettings.model_validate(
        {"thresholds": {"mode": "fixed", "psi": {"warning": 0.2, "alert": 0.3}}}
    )
    assert s.threshold_mode == "fixed"
    assert s.thresholds["psi"].alert == 0.3
    assert DetectionSettings().threshold_mode == "calibrated"
    with pytest.raises(ValueError):
        DetectionSettings.model_validate({"thresholds": {"mode": "magic"}})
    with pytest.raises(ValueError):
        DetectionSettings.model_validate({"calibration": {"alert_rate": 0.1, "warning_rate": 0.05}})


# -- the registry says how each test is calibrated ----------------------------------


def test_every_table_calibrated_test_gets_a_null_table_for_every_column(
    baseline: Baseline,
) -> None:
    # Adding a registry entry with ``Calibrated("table")`` must come with its simulation:
    # calibrate() builds a table for exactly the table-calibrated tests of each column.
    assert {t for k in ("numeric", "categorical") for t in _table_tests(k)} == SIMULATED_TESTS
    tables = baseline.null_tables()
    for col in baseline.columns:
        for t in REGISTRY:
            table = tables.table(col.name, t.name)
            wanted = (
                t.calibration is not None and t.calibration.null == "table" and t.supports(col.kind)
            )
            assert (table is not None) == wanted, (col.name, t.name)


def test_default_floors_come_from_the_registry() -> None:
    floors = DetectionSettings().calibration.floors
    for t in REGISTRY:
        spec = t.calibration
        if spec is None or spec.floors is None:
            assert t.name not in floors
        else:
            assert (floors[t.name].warning, floors[t.name].alert) == (
                spec.floors.warning,
                spec.floors.alert,
            )


def test_an_uncalibrated_test_decides_as_in_fixed_mode(baseline: Baseline) -> None:
    # Cramér–von Mises has no calibration: made deciding in calibrated mode it is decided
    # by its own p-value and levels, exactly as in fixed mode, outside the budget.
    assert drift_test("cramervonmises").calibration is None
    frame = _train(2_000, seed=5)
    frame["x"] += 0.3
    window = window_from_frame(baseline, frame)
    results = {}
    for mode in ("calibrated", "fixed"):
        settings = DetectionSettings.model_validate(
            {
                "numeric_tests": ["cramervonmises", "psi"],
                "numeric_decision": ["cramervonmises"],
                "thresholds": {"mode": mode},
            }
        )
        results[mode] = evaluate_window(baseline, window, settings).columns
    cal = next(c for c in results["calibrated"] if c.name == "x").tests["cramervonmises"]
    fix = next(c for c in results["fixed"] if c.name == "x").tests["cramervonmises"]
    assert fix.status is not None and fix.status >= Status.WARNING  # a real 0.15 sd shift
    assert (cal.status, cal.threshold, cal.p_value_adjusted) == (
        fix.status,
        fix.threshold,
        fix.p_value_adjusted,
    )
    assert cal.mode == "fixed"
