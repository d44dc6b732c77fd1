"""The HTML drift report: one self-contained page (inline CSS and SVG, no JavaScript).

Layout, top to bottom: the verdict banner, a table of every column worst first, then
one section per column with its plots (numeric: histogram, ECDF, PSI bins; categorical:
category shares with the ``__unseen__`` bucket). Every piece of text that can come
from user data (model, column and category names, sources) goes through
:func:`html.escape`.
"""

from __future__ import annotations

import os
from pathlib import Path

from drift_monitor.baseline.model import Baseline
from drift_monitor.errors import DriftMonitorError
from drift_monitor.evaluation.results import ColumnResult, Status, TestResult, WindowResult
from drift_monitor.report import fmt
from drift_monitor.report.markup import (
    UNSEEN_NOTABLE,
    anchor,
    deciding_test,
    e,
    effect_note,
    missing_marked,
    pill,
)
from drift_monitor.report.sections import section
from drift_monitor.report.segments import segments_table
from drift_monitor.report.style import CSS
from drift_monitor.stats.registry import DriftTest
from drift_monitor.windows.data import WindowData


def write_report(
    path: str | os.PathLike[str],
    result: WindowResult,
    baseline: Baseline,
    window: WindowData,
    *,
    title: str | None = None,
) -> None:
    """Write :func:`render_report` to ``path`` (UTF-8). Raises
    :class:`~drift_monitor.errors.DriftMonitorError` naming the file when it cannot be
    written."""
    target = Path(path)
    page = render_report(result, baseline, window, title=title)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DriftMonitorError(
            f"{target}: cannot write the report ({exc.strerror}); "
            "check that the directory exists and is writable"
        ) from None


def render_report(
    result: WindowResult,
    baseline: Baseline,
    window: WindowData,
    *,
    title: str | None = None,
) -> str:
    """The report page for one evaluated window, as a string.

    ``window`` is the data ``result`` was computed from (its values are plotted);
    ``title`` defaults to "Drift report: <model>".
    """
    heading = title or f"Drift report: {result.model}"
    columns = result.by_severity()
    sections = [section(i, c, baseline, window) for i, c in enumerate(columns)]
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(heading)}</title><style>{CSS}</style></head><body>",
            f"<main><h1>{e(heading)}</h1>",
            _verdict(result, baseline, columns),
            _table(columns, baseline, result.reported_tests()),
            segments_table(result),
            '<h2 id="columns">Columns</h2>',
            *sections,
            _footer(baseline),
            "</main></body></html>\n",
        ]
    )


def _verdict(result: WindowResult, baseline: Baseline, columns: list[ColumnResult]) -> str:
    index = {c.name: i for i, c in enumerate(columns)}
    st = result.status
    if st == Status.INSUFFICIENT_DATA:
        summary = f"Not enough data to judge: {fmt.count(result.events)} events in the window."
    else:
        evaluated = sum(1 for c in columns if c.status != Status.INSUFFICIENT_DATA)
        summary = (
            f"{len(result.drifted)} of {evaluated} evaluated columns drifted "
            f"(drift share {fmt.pct(result.drift_share, 0)})."
        )

    def links(cols: list[ColumnResult]) -> str:
        return ", ".join(
            f'<a href="#{anchor(index[c.name])}"><code>{e(c.name)}</code></a>' for c in cols
        )

    lists = []
    if result.drifted:
        lists.append(f"<p><b>Drifted:</b> {links(result.drifted)}</p>")
    warned = [c for c in columns if c.status == Status.WARNING]
    if warned:
        lists.append(f"<p><b>Warning:</b> {links(warned)}</p>")
    changed = [
        c
        for c in columns
        if (m := _baseline_missing(baseline, c.name)) is not None
        and missing_marked(c.missing_ratio, m)
    ]
    if changed:
        lists.append(f"<p><b>Missing ratio changed:</b> {links(changed)}</p>")
    unseen = [c for c in columns if c.unseen_ratio is not None and c.unseen_ratio >= UNSEEN_NOTABLE]
    if unseen:
        lists.append(f"<p><b>Unseen categories:</b> {links(unseen)}</p>")
    if result.start is not None or result.end is not None:
        span = f"{fmt.timestamp(result.start)} → {fmt.timestamp(result.end)}"
    else:
        span = "offline check (no event-time bounds)"
    rows = int(baseline.build.get("rows", 0) or 0)
    source = e(baseline.source) + (f" · {fmt.count(rows)} rows" if rows else "")
    meta = [
        ("Model", f"<code>{e(result.model)}</code>"),
        ("Baseline", f"<code>{e(result.baseline_version)}</code>"),
        ("Baseline created", e(baseline.created_at)),
        ("Trained on", source),
        ("Window", e(span)),
        ("Events", fmt.count(result.events)),
    ]
    dl = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in meta)
    return (
        f'<section class="verdict st-{st.label}">'
        f'<div class="verdict-head">{pill(st)}<span class="summary">{e(summary)}</span></div>'
        f"{''.join(lists)}<dl>{dl}</dl></section>"
    )


