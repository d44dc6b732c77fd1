"""The model-performance section of the report over time (``report --from``).

Drawn when the records carry ``window.performance`` lines (models with labels): a strip
of every prediction window's performance verdict, then one chart per metric (deciding
metrics first) with the window's value (points coloured by the verdict; a hollow point
is a window that was not final yet when recorded, its labels still arriving) and the
baseline's value on its labelled validation set as a dashed step, and a chart of the
label coverage. Incidents (drift and performance) are drawn by the caller's
``decorate`` on every chart, so all charts of the page share one time axis.
"""

from __future__ import annotations

from collections.abc import Callable

from drift_monitor.report import fmt
from drift_monitor.report.markup import e
from drift_monitor.report.records import VERDICTS, PerformancePoint, RunRecords
from drift_monitor.report.svg import (
    BASELINE,
    Canvas,
    Plot,
    legend,
    nice_ticks,
    plot_area,
    title,
    y_axis,
)

WIDTH = 640
HEIGHT = 240
VERDICT_COLOUR = dict(zip(VERDICTS, ("#1a7f37", "#cf222e", "#8c959f"), strict=True))
VERDICT_LABEL = {"ok": "ok", "degraded": "degraded", "insufficient_labels": "insufficient labels"}
#: Draws the shared decorations of a chart: incident marks and the time axis.
Decorate = Callable[[Canvas, Plot], None]
#: Metrics where lower is better (the others: higher is better).
_LOWER_IS_BETTER = frozenset({"log_loss", "brier", "mae", "rmse", "mape"})


def performance_section(
    run: RunRecords, x_range: tuple[float, float], decorate: Decorate, iso: Callable[[int], str]
) -> str:
    """The section's HTML ("" when ``run`` has no performance records). ``x_range``:
    the page's time range (epoch seconds); ``iso`` formats epoch ms for tooltips."""
    points = run.performance
    if not points:
        return ""
    counts = {v: sum(p.verdict == v for p in points) for v in VERDICTS}
    final = sum(p.final for p in points)
    deciding = sorted({m for p in points for m, x in p.metrics.items() if x.decides})
    summary = ", ".join(f"{n} {VERDICT_LABEL[v]}" for v, n in counts.items() if n)
    facts = (
        f"{len(points)} prediction window(s) with labels: {summary}; {final} final. "
        f"Deciding metric(s): {', '.join(deciding) or 'none recorded'}."
    )
    names = _metrics_deciding_first(points)
    charts = [_metric_chart(m, points, x_range, decorate, iso) for m in names]
    charts.append(_coverage_chart(points, x_range, decorate, iso))
    return (
        '<h2 id="performance">Model performance</h2>'
        f'<p class="facts">{e(facts)}</p>'
        f'<div class="strip">{_verdict_strip(run, x_range, decorate, iso)}</div>'
        f'<div class="history">{"".join(charts)}</div>'
    )


def verdict_summary(run: RunRecords) -> str | None:
    """``"3 degraded, 9 ok of 12"`` for the page's summary; None without records."""
    if not run.performance:
        return None
    counts = {v: sum(p.verdict == v for p in run.performance) for v in VERDICTS}
    parts = [f"{n} {VERDICT_LABEL[v]}" for v, n in counts.items() if n]
    return f"{', '.join(parts)} of {len(run.performance)}"


def _metrics_deciding_first(points: list[PerformancePoint]) -> list[str]:
    names = sorted({m for p in points for m in p.metrics})
    deciding = {m for p in points for m, x in p.metrics.items() if x.decides}
    return sorted(names, key=lambda m: (m not in deciding, m))


