"""``drift-monitor check``: offline evaluation of a file against a baseline (a CI gate)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from drift_monitor.baseline import load_baseline
from drift_monitor.errors import ConfigError
from drift_monitor.evaluation import (
    ColumnResult,
    DetectionSettings,
    Status,
    WindowResult,
    evaluate_window,
    unknown_columns,
    window_from_frame,
)
from drift_monitor.labels.decision import DegradationSettings
from drift_monitor.labels.offline import LabelCheck, check_labels
from drift_monitor.labels.offline import exit_code as labels_exit_code
from drift_monitor.tables import read_table


def register(sub: Any) -> None:
    """Add ``check`` to the CLI."""
    p = sub.add_parser(
        "check",
        help="evaluate a data file against a baseline (exit 0 ok, 1 drift, 2 error)",
    )
    p.add_argument("--baseline", required=True, help="baseline file (.dmb)")
    p.add_argument("--input", required=True, help="data to check: .csv, .parquet or .jsonl")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--report", help="also write a self-contained HTML report to this file")
    p.add_argument("--config", help="YAML config whose detection settings to use")
    p.add_argument(
        "--allow-insufficient",
        action="store_true",
        help="exit 0 instead of 2 when the input has too few rows to judge",
    )
    p.add_argument(
        "--fail-on",
        choices=("alert", "warning"),
        default="alert",
        help="lowest model status that exits 1 (default: alert)",
    )
    _register_labels(p)
    p.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    """Evaluate, print, optionally write the report; returns the exit code."""
    baseline = load_baseline(args.baseline)
    settings = _settings(args.config, baseline.model)
    if baseline.segments is not None and settings.segment_by is None:
        # A baseline built with --segment-by is checked per segment too.
        settings = settings.model_copy(update={"segment_by": baseline.segments.column})
    for warning in unknown_columns(settings, baseline.column_names):
        print(f"drift-monitor: warning: {warning}", file=sys.stderr)
    df = read_table(args.input)
    window = window_from_frame(baseline, df, args.input)
    result = evaluate_window(baseline, window, settings)
    quality = _check_labels(args, baseline, df, settings)
    if args.format == "json":
        doc = result_to_json(result)
        if quality is not None:
            doc["performance"] = quality.to_json()
        json.dump(doc, sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_table(result))
        if quality is not None:
            sys.stdout.write(quality.render())
    if args.report:
        from drift_monitor.report import write_report  # noqa: PLC0415

        write_report(args.report, result, baseline, window)
        print(f"report written to {args.report}", file=sys.stderr)
    if result.status == Status.INSUFFICIENT_DATA and not args.allow_insufficient:
        # A CI gate must fail closed: an empty or truncated file is not a pass.
        print(
            f"drift-monitor: error: {args.input}: {result.events} rows, too few to judge "
            f"(min_events {settings.min_events} present values per column); check the "
            "input or pass --allow-insufficient",
            file=sys.stderr,
        )
        return 2
    fail_at = Status.WARNING if args.fail_on == "warning" else Status.ALERT
    # A drifted segment fails the gate like a drifted model (per-segment drift).
    worst = max([result.status, *(seg.status for seg in result.segments)])
    drift_code = 1 if worst >= fail_at else 0
    return max(drift_code, _labels_exit(args, quality))


def _settings(config_path: str | None, model: str) -> DetectionSettings:
    if not config_path:
        return DetectionSettings()
    try:
        from drift_monitor.config import load_config  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - config ships with the package
        raise ConfigError(f"--config needs the config module: {exc}") from None
    settings: DetectionSettings = load_config(config_path).detection_for(model)
    return settings


def result_to_json(r: WindowResult) -> dict[str, Any]:
    """The SPEC's ``check --format json`` object (:meth:`WindowResult.to_json`)."""
    return r.to_json()


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.1e}"
    return f"{x:.3f}"


def _p(x: float | None) -> str:
    if x is None:
        return ""
    return " (p<1e-300)" if x == 0 else f" (p={x:.2g})"