def _test_cell(t: TestResult | None, deciding: bool) -> str:
    if t is None:
        return '<td class="num na">–</td>'
    classes = ["num", "test"]
    if t.status is not None:
        classes += ["decides", f"st-{t.status.label}"]
    tip = f"{t.test}: statistic {fmt.stat(t.statistic)}"
    if t.status is not None:
        tip += f"; deciding test, {t.status.label} (alert at effect ≥ {fmt.stat(t.threshold)})"
    else:
        tip += "; reported only"
    mark = '<span class="mark" title="set the column status">◆</span>' if deciding else ""
    sub = []
    note = effect_note(t)
    if note is not None:
        sub.append(note)
    if t.p_value is not None:
        sub.append(f"p {fmt.p_value(t.p_value)}")
        if t.p_value_adjusted is not None and t.p_value_adjusted != t.p_value:
            sub.append(f"adj {fmt.p_value(t.p_value_adjusted)}")
    sub_html = f'<div class="sub">{" · ".join(e(s) for s in sub)}</div>' if sub else ""
    return (
        f'<td class="{" ".join(classes)}" title="{e(tip)}">{mark}'
        f"<span class=stat>{e(fmt.stat(t.statistic))}</span>{sub_html}</td>"
    )


def _ratio_cell(ratio: float | None, marked: bool, tip: str) -> str:
    cls = "num flag" if marked else "num"
    return f'<td class="{cls}" title="{e(tip)}">{e(fmt.pct(ratio))}</td>'


def _baseline_missing(baseline: Baseline, name: str) -> float | None:
    try:
        return baseline.column(name).missing_ratio
    except KeyError:
        return None


def _table(columns: list[ColumnResult], baseline: Baseline, tests: list[DriftTest]) -> str:
    head = "".join(f"<th>{e(t.html_label)}</th>" for t in tests)
    rows = []
    for i, c in enumerate(columns):
        dec = deciding_test(c)
        base_missing = _baseline_missing(baseline, c.name)
        flag_missing = base_missing is not None and missing_marked(c.missing_ratio, base_missing)
        unseen_marked = c.unseen_ratio is not None and c.unseen_ratio >= UNSEEN_NOTABLE
        cells = [
            f"<td>{pill(c.status)}</td>",
            f'<td class=name><a href="#{anchor(i)}"><code>{e(c.name)}</code></a></td>',
            f"<td>{e(c.kind)}</td>",
            f'<td class="num">{fmt.count(c.events)}</td>',
            _ratio_cell(
                c.missing_ratio,
                flag_missing,
                f"baseline missing ratio {fmt.pct(base_missing)}",
            ),
            _ratio_cell(c.unseen_ratio, unseen_marked, "share of values never seen in training")
            if c.unseen_ratio is not None
            else '<td class="num na">–</td>',
            *(_test_cell(c.tests.get(t.name), t.name == dec) for t in tests),
        ]
        rows.append(f'<tr class="row st-{c.status.label}">{"".join(cells)}</tr>')
    return (
        '<h2 id="table">All columns, worst first</h2><div class="scroll"><table class="cols">'
        "<thead><tr><th>Status</th><th>Column</th><th>Kind</th><th>Present</th>"
        f"<th>Missing</th><th>Unseen</th>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="legend"><span class="mark">◆</span> the test that set the column status · '
        "shaded cells: deciding tests, coloured by their own status · grey: reported only · "
        '<span class="flagged">highlighted</span> missing/unseen ratios differ markedly from '
        "training · p: raw p-value, adj: after the multiple-testing correction · "
        "χ² is decided on its effect size w = √(χ²/n)</p>"
    )


def _footer(baseline: Baseline) -> str:
    from drift_monitor import __version__  # noqa: PLC0415 - avoid an import cycle

    sample = baseline.build.get("sample_size")
    return (
        "<footer><p><b>How to read this report.</b> Blue is the training baseline, orange "
        "the window. PSI compares the shares of values in the baseline's quantile bins "
        "(about equal by construction, so a bar pair that parts shows where the data moved). "
        "KS D is the largest vertical gap between the two ECDFs (marked in purple), "
        f"against a reference sample of up to {e(sample or '-')} training values. "
        "Categories never seen in training are pooled into <code>__unseen__</code> (red). "
        "Histograms and ECDFs show the 0.5 %–99.5 % quantile range of both samples.</p>"
        f"<p>drift-monitor {e(__version__)} · baseline checksum "
        f"<code>{e(baseline.checksum or 'not saved')}</code></p></footer>"
    )
