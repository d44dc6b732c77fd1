"""The report's plot data and SVG primitives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_monitor import Baseline, build_baseline
from drift_monitor.baseline import CategoricalProfile, NumericProfile
from drift_monitor.evaluation import WindowResult
from drift_monitor.report import charts, fmt
from drift_monitor.report.data import TOP_CATEGORIES, categorical_plots, numeric_plots
from drift_monitor.report.svg import Canvas, nice_ticks
from drift_monitor.stats import encode_categories
from drift_monitor.stats.prepared import PreparedCategorical
from drift_monitor.windows.data import WindowData


def _numeric(baseline: Baseline, name: str) -> NumericProfile:
    p = baseline.column(name).profile
    assert isinstance(p, NumericProfile)
    return p


def test_ecdf_gap_is_the_ks_statistic(
    credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]
) -> None:
    result, window = drifted
    for col in result.columns:
        if "ks" not in col.tests:
            continue
        plots = numeric_plots(_numeric(credit_baseline, col.name), window.numeric[col.name])
        e = plots.ecdf
        assert e.window is not None and e.gap_x is not None
        assert abs(e.gap_window - e.gap_baseline) == pytest.approx(col.tests["ks"].statistic)
        assert np.all(np.diff(e.x) > 0)
        assert np.all(np.diff(e.baseline) >= 0) and np.all(np.diff(e.window) >= 0)


def test_histograms_and_psi_bins_hold_every_value(
    credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]
) -> None:
    _, window = drifted
    income = numeric_plots(
        _numeric(credit_baseline, "annual_income"), window.numeric["annual_income"]
    )
    h = income.histogram
    assert h is not None and h.window is not None and income.discrete is None
    assert h.baseline.sum() == pytest.approx(1.0) and h.window.sum() == pytest.approx(1.0)
    assert np.allclose(np.diff(h.edges), h.edges[1] - h.edges[0])
    assert h.clipped  # log-normal tails reach beyond the 99.5 % quantile
    assert income.psi.window is not None and income.psi.window.sum() == pytest.approx(1.0)
    term = numeric_plots(
        _numeric(credit_baseline, "loan_term_months"), window.numeric["loan_term_months"]
    )
    assert term.histogram is None and term.discrete is not None
    assert list(term.discrete.values) == [12, 24, 36, 48, 60]
    assert term.discrete.baseline.sum() == pytest.approx(1.0)


def test_numeric_plots_without_window_values(credit_baseline: Baseline) -> None:
    plots = numeric_plots(_numeric(credit_baseline, "age"), np.full(10, np.nan))
    assert plots.window_values == 0
    assert plots.ecdf.window is None and plots.ecdf.gap_x is None
    assert plots.histogram is not None and plots.histogram.window is None
    svg = charts.ecdf_chart(plots.ecdf, "age", None)
    assert "D = " not in svg and "window" not in svg.split("</title>", 1)[1]


def test_categorical_plots_pool_the_tail_and_show_unseen() -> None:
    cats = [f"c{i:02d}" for i in range(30)]
    train = pd.DataFrame({"k": np.repeat(cats, np.arange(30, 0, -1))})
    baseline = build_baseline(train, "m")
    profile = baseline.column("k").profile
    assert isinstance(profile, CategoricalProfile)
    prep = baseline.prepared()["k"]
    assert isinstance(prep, PreparedCategorical)
    codes = encode_categories(["c29"] * 50 + ["c00"] * 40 + ["new"] * 10 + [None] * 5, prep)
    cp = categorical_plots(profile, codes)
    assert len(cp.labels) == TOP_CATEGORIES + 2
    assert cp.labels[0] == "c29"  # ranked by the larger of the two shares
    assert cp.labels[-2] == f"({30 - TOP_CATEGORIES} more)"
    assert cp.unseen_index == len(cp.labels) - 1 and cp.labels[-1] == "__unseen__"
    assert cp.window is not None
    assert cp.window[-1] == pytest.approx(0.1)
    assert cp.window.sum() == pytest.approx(1.0) and cp.baseline.sum() == pytest.approx(1.0)
    assert cp.window_values == 100
    svg = charts.category_chart(cp, "k")
    assert "__unseen__" in svg and "unseen in training" in svg
    empty = categorical_plots(profile, None)
    assert empty.window is None and empty.unseen_index is None


def test_nice_ticks() -> None:
    assert nice_ticks(0, 1, 4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0, 0.37, 4) == [0.0, 0.1, 0.2, 0.3]
    assert nice_ticks(8_000, 212_000, 5) == [50_000.0, 100_000.0, 150_000.0, 200_000.0]
    assert nice_ticks(3, 3) == [3]
    assert nice_ticks(0, float("inf")) == []


def test_canvas_escapes_text_and_labels() -> None:
    c = Canvas(100, 50, 'a"<b>')
    c.text(1, 2, "</svg><script>")
    c.rect(0, 0, 5, 5, fill="#000", tip="<i>")
    svg = c.render()
    assert "<script>" not in svg and "<i>" not in svg and 'a"<b>' not in svg
    assert "&lt;/svg&gt;&lt;script&gt;" in svg and 'aria-label="a&quot;&lt;b&gt;"' in svg


def test_formatting() -> None:
    assert fmt.stat(None) == "-"
    assert fmt.stat(0.00012) == "1.2e-04"
    assert fmt.stat(337091.5) == "337,092"
    assert fmt.stat(float("inf")) == "∞"
    assert fmt.p_value(0.0) == "< 1e-300"
    assert fmt.p_value(0.9999) == "1"
    assert fmt.pct(0.0823) == "8.2 %"
    assert fmt.axis(212_000) == "212k" and fmt.axis(2_500_000) == "2.5M"
    assert fmt.share(0.25) == "25 %" and fmt.share(0.025) == "2.5 %"
    assert fmt.timestamp(0) == "1970-01-01T00:00:00Z"
