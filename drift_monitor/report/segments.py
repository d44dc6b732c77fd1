"""The report's per-segment table (baselines built with ``--segment-by``): one row per
segment with its status, rows in the window and the columns in alert with the test that
set them, the drifted segments named in a line above it."""

from __future__ import annotations

from drift_monitor.evaluation.results import ColumnResult, Status, WindowResult
from drift_monitor.report import fmt
from drift_monitor.report.markup import e, pill


def segments_table(result: WindowResult) -> str:
    """The "Segments" section of the report ("" for a window without segments)."""
    if result.segment_by is None:
        return ""
    drifted = result.drifted_segments
    names = ", ".join(f"<code>{e(s.segment)}</code>" for s in drifted)
    summary = (
        f"<p><b>{len(drifted)} of {len(result.segments)} segments drifted:</b> {names}</p>"
        if drifted
        else f"<p>No segment of {len(result.segments)} drifted.</p>"
    )
    rows = []
    for s in result.segments:
        cols = ", ".join(_column(c) for c in s.drifted) or "–"
        rows.append(
            f'<tr class="row st-{s.status.label}"><td>{pill(s.status)}</td>'
            f"<td class=name><code>{e(s.segment)}</code></td>"
            f'<td class="num">{fmt.count(s.events)}</td>'
            f'<td class="num">{fmt.pct(s.drift_share, 0)}</td><td>{cols}</td></tr>'
        )
    return (
        f'<h2 id="segments">Segments by <code>{e(result.segment_by)}</code></h2>{summary}'
        '<div class="scroll"><table class="cols"><thead><tr><th>Status</th><th>Segment</th>'
        "<th>Events</th><th>Drift share</th><th>Columns in alert</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="legend">each segment against its own training statistics and calibrated '
        "thresholds (the false-alarm budget split across segments); "
        "<code>__other__</code> pools every value outside the baseline's top-K</p>"
    )


def _column(c: ColumnResult) -> str:
    alerting = [t for t in c.tests.values() if t.status == Status.ALERT]
    if not alerting:
        return f"<code>{e(c.name)}</code>"
    t = max(alerting, key=lambda t: t.effect / t.threshold if t.threshold > 0 else t.effect)
    return f"<code>{e(c.name)}</code> ({e(t.test)} {fmt.stat(t.statistic)})"
