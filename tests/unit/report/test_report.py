"""The HTML drift report: structure, self-containment, escaping, the CLI path."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor import Baseline, build_baseline
from drift_monitor.cli import main
from drift_monitor.demo import dataset
from drift_monitor.demo.dataset import DEFAULT_DRIFT, drifted_columns, production_frame
from drift_monitor.errors import DriftMonitorError
from drift_monitor.evaluation import Status, WindowResult
from drift_monitor.report import render_report, write_report
from drift_monitor.windows.data import WindowData
from tests.unit.report.conftest import evaluate

DATA = Path(dataset.__file__).resolve().parent.parent / "data"
ROW = re.compile(r'<tr class="row st-(\w+)">.*?<code>(.*?)</code>', re.S)
SECTION = re.compile(r'<section class="col st-(\w+)" id="col-(\d+)">(.*?)</section>', re.S)
VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "path"}


def _sections(page: str) -> dict[str, tuple[str, str]]:
    """column name -> (status, section html)."""
    out = {}
    for status, _, body in SECTION.findall(page):
        name = re.search(r"<h3>.*?<code>(.*?)</code>", body, re.S)
        assert name is not None
        out[name.group(1)] = (status, body)
    return out


class _Balance(HTMLParser):
    """Fails on a closing tag that does not match the open one (void tags excepted)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


@pytest.fixture(scope="module")
def page(credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]) -> str:
    result, window = drifted
    return render_report(result, credit_baseline, window)


def test_verdict_banner(page: str, credit_baseline: Baseline) -> None:
    verdict = page[page.index('<section class="verdict') : page.index("</section>")]
    assert 'class="verdict st-alert"' in verdict
    assert ">alert</span>" in verdict
    assert "5 of 15 evaluated columns drifted" in verdict
    assert credit_baseline.version in verdict
    assert credit_baseline.created_at in verdict
    assert "5,000" in verdict
    assert "offline check" in verdict
    for name in drifted_columns(DEFAULT_DRIFT):
        assert f"<code>{name}</code>" in verdict
    assert re.search(r"Unseen categories:</b> <a [^>]*><code>loan_purpose</code></a></p>", verdict)
    assert "Missing ratio changed" not in verdict
    assert "<title>Drift report: credit</title>" in page


def test_table_has_one_row_per_column_worst_first(
    page: str, drifted: tuple[WindowResult, WindowData]
) -> None:
    result, _ = drifted
    table = page[page.index('<table class="cols">') : page.index("</table>")]
    rows = ROW.findall(table)
    assert [name for _, name in rows] == [c.name for c in result.by_severity()]
    assert [status for status, _ in rows] == [c.status.label for c in result.by_severity()]
    assert {name for status, name in rows if status == "alert"} == set(
        drifted_columns(DEFAULT_DRIFT)
    )
    # every alerting column marks the test that set its status; ok columns mark none
    for row in re.findall(r'<tr class="row st-alert">.*?</tr>', table, re.S):
        assert row.count('class="mark"') == 1
    for row in re.findall(r'<tr class="row st-ok">.*?</tr>', table, re.S):
        assert 'class="mark"' not in row
    # the unseen ratio of loan_purpose (8 %) is highlighted
    purpose = re.search(r'<tr class="row st-alert">(?:(?!</tr>).)*loan_purpose.*?</tr>', table)
    assert purpose is not None and 'class="num flag"' in purpose.group(0)
    for header in ("PSI", "KS D", "χ²", "W1/std", "JS", "Missing", "Unseen"):
        assert f"<th>{header}</th>" in table


def test_one_plot_section_per_column(
    page: str, credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]
) -> None:
    result, _ = drifted
    sections = _sections(page)
    assert list(sections) == [c.name for c in result.by_severity()]
    for col in credit_baseline.columns:
        status, body = sections[col.name]
        assert status == result.columns[credit_baseline.column_names.index(col.name)].status.label
        assert "<svg" in body
        if col.kind == "numeric":
            assert body.count("<svg") == 3
            assert 'aria-label="empirical CDFs of' in body
            assert 'aria-label="PSI bins of' in body
            assert "D = " in body  # the KS gap is marked
        else:
            assert body.count("<svg") == 1
            assert 'aria-label="categories of' in body
            assert '<table class="shares">' in body
    _, purpose = sections["loan_purpose"]
    assert "__unseen__" in purpose
    assert "Unseen categories: 8." in purpose
    assert "unseen in training" in purpose  # the legend of the red bar
    _, channel = sections["channel"]
    assert "__unseen__" not in channel


def test_self_contained_and_well_formed(page: str) -> None:
    lowered = page.lower()
    for ref in ("http://", "https://", "<script", "<link", "src=", "@import", "url("):
        assert ref not in lowered, ref
    assert page.startswith("<!DOCTYPE html>")
    checker = _Balance()
    checker.feed(page)
    checker.close()
    assert checker.stack == []


