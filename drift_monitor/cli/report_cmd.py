"""``drift-monitor report --from RECORDS --model M --out r.html``: the HTML report over
time from a run's per-window records (the audit log and/or a report-topic dump)."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    """Add ``report`` to the CLI."""
    p = sub.add_parser(
        "report",
        help="build the HTML report over time from a run's per-window records",
        description="Per-column statistics over the windows of a run, with the thresholds "
        "and the incidents marked. RECORDS are JSON Lines: the window audit log "
        "(state.audit_windows) and/or a dump of the report topic.",
    )
    p.add_argument(
        "--from",
        dest="sources",
        action="append",
        required=True,
        metavar="RECORDS",
        help="a JSON Lines file of window.evaluated records (repeat to merge files)",
    )
    p.add_argument("--model", required=True, help="the model to report on")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.add_argument("--title", help='page title (default "Drift over time: MODEL")')
    p.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    """Load, render, write; returns 0 (user errors raise DriftMonitorError: exit 2)."""
    from drift_monitor.report.history import write_history_report  # noqa: PLC0415
    from drift_monitor.report.records import load_records  # noqa: PLC0415

    run = load_records(args.sources, args.model)
    write_history_report(args.out, run, title=args.title)
    skipped = f", {run.skipped} unreadable line(s) skipped" if run.skipped else ""
    print(
        f"report written to {args.out}: {len(run.windows)} window(s), "
        f"{len(run.incidents)} incident(s){skipped}",
        file=sys.stderr,
    )
    return 0
