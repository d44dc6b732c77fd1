"""One report section per column: headline facts, notes, and the plots."""

from __future__ import annotations

from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.evaluation.results import ColumnResult, Status
from drift_monitor.report import charts, fmt
from drift_monitor.report.data import CategoricalPlots, categorical_plots, numeric_plots
from drift_monitor.report.markup import (
    anchor,
    e,
    effect_note,
    missing_marked,
    pill,
    test_label,
)
from drift_monitor.windows.data import WindowData


def _facts(c: ColumnResult, base_missing: float | None) -> str:
    parts = [f"{fmt.count(c.events)} values present"]
    missing = f"missing {fmt.pct(c.missing_ratio)}"
    if base_missing is not None:
        missing += f" (training {fmt.pct(base_missing)})"
    parts.append(missing)
    if c.unseen_ratio is not None:
        parts.append(f"unseen {fmt.pct(c.unseen_ratio)}")
    for t in c.tests.values():
        if t.status is None:
            continue
        s = f"{test_label(t.test)} {fmt.stat(t.statistic)}"
        note = effect_note(t)
        if note is not None:
            s += f" ({note})"
        s += f" → {t.status.label} (alert at ≥ {fmt.stat(t.threshold)}"
        alert = (t.levels or {}).get("alert")
        if t.mode == "calibrated" and alert is not None:
            # both numbers (issue 13): the null quantile at this size, and the floor
            s += f": calibrated {fmt.stat(alert.threshold)} at this size"
            if alert.floor is not None:
                s += f", floor {fmt.stat(alert.floor)}"
        parts.append(s + ")")
    return " · ".join(e(p) for p in parts)


def _notes(c: ColumnResult, base_missing: float | None) -> list[str]:
    notes = []
    if c.status == Status.INSUFFICIENT_DATA:
        why = c.note or "too few values in the window"
        notes.append(f"Insufficient data: {why}. The column is not judged in this window.")
    elif c.note:
        notes.append(c.note)
    if base_missing is not None and missing_marked(c.missing_ratio, base_missing):
        notes.append(
            f"Missing values: {fmt.pct(c.missing_ratio)} of events, against "
            f"{fmt.pct(base_missing)} in training. Missing values are not part of the tests."
        )
    if c.unseen_ratio:
        notes.append(
            f"Unseen categories: {fmt.pct(c.unseen_ratio)} of present values are categories "
            "never seen in training (pooled into __unseen__)."
        )
    return notes


def section(i: int, c: ColumnResult, baseline: Baseline, window: WindowData) -> str:
    try:
        col = baseline.column(c.name)
    except KeyError:
        col = None
    base_missing = col.missing_ratio if col is not None else None
    notes = _notes(c, base_missing)
    plots: list[str] = []
    profile = col.profile if col is not None else None
    if isinstance(profile, NumericProfile) and profile.reference_sample.shape[0]:
        d = numeric_plots(profile, window.numeric.get(c.name))
        ks = c.tests.get("ks")
        psi = c.tests.get("psi")
        if d.discrete is not None:
            plots.append(charts.discrete_chart(d.discrete, c.name))
        elif d.histogram is not None:
            plots.append(charts.histogram_chart(d.histogram, c.name))
        plots.append(charts.ecdf_chart(d.ecdf, c.name, ks.statistic if ks else None))
        plots.append(charts.psi_chart(d.psi, c.name, psi.statistic if psi else None))
        if d.window_values == 0:
            notes.append("The window has no values for this column: baseline only.")
    elif isinstance(profile, CategoricalProfile) and profile.categories:
        cp = categorical_plots(profile, window.categorical.get(c.name))
        plots.append(charts.category_chart(cp, c.name))
        plots.append(_category_table(cp))
        if cp.window_values == 0:
            notes.append("The window has no values for this column: baseline only.")
    else:
        notes.append("No plots: the baseline has no values for this column.")
    notes_html = "".join(f"<li>{e(n)}</li>" for n in notes)
    kind = "plots-cat" if isinstance(profile, CategoricalProfile) else "plots-num"
    return (
        f'<section class="col st-{c.status.label}" id="{anchor(i)}">'
        f"<h3>{pill(c.status)} <code>{e(c.name)}</code> <span class=kind>{e(c.kind)}</span>"
        '<a class="top" href="#table">↑ table</a></h3>'
        f'<p class="facts">{_facts(c, base_missing)}</p>'
        + (f'<ul class="notes">{notes_html}</ul>' if notes else "")
        + f'<div class="plots {kind}">{"".join(plots)}</div></section>'
    )


def _category_table(cp: CategoricalPlots) -> str:
    """The plotted shares as numbers, with the change in percentage points."""
    rows = []
    for i, name in enumerate(cp.labels):
        b = float(cp.baseline[i])
        w = float(cp.window[i]) if cp.window is not None else None
        delta = "" if w is None else f"{100 * (w - b):+.1f}"
        cls = ' class="unseen"' if i == cp.unseen_index else ""
        big = w is not None and abs(w - b) >= 0.02
        rows.append(
            f"<tr{cls}><td><code>{e(name)}</code></td><td class=num>{e(fmt.pct(b))}</td>"
            f"<td class=num>{e(fmt.pct(w))}</td>"
            f'<td class="num{" moved" if big else ""}">{e(delta)}</td></tr>'
        )
    return (
        '<table class="shares"><thead><tr><th>category</th><th>training</th><th>window</th>'
        f"<th>Δ pp</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )
