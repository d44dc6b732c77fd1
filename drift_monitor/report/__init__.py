"""Self-contained HTML drift reports (``drift-monitor check --report FILE.html``).

One file with inline CSS and inline SVG charts: no JavaScript, no network, readable
offline and attachable to a CI run or an incident ticket::

    from drift_monitor.report import write_report
    write_report("report.html", result, baseline, window_data)
"""

from drift_monitor.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
