"""The HTML report over time (``drift-monitor report --from RECORDS --model M``).

One self-contained page (inline CSS and SVG, no JavaScript) built from a run's
per-window records (:mod:`drift_monitor.report.records`): the run's verdicts, a strip
of every window's model status, then for every column (most alerting first) one chart
per test with its statistic over the windows (points coloured by the column's status),
the warning and alert thresholds as dashed steps when the records carry them, and the
incidents as vertical lines (detected red, escalated amber, resolved green; performance
degraded purple, recovered teal). When the records carry the windows' model performance
(``window.performance``), a "Model performance" section comes before the columns
(:mod:`drift_monitor.report.performance`). Every text from the records goes through
:func:`html.escape`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from drift_monitor.errors import DriftMonitorError
from drift_monitor.evaluation.results import Status
from drift_monitor.report import fmt
from drift_monitor.report.markup import e, pill, test_label
from drift_monitor.report.performance import performance_section, verdict_summary
from drift_monitor.report.records import (
    INCIDENT_TYPES,
    ColumnPoint,
    IncidentMark,
    RunRecords,
    WindowPoint,
)
from drift_monitor.report.style import CSS
from drift_monitor.report.svg import (
    AXIS,
    BASELINE,
    Canvas,
    Plot,
    legend,
    nice_ticks,
    plot_area,
    title,
    x_axis,
    y_axis,
)

WIDTH = 640
HEIGHT = 240
STATUS_COLOUR = {
    Status.INSUFFICIENT_DATA: "#8c959f",
    Status.OK: "#1a7f37",
    Status.WARNING: "#d4a72c",
    Status.ALERT: "#cf222e",
}
INCIDENT_COLOUR = dict(
    zip(INCIDENT_TYPES, ("#cf222e", "#d4a72c", "#1a7f37", "#8250df", "#1b7c83"), strict=True)
)
_PERFORMANCE_NOTE = (
    " Model performance: a window's metrics on the labels joined when it was recorded "
    "(hollow: not final yet); the dashed step is the baseline's value on its validation set."
)
_EXTRA_CSS = """
.strip svg, .history svg { width: 100%; height: auto; border: 1px solid #eaeef2;
  border-radius: 6px; background: #fff; }
.history { display: grid; gap: 12px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
"""


def write_history_report(
    path: str | os.PathLike[str], run: RunRecords, *, title: str | None = None
) -> None:
    """Write :func:`render_history` to ``path`` (UTF-8); DriftMonitorError naming the
    file when it cannot be written."""
    target = Path(path)
    page = render_history(run, title=title)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise DriftMonitorError(
            f"{target}: cannot write the report ({exc.strerror}); "
            "check that the directory exists and is writable"
        ) from None


def render_history(run: RunRecords, *, title: str | None = None) -> str:
    """The page for ``run`` (at least one window), as a string."""
    heading = title or f"Drift over time: {run.model}"
    names = _columns_worst_first(run.windows)
    sections = [_column_section(i, n, run) for i, n in enumerate(names)]
    return "".join(
        [
            "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{e(heading)}</title><style>{CSS}{_EXTRA_CSS}</style></head><body>",
            f"<main><h1>{e(heading)}</h1>",
            _summary(run),
            performance_section(run, _x_range(run), _decorate(run), _iso),
            '<h2 id="columns">Columns</h2>',
            *sections,
            "<footer>Built by <code>drift-monitor report --from</code> from the per-window "
            "records (audit log or report topic). Statistics are the window's; dashed "
            "lines are the thresholds on the statistic's scale (chi-square decides on "
            "Cohen's w, so its thresholds are not drawn)."
            + (_PERFORMANCE_NOTE if run.performance else "")
            + "</footer>",
            "</main></body></html>\n",
        ]
    )


def _alerts(windows: list[WindowPoint], name: str) -> tuple[int, int]:
    cols = [w.columns[name] for w in windows if name in w.columns]
    return (
        sum(c.status == Status.ALERT for c in cols),
        sum(c.status == Status.WARNING for c in cols),
    )


def _columns_worst_first(windows: list[WindowPoint]) -> list[str]:
    names = sorted({n for w in windows for n in w.columns})
    return sorted(names, key=lambda n: tuple(-k for k in _alerts(windows, n)))


def _summary(run: RunRecords) -> str:
    ws = run.windows
    worst = max((w.status for w in ws), key=int)
    counts = {s: sum(w.status == s for w in ws) for s in Status}
    versions = sorted({w.baseline_version for w in ws})
    incidents = ", ".join(
        f"{sum(m.type == t for m in run.incidents)} {t.split('.')[1]}"
        + (" (performance)" if t.startswith("performance.") else "")
        for t in INCIDENT_COLOUR
        if any(m.type == t for m in run.incidents)
    )
    facts = [
        ("windows", fmt.count(len(ws))),
        ("from", _iso(ws[0].start_ms)),
        ("to", _iso(ws[-1].end_ms)),
        ("events", fmt.count(sum(w.events for w in ws))),
        ("statuses", ", ".join(f"{n} {s.label}" for s, n in counts.items() if n)),
        ("incidents", incidents or "none"),
        ("baseline", ", ".join(versions)),
    ]
    performance = verdict_summary(run)
    if performance is not None:
        facts.append(("performance", performance))
    if run.skipped:
        facts.append(("unreadable lines skipped", fmt.count(run.skipped)))
    dl = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in facts)
    return (
        f'<div class="verdict st-{worst.label}"><div class="verdict-head">worst window '
        f"{pill(worst)}</div><dl>{dl}</dl></div>"
        f'<div class="strip">{_status_strip(run)}</div>'
    )


def _iso(ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _x_range(run: RunRecords) -> tuple[float, float]:
    spans = [(w.start_ms, w.end_ms) for w in run.windows]
    spans += [(p.start_ms, p.end_ms) for p in run.performance]
    lo = min(a for a, _ in spans) / 1000
    hi = max(b for _, b in spans) / 1000
    return (lo, hi) if hi > lo else (lo - 1, hi + 1)


def _time_fmt(span: float) -> Callable[[float], str]:
    pattern = "%H:%M:%S" if span < 3600 else ("%H:%M" if span < 2 * 86400 else "%m-%d %H:%M")

    def label(t: float) -> str:
        return dt.datetime.fromtimestamp(t, dt.UTC).strftime(pattern)

    return label


#: Tick steps of the time axis in seconds (whole clock units, not 50 s).
_TIME_STEPS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)


def time_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Ticks on whole clock units (epoch seconds) covering [lo, hi], about ``target``."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    step = next((s for s in _TIME_STEPS if s >= raw), None)
    if step is None:  # beyond a day per tick: whole days
        step = 86400 * max(1, round(raw / 86400))
    first = -(-lo // step) * step
    return [first + k * step for k in range(int((hi - first) // step) + 1)]


def _time_axis(c: Canvas, p: Plot) -> None:
    span = p.x.hi - p.x.lo
    x_axis(c, p, time_ticks(p.x.lo, p.x.hi, 5), _time_fmt(span), "window end (UTC)")


def _incidents(c: Canvas, p: Plot, marks: list[IncidentMark]) -> None:
    for m in marks:
        x = p.x(m.end_ms / 1000)
        colour = INCIDENT_COLOUR.get(m.type, AXIS)
        c.line(x, p.top, x, p.bottom, stroke=colour, width=1.5, dash="2 3")
        c.rect(x - 4, p.top - 8, 8, 8, fill=colour, tip=f"{m.type} {m.id} at {_iso(m.end_ms)}")


def _decorate(run: RunRecords) -> Callable[[Canvas, Plot], None]:
    """Incident marks and the time axis, as every chart of the page draws them."""

    def draw(c: Canvas, p: Plot) -> None:
        _incidents(c, p, run.incidents)
        _time_axis(c, p)

    return draw


def _status_strip(run: RunRecords) -> str:
    c = Canvas(WIDTH * 2, 90, f"model status per window of {run.model}")
    p = plot_area(c, _x_range(run), (0.0, 1.0), margin=(24, 30, 40, 52))
    for w in run.windows:
        x0, x1 = p.x(w.start_ms / 1000), p.x(w.end_ms / 1000)
        tip = f"{_iso(w.start_ms)} – {_iso(w.end_ms)}: {w.status.label}, {w.events} events"
        c.rect(
            x0, p.top, max(x1 - x0, 1.0), p.bottom - p.top, fill=STATUS_COLOUR[w.status], tip=tip
        )
    _incidents(c, p, run.incidents)
    _time_axis(c, p)
    title(c, "Model status per window")
    legend(c, [(s.label, STATUS_COLOUR[s]) for s in Status], y=14)
    return c.render()


def _column_section(i: int, name: str, run: RunRecords) -> str:
    points = [(w, w.columns[name]) for w in run.windows if name in w.columns]
    last: ColumnPoint = points[-1][1]
    tests = list(dict.fromkeys(t for _, c in points for t in c.tests))
    alerts, warnings = _alerts(run.windows, name)
    charts = "".join(_test_chart(name, t, points, run) for t in tests)
    return (
        f'<section class="col st-{last.status.label}" id="col-{i}"><h3>{e(name)} '
        f'<span class="kind">{e(last.kind)}</span> {pill(last.status)}</h3>'
        f'<p class="facts">{alerts} window(s) in alert, {warnings} in warning, of '
        f"{len(points)}; last window {e(last.status.label)}</p>"
        f'<div class="history">{charts}</div></section>'
    )


def _label(test: str) -> str:
    try:
        return test_label(test)
    except (KeyError, ValueError):  # a test this version does not know
        return test


def _test_chart(
    column: str, test: str, points: list[tuple[WindowPoint, ColumnPoint]], run: RunRecords
) -> str:
    series = [(w, c.status, c.tests[test]) for w, c in points if test in c.tests]
    values = [v for _, _, t in series for v in (t.statistic, t.warning, t.alert) if v is not None]
    hi = max(values, default=1.0)
    lo = min(0.0, min(values, default=0.0))
    c = Canvas(WIDTH, HEIGHT, f"{test} statistic of {column} over windows")
    p = plot_area(c, _x_range(run), (lo, hi * 1.1 if hi > 0 else 1.0), margin=(34, 30, 46, 52))
    y_axis(c, p, nice_ticks(p.y.lo, p.y.hi, 4), fmt.axis)
    for level, colour in (
        ("warning", STATUS_COLOUR[Status.WARNING]),
        ("alert", STATUS_COLOUR[Status.ALERT]),
    ):
        for w, _, t in series:
            v = getattr(t, level)
            if v is not None:  # the window's own threshold (calibrated ones vary)
                x0, x1, y = p.x(w.start_ms / 1000), p.x(w.end_ms / 1000), p.y(v)
                c.line(x0, y, x1, y, stroke=colour, width=1.2, dash="5 3")
    line = [
        (p.x(w.end_ms / 1000), p.y(t.statistic)) for w, _, t in series if t.statistic is not None
    ]
    if len(line) > 1:
        c.path("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in line), stroke=BASELINE, width=1.5)
    for w, st, t in series:
        if t.statistic is None:
            continue
        tip = f"{_iso(w.end_ms)}: {t.statistic:.6g} ({st.label})"
        if t.p_value is not None:
            tip += f", p {fmt.p_value(t.p_value)}"
        x, y = p.x(w.end_ms / 1000), p.y(t.statistic)
        c.rect(x - 3, y - 3, 6, 6, fill=STATUS_COLOUR[st], tip=tip)
    _incidents(c, p, run.incidents)
    _time_axis(c, p)
    title(c, f"{_label(test)} statistic")
    return c.render()