def render_table(r: WindowResult) -> str:
    """A table readable at a glance: verdict first, then columns worst first."""
    drifted = r.drifted
    verdict = r.status.label.upper()
    head = f"model {r.model} · baseline {r.baseline_version} · {r.events:,} events -> {verdict}"
    if r.status != Status.INSUFFICIENT_DATA:
        head += f" ({len(drifted)} of {len(r.columns)} columns drifted, {r.drift_share:.0%})"
    shown = r.reported_tests()
    rows = [["STATUS", "COLUMN", "KIND", "MISSING", "UNSEEN", *[t.label for t in shown]]]
    for c in r.by_severity():
        cells = [
            c.status.label,
            c.name,
            c.kind,
            f"{c.missing_ratio:.1%}",
            "-" if c.unseen_ratio is None else f"{c.unseen_ratio:.1%}",
        ]
        for test in shown:
            t = c.tests.get(test.name)
            if t is None:
                cells.append("-")
            else:
                mark = "!" if t.status is not None and t.status >= Status.WARNING else ""
                p = _p(t.p_value) if test.table_p_value else ""
                cells.append(f"{_fmt(t.statistic)}{mark}{p}")
        if c.note:
            cells[-1] += f"   [{c.note}]"
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [head, ""]
    for row in rows:
        lines.append(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=False))
            + "  "
            + row[-1]
        )
    lines.append("")
    lines.append("! marks a deciding test at warning or alert level")
    lines += _segment_lines(r)
    return "\n".join(lines) + "\n"


def _segment_lines(r: WindowResult) -> list[str]:
    """Per-segment rows (``--segment-by`` baselines): status, rows, drifted columns."""
    if r.segment_by is None:
        return []
    drifted = r.drifted_segments
    lines = [
        "",
        f"segments by {r.segment_by}: {len(drifted)} of {len(r.segments)} drifted"
        + (f" ({', '.join(str(s.segment) for s in drifted)})" if drifted else ""),
    ]
    rows = [["STATUS", "SEGMENT", "EVENTS", "DRIFTED COLUMNS"]]
    for s in r.segments:
        cols = ", ".join(
            f"{c.name} ({_worst_test(c)})" if _worst_test(c) else c.name for c in s.drifted
        )
        rows.append([s.status.label, str(s.segment), f"{s.events:,}", cols or "-"])
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True)) + "  " + row[3]
        )
    return lines


def _worst_test(c: ColumnResult) -> str:
    alerting = [t for t in c.tests.values() if t.status == Status.ALERT]
    if not alerting:
        return ""
    t = max(alerting, key=lambda t: t.effect / t.threshold if t.threshold > 0 else t.effect)
    return f"{t.test} {_fmt(t.statistic)}"


# --- model quality: ``check --labels COL`` ---------------------------------------------
def _register_labels(p: Any) -> None:
    p.add_argument(
        "--labels",
        metavar="COL",
        help="ground-truth column of the input: also score the model against the "
        "baseline's performance (baseline built with --label); exit 1 when degraded",
    )
    p.add_argument(
        "--min-labels",
        type=int,
        help="fewer labelled rows is insufficient_labels (default: the config's "
        f"models[].labels.min_labels, else {DegradationSettings().min_labels})",
    )


def _check_labels(
    args: argparse.Namespace, baseline: Any, df: Any, detection: DetectionSettings
) -> LabelCheck | None:
    if not getattr(args, "labels", None):
        return None
    degradation = DegradationSettings()
    if args.config:
        from drift_monitor.config import load_config  # noqa: PLC0415

        model = load_config(args.config).model(baseline.model)
        if model is not None and model.labels is not None:
            degradation = model.labels.degradation()
    if args.min_labels is not None:
        if args.min_labels < 1:
            raise ConfigError(f"--min-labels must be >= 1, got {args.min_labels}")
        degradation = dataclasses.replace(degradation, min_labels=args.min_labels)
    args.min_labels = degradation.min_labels  # for the insufficient-labels message
    return check_labels(
        baseline, df, args.labels, degradation=degradation, detection=detection, source=args.input
    )


def _labels_exit(args: argparse.Namespace, quality: LabelCheck | None) -> int:
    if quality is None:
        return 0
    code = labels_exit_code(quality, args.allow_insufficient)
    if code == 2:
        print(
            f"drift-monitor: error: {args.input}: {quality.performance.count} labelled rows "
            f"in column {args.labels!r}, too few to judge performance (--min-labels "
            f"{args.min_labels}); check the input or pass --allow-insufficient",
            file=sys.stderr,
        )
    return code