def test_hostile_names_are_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            hostile: rng.normal(size=2000),
            "cat\"'&<u>": rng.choice(["<img src=x onerror=alert(1)>", "a&b", "ok"], 2000),
        }
    )
    baseline = build_baseline(train, 'm"><script>x()</script>')
    window_df = pd.DataFrame(
        {
            hostile: rng.normal(1.0, size=500),
            "cat\"'&<u>": rng.choice(["</svg><script>y()</script>", "a&b"], 500),
        }
    )
    result, window = evaluate(baseline, window_df)
    page = render_report(result, baseline, window, title="<i>t</i>")
    assert "<script" not in page.lower()
    assert "<img" not in page and "<u>" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "a&amp;b" in page
    assert "cat&quot;&#x27;&amp;&lt;u&gt;" in page
    assert "&lt;i&gt;t&lt;/i&gt;" in page
    checker = _Balance()
    checker.feed(page)
    assert checker.stack == []


def test_cli_check_writes_the_report(tmp_path: Path) -> None:
    dmb = str(tmp_path / "credit.dmb")
    train = str(DATA / "credit_train.csv")
    build = ["baseline", "build", "--model", "credit", "--input", train]
    assert main([*build, "--prediction", "default_score", "--out", dmb]) == 0
    out = tmp_path / "out.html"
    drifted = str(DATA / "credit_production_drifted.csv")
    assert main(["check", "--baseline", dmb, "--input", drifted, "--report", str(out)]) == 1
    page = out.read_text(encoding="utf-8")
    assert 'class="verdict st-alert"' in page
    assert page.count('<section class="col') == 15
    ok_out = tmp_path / "ok.html"
    ok = str(DATA / "credit_production_ok.csv")
    assert main(["check", "--baseline", dmb, "--input", ok, "--report", str(ok_out)]) == 0
    assert 'class="verdict st-ok"' in ok_out.read_text(encoding="utf-8")


def test_insufficient_data(credit_baseline: Baseline) -> None:
    result, window = evaluate(credit_baseline, production_frame(40, seed=3))
    assert result.status == Status.INSUFFICIENT_DATA
    page = render_report(result, credit_baseline, window)
    assert 'class="verdict st-insufficient_data"' in page
    assert "Not enough data to judge: 40 events" in page
    sections = _sections(page)
    assert len(sections) == 15
    for status, body in sections.values():
        assert status == "insufficient_data"
        assert "Insufficient data: " in body
        assert "&lt; min_events 100" in body
        assert "<svg" in body  # the few values are still drawn
        if 'aria-label="empirical CDFs of' in body:
            assert "max gap = " in body and "D = " not in body  # no KS test ran


def test_missing_values_are_flagged(credit_baseline: Baseline) -> None:
    df = production_frame(3000, seed=4)
    df.loc[df.index[:1500], "age"] = np.nan
    df["channel"] = None
    result, window = evaluate(credit_baseline, df)
    page = render_report(result, credit_baseline, window)
    sections = _sections(page)
    _, age = sections["age"]
    assert "Missing values: 50.0 % of events, against 0.0 % in training" in age
    _, channel = sections["channel"]
    assert "The window has no values for this column: baseline only." in channel
    assert "<svg" in channel
    verdict = page[page.index('<section class="verdict') : page.index("</section>")]
    assert re.search(r"Missing ratio changed:</b> .*<code>age</code>", verdict)
    assert "<code>channel</code>" in verdict  # all missing now
    table = page[page.index('<table class="cols">') : page.index("</table>")]
    age_row = re.search(r"<tr [^>]*>(?:(?!</tr>).)*<code>age</code>.*?</tr>", table)
    assert age_row is not None and 'class="num flag"' in age_row.group(0)
    delinquency = re.search(
        r"<tr [^>]*>(?:(?!</tr>).)*<code>months_since_last_delinquency</code>.*?</tr>", table
    )
    assert delinquency is not None and "flag" not in delinquency.group(0)  # 60 % as in training


def test_window_bounds_and_column_without_baseline_values() -> None:
    train = pd.DataFrame({"x": np.arange(500.0), "empty": [np.nan] * 500})
    baseline = build_baseline(train, "m")
    result, window = evaluate(baseline, pd.DataFrame({"x": np.arange(500.0), "empty": 1.0}))
    start = dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC).timestamp()
    bounded = WindowResult(
        result.model,
        result.baseline_version,
        result.events,
        start,
        start + 300,
        result.status,
        result.drift_share,
        result.columns,
    )
    page = render_report(bounded, baseline, window)
    assert "2026-11-26T10:00:00Z → 2026-11-26T10:05:00Z" in page
    _, empty = _sections(page)["empty"]
    assert "No plots: the baseline has no values for this column." in empty
    assert "<svg" not in empty


def test_write_report(tmp_path: Path, drifted: tuple[WindowResult, WindowData]) -> None:
    result, window = drifted
    baseline = build_baseline(dataset.training_frame(2000), "credit", prediction=["default_score"])
    target = tmp_path / "r.html"
    write_report(target, result, baseline, window, title="Nightly check")
    assert "<h1>Nightly check</h1>" in target.read_text(encoding="utf-8")
    with pytest.raises(DriftMonitorError, match="cannot write the report"):
        write_report(tmp_path / "missing" / "r.html", result, baseline, window)
