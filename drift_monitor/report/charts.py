"""The report's charts as inline SVG strings: histogram, ECDF, PSI bins, category bars.

Baseline is always blue, the window orange, the ``__unseen__`` bucket red. Every chart
takes the plot data from :mod:`drift_monitor.report.data` and returns one ``<svg>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drift_monitor.report import fmt
from drift_monitor.report.data import CategoricalPlots, Discrete, Ecdf, FloatArray, Histogram
from drift_monitor.report.data import PsiBins as PsiBinsData
from drift_monitor.report.svg import (
    AXIS,
    BASELINE,
    GAP,
    GRID,
    UNSEEN,
    WINDOW,
    Canvas,
    Plot,
    legend,
    nice_ticks,
    plot_area,
    text_width,
    title,
    x_axis,
    y_axis,
)

WIDTH = 440
HEIGHT = 260
_LEGEND = (("baseline", BASELINE), ("window", WINDOW))


def _legend_items(has_window: bool) -> Sequence[tuple[str, str]]:
    return _LEGEND if has_window else _LEGEND[:1]


def _y_max(*series: FloatArray | None) -> float:
    top = max((float(s.max()) for s in series if s is not None and s.shape[0]), default=0.0)
    return top * 1.1 if top > 0 else 1.0


def _step_path(plot: Plot, edges: FloatArray, heights: FloatArray, closed: bool) -> str:
    y0 = plot.y(0.0)
    d = [f"M{plot.x(float(edges[0])):.1f},{y0:.1f}"]
    for i, h in enumerate(heights):
        y = plot.y(float(h))
        d.append(f"V{y:.1f}H{plot.x(float(edges[i + 1])):.1f}")
    d.append(f"V{y0:.1f}")
    if closed:
        d.append("Z")
    return "".join(d)


def histogram_chart(h: Histogram, label: str) -> str:
    """Overlaid histograms: share of values per bin, baseline filled, window outlined."""
    c = Canvas(WIDTH, HEIGHT, f"histogram of {label}: baseline vs window")
    lo, hi = float(h.edges[0]), float(h.edges[-1])
    p = plot_area(c, (lo, hi), (0.0, _y_max(h.baseline, h.window)))
    y_axis(c, p, nice_ticks(0.0, p.y.hi, 4), fmt.share)
    c.path(_step_path(p, h.edges, h.baseline, True), fill=BASELINE, opacity=0.35, width=0)
    c.path(_step_path(p, h.edges, h.baseline, False), stroke=BASELINE, width=1.2)
    if h.window is not None:
        c.path(_step_path(p, h.edges, h.window, True), fill=WINDOW, opacity=0.18, width=0)
        c.path(_step_path(p, h.edges, h.window, False), stroke=WINDOW, width=2)
    note = "  (end bins include the tails)" if h.clipped else ""
    x_axis(c, p, nice_ticks(lo, hi, 5), fmt.axis, f"{label}{note}")
    title(c, "Distribution (share per bin)")
    legend(c, _legend_items(h.window is not None))
    return c.render()


def _bars(
    c: Canvas,
    p: Plot,
    base: FloatArray,
    win: FloatArray | None,
    labels: Sequence[str],
) -> None:
    """Vertical grouped bars, one band per entry of ``base`` (x scale in band units)."""
    for i, b in enumerate(base):
        x0, x1 = p.x(i + 0.12), p.x(i + 0.88)
        mid = (x0 + x1) / 2
        wb = win[i] if win is not None else None
        tip = f"{labels[i]}: baseline {fmt.pct(float(b))}"
        if wb is not None:
            tip += f", window {fmt.pct(float(wb))}"
        right = mid if wb is not None else x1
        c.rect(x0, p.y(float(b)), right - x0, p.y(0.0) - p.y(float(b)), fill=BASELINE, tip=tip)
        if wb is not None:
            c.rect(mid, p.y(float(wb)), x1 - mid, p.y(0.0) - p.y(float(wb)), fill=WINDOW, tip=tip)


def discrete_chart(d: Discrete, label: str) -> str:
    """Grouped bars per distinct value, for numeric columns with few values."""
    c = Canvas(WIDTH, HEIGHT, f"distribution of {label} per value: baseline vs window")
    n = d.values.shape[0]
    p = plot_area(c, (0.0, float(n)), (0.0, _y_max(d.baseline, d.window)))
    y_axis(c, p, nice_ticks(0.0, p.y.hi, 4), fmt.share)
    labels = [fmt.axis(float(v)) for v in d.values]
    _bars(c, p, d.baseline, d.window, labels)
    every = max(1, int(np.ceil(n / 12)))
    for i in range(0, n, every):
        c.text(p.x(i + 0.5), p.bottom + 16, labels[i], anchor="middle", size=10, fill=AXIS)
    c.text((p.left + p.right) / 2, p.bottom + 34, label, anchor="middle", size=10, fill=AXIS)
    title(c, "Distribution (share per value)")
    legend(c, _legend_items(d.window is not None))
    return c.render()


def psi_chart(b: PsiBinsData, label: str, psi: float | None) -> str:
    """Grouped bars over the PSI bins (training-quantile bins, so the baseline is about
    flat): the bins that moved are the ones that make the PSI."""
    c = Canvas(WIDTH, HEIGHT, f"PSI bins of {label}: baseline vs window")
    n = b.baseline.shape[0]
    p = plot_area(c, (0.0, float(n)), (0.0, _y_max(b.baseline, b.window)), margin=(34, 14, 58, 52))
    y_axis(c, p, nice_ticks(0.0, p.y.hi, 4), fmt.share)
    edges = [fmt.axis(float(e)) for e in b.inner_edges]
    names = [
        f"[{edges[i - 1] if i else '-∞'}, {edges[i] if i < n - 1 else '+∞'})" for i in range(n)
    ]
    _bars(c, p, b.baseline, b.window, names)
    for i, e in enumerate(edges, start=1):
        x = p.x(float(i))
        c.line(x, p.bottom, x, p.bottom + 4, stroke=AXIS)
        c.text(x + 3, p.bottom + 10, e, anchor="end", size=9.5, fill=AXIS, rotate=-40)
    c.text(
        (p.left + p.right) / 2,
        p.bottom + 50,
        f"{label} (bin edges)",
        anchor="middle",
        size=10,
        fill=AXIS,
    )
    head = "PSI bins" + (f" · PSI {fmt.stat(psi)}" if psi is not None else "")
    title(c, head)
    legend(c, _legend_items(b.window is not None))
    return c.render()


def ecdf_chart(e: Ecdf, label: str, ks: float | None) -> str:
    """Both empirical CDFs as step lines, the largest gap (KS D) marked in purple."""
    c = Canvas(WIDTH, HEIGHT, f"empirical CDFs of {label}: baseline vs window")
    lo, hi = float(e.x[0]), float(e.x[-1])
    # A little room on both sides, so the first and last steps are not on the frame.
    pad = 0.03 * (hi - lo) if hi > lo else 0.5
    lo, hi = lo - pad, hi + pad
    p = plot_area(c, (lo, hi), (0.0, 1.0))
    y_axis(c, p, [0.0, 0.25, 0.5, 0.75, 1.0], fmt.share)
    series = [(e.baseline, BASELINE, 1.6)]
    if e.window is not None:
        series.append((e.window, WINDOW, 2.0))
    for ys, colour, width in series:
        d = [f"M{p.x(lo):.1f},{p.y(0.0):.1f}"]
        for x, y in zip(e.x, ys, strict=True):
            d.append(f"H{p.x(float(x)):.1f}V{p.y(float(y)):.1f}")
        d.append(f"H{p.x(hi):.1f}")
        c.path("".join(d), stroke=colour, width=width)
    if e.gap_x is not None and lo <= e.gap_x <= hi:
        x = p.x(e.gap_x)
        y_b, y_w = p.y(e.gap_baseline), p.y(e.gap_window)
        c.line(x, y_b, x, y_w, stroke=GAP, width=2.5)
        c.line(x, p.top, x, p.bottom, stroke=GAP, width=0.8, dash="3 3")
        # Without a KS result (too few values) it is only the largest gap, not a test.
        gap = ks if ks is not None else abs(e.gap_window - e.gap_baseline)
        name = "D" if ks is not None else "max gap"
        right = x > (p.left + p.right) / 2
        c.text(
            x + (-6 if right else 6),
            min(y_b, y_w) - 6,
            f"{name} = {fmt.stat(gap)}",
            anchor="end" if right else "start",
            size=10.5,
            fill=GAP,
            bold=True,
            halo=True,
        )
    x_axis(c, p, nice_ticks(lo, hi, 5), fmt.axis, label)
    title(c, "Cumulative distribution (ECDF)")
    legend(c, _legend_items(e.window is not None))
    return c.render()


def category_chart(cp: CategoricalPlots, label: str) -> str:
    """Horizontal grouped bars: share of each category, baseline vs window;
    ``__unseen__`` (categories never seen in training) in red."""
    rows = len(cp.labels)
    row_h, top, bottom = 24.0, 34.0, 40.0
    width = 2 * WIDTH + 20
    left = min(240.0, 18 + max((text_width(s, 11) for s in cp.labels), default=30.0))
    c = Canvas(
        width, int(top + bottom + row_h * rows), f"categories of {label}: baseline vs window"
    )
    xmax = _y_max(cp.baseline, cp.window)
    p = plot_area(c, (0.0, xmax), (0.0, float(rows)), margin=(top, 60, bottom, left))
    for t in nice_ticks(0.0, xmax, 5):
        x = p.x(t)
        c.line(x, p.top, x, p.bottom, stroke=GRID)
        c.text(x, p.bottom + 14, fmt.share(t), anchor="middle", size=10, fill=AXIS)
    c.text(
        (p.left + p.right) / 2,
        p.bottom + 32,
        f"share of {label} values",
        anchor="middle",
        size=10,
        fill=AXIS,
    )
    bar_h = (row_h - 8) / 2
    for i, name in enumerate(cp.labels):
        y0 = p.top + i * row_h + 4
        unseen = i == cp.unseen_index
        colour = UNSEEN if unseen else None
        c.text(
            p.left - 8,
            y0 + bar_h + 4,
            name,
            anchor="end",
            size=11,
            fill=colour or "#24292f",
            bold=unseen,
        )
        b = float(cp.baseline[i])
        w = float(cp.window[i]) if cp.window is not None else None
        tip = f"{name}: baseline {fmt.pct(b)}" + (f", window {fmt.pct(w)}" if w is not None else "")
        c.rect(p.left, y0, p.x(b) - p.left, bar_h, fill=BASELINE, tip=tip)
        if w is not None:
            c.rect(p.left, y0 + bar_h, p.x(w) - p.left, bar_h, fill=colour or WINDOW, tip=tip)
            c.text(
                p.x(max(b, w)) + 4,
                y0 + bar_h + 4,
                fmt.pct(w),
                size=9.5,
                fill=colour or AXIS,
                bold=unseen,
            )
    c.line(p.left, p.top, p.left, p.bottom, stroke=AXIS)
    title(c, "Category shares")
    items = list(_legend_items(cp.window is not None))
    if cp.unseen_index is not None:
        items.append(("unseen in training", UNSEEN))
    legend(c, items)
    return c.render()