def _verdict_strip(
    run: RunRecords, x_range: tuple[float, float], decorate: Decorate, iso: Callable[[int], str]
) -> str:
    c = Canvas(WIDTH * 2, 90, f"performance verdict per window of {run.model}")
    p = plot_area(c, x_range, (0.0, 1.0), margin=(24, 30, 40, 52))
    for w in run.performance:
        x0, x1 = p.x(w.start_ms / 1000), p.x(w.end_ms / 1000)
        tip = (
            f"{iso(w.start_ms)} – {iso(w.end_ms)}: {VERDICT_LABEL[w.verdict]}, "
            f"{w.joined} of {w.tracked} labelled{'' if w.final else ' (not final)'}"
        )
        c.rect(
            x0,
            p.top,
            max(x1 - x0, 1.0),
            p.bottom - p.top,
            fill=VERDICT_COLOUR[w.verdict],
            opacity=None if w.final else 0.5,
            tip=tip,
        )
    decorate(c, p)
    title(c, "Performance verdict per window")
    legend(c, [(VERDICT_LABEL[v], VERDICT_COLOUR[v]) for v in VERDICTS], y=14)
    return c.render()


def _metric_chart(
    metric: str,
    points: list[PerformancePoint],
    x_range: tuple[float, float],
    decorate: Decorate,
    iso: Callable[[int], str],
) -> str:
    series = [(w, w.metrics[metric]) for w in points if metric in w.metrics]
    values = [v for _, m in series for v in (m.value, m.baseline) if v is not None]
    lo, hi = min(values, default=0.0), max(values, default=1.0)
    pad = (hi - lo) * 0.1 or max(abs(hi) * 0.1, 0.05)
    c = Canvas(WIDTH, HEIGHT, f"{metric} per window against the baseline")
    p = plot_area(c, x_range, (lo - pad, hi + pad), margin=(34, 30, 46, 52))
    ticks = nice_ticks(p.y.lo, p.y.hi, 4)
    y_axis(c, p, ticks, fmt.axis)
    for w, m in series:  # the baseline of the window's own baseline version
        if m.baseline is not None:
            x0, x1, y = p.x(w.start_ms / 1000), p.x(w.end_ms / 1000), p.y(m.baseline)
            c.line(x0, y, x1, y, stroke=BASELINE, width=1.2, dash="5 3")
    line = [(p.x(w.end_ms / 1000), p.y(m.value)) for w, m in series if m.value is not None]
    if len(line) > 1:
        c.path("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in line), stroke="#57606a", width=1.5)
    for w, m in series:
        if m.value is None:
            continue
        tip = f"{iso(w.end_ms)}: {metric} {m.value:.4g}"
        if m.baseline is not None:
            tip += f" (baseline {m.baseline:.4g})"
        tip += f", {VERDICT_LABEL[w.verdict]}, {w.joined} labels"
        if m.degraded:
            tip += ", degraded"
        if not w.final:
            tip += ", not final"
        x, y = p.x(w.end_ms / 1000), p.y(m.value)
        colour = VERDICT_COLOUR[w.verdict]
        c.rect(
            x - 3,
            y - 3,
            6,
            6,
            fill=colour if w.final else "#fff",
            stroke=None if w.final else colour,
            tip=tip,
        )
    decorate(c, p)
    better = "lower is better" if metric in _LOWER_IS_BETTER else "higher is better"
    title(c, f"{metric} ({better})")
    legend(c, [("window", "#57606a"), ("baseline", BASELINE)])
    return c.render()


def _coverage_chart(
    points: list[PerformancePoint],
    x_range: tuple[float, float],
    decorate: Decorate,
    iso: Callable[[int], str],
) -> str:
    c = Canvas(WIDTH, HEIGHT, "label coverage per window")
    p = plot_area(c, x_range, (0.0, 1.05), margin=(34, 30, 46, 52))
    y_axis(c, p, [0.0, 0.25, 0.5, 0.75, 1.0], fmt.share)
    for w in points:
        x0, x1 = p.x(w.start_ms / 1000), p.x(w.end_ms / 1000)
        y = p.y(w.coverage)
        tip = f"{iso(w.end_ms)}: {w.joined} of {w.tracked} tracked predictions labelled"
        c.rect(
            x0,
            y,
            max(x1 - x0 - 1, 1.0),
            p.bottom - y,
            fill=VERDICT_COLOUR[w.verdict],
            opacity=0.8 if w.final else 0.35,
            tip=tip,
        )
    decorate(c, p)
    title(c, "Label coverage (joined / tracked)")
    return c.render()
