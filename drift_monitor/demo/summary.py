"""What the demo prints at the end, and its report over time: the drift windows' and
the prediction windows' verdicts, the webhooks received (drift and model performance),
and the page ``report --from`` would draw from the same records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from drift_monitor.demo.receiver import Received
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.labels.records import performance_record
from drift_monitor.labels.tracker import WindowPerformance
from drift_monitor.report.history import write_history_report
from drift_monitor.report.records import load_records

_VERDICT_LETTER = {"ok": "O", "degraded": "D", "insufficient_labels": "I"}


@dataclass(slots=True)
class DemoRun:
    """What the demo saw: every evaluated drift window, every *final* prediction window
    with its start (epoch s) and baseline version, and the label events it sent."""

    windows: list[WindowResult] = field(default_factory=list)
    performance: list[tuple[WindowPerformance, float, str]] = field(default_factory=list)
    labels: int = 0


def performance_followed_drift(received: Sequence[Received]) -> bool:
    """Whether a ``performance.degraded`` webhook arrived, after a ``drift.detected``."""
    types = [r.type for r in received]
    return (
        "drift.detected" in types
        and "performance.degraded" in types
        and types.index("drift.detected") < types.index("performance.degraded")
    )


def write_history(path: Path, run: DemoRun, incidents: Sequence[dict[str, Any]]) -> None:
    """The report over time of the run (``report --from`` on the same records): the
    drift windows' records, the final prediction windows' ``window.performance`` records
    and the incidents' webhook bodies, as the report topic would carry them."""
    lines = [w.record_json() for w in run.windows]
    lines += [
        performance_record(r, window_start=s, baseline_version=v) for r, s, v in run.performance
    ]
    lines += list(incidents)
    records = path.with_suffix(".jsonl")
    records.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in lines))
    model = run.windows[0].model if run.windows else "credit"
    write_history_report(path, load_records([records], model), title=f"Demo over time: {model}")


def summary(
    out: TextIO,
    run: DemoRun,
    received: Sequence[Received],
    reports: tuple[Path, Path],
    found: set[str],
    expected: set[str],
    directory: Path,
    elapsed: float,
) -> None:
    """Print the end-of-demo summary and the next steps."""

    def p(line: str = "") -> None:
        print(line, file=out)

    history = run.windows
    p()
    p("=" * 72)
    p(f"drift-monitor demo finished in {elapsed:.0f}s: {len(history)} windows evaluated")
    statuses = " ".join(r.status.label[0].upper() for r in history)
    p(f"  window verdicts (O ok, W warning, A alert, I insufficient): {statuses}")
    p(f"  injected drift : {', '.join(sorted(expected))}")
    p(
        f"  detected drift : {', '.join(sorted(found)) or '-'}"
        f"   {'(exactly the injected columns)' if found == expected else '(MISMATCH)'}"
    )
    verdicts = " ".join(_VERDICT_LETTER[r.verdict.status.value] for r, _, _ in run.performance)
    p(
        f"  labels         : {run.labels:,} label events, about 2 windows after their "
        "predictions (3 % never arrive)"
    )
    p(f"  model quality (O ok, D degraded, I insufficient labels): {verdicts or '-'}")
    if run.performance:
        first, *_ = [r for r, _, _ in run.performance]
        worst = min((r for r, _, _ in run.performance), key=lambda r: r.performance.get("roc_auc"))
        base = first.verdict.metrics[0].baseline if first.verdict.metrics else float("nan")
        p(
            f"  ROC AUC        : baseline {base:.3f}; first window "
            f"{first.performance.get('roc_auc'):.3f}, worst {worst.performance.get('roc_auc'):.3f}"
        )
    p(f"  webhooks       : {len(received)} received by the demo's retraining endpoint")
    for r in received:
        b = r.body
        p(
            f"    {b.get('type')} id={b.get('id')} signature "
            f"{'verified' if r.verified else 'INVALID: ' + str(r.error)}"
        )
        window = b.get("window", {})
        span = f"window {window.get('start')} .. {window.get('end')}"
        if str(b.get("type")).startswith("performance."):
            perf = b.get("performance", {})
            metrics = ", ".join(
                f"{m['metric']} {m['value']:.3f} (baseline {m['baseline']:.3f})"
                for m in perf.get("metrics", [])
                if m.get("decides") and m.get("value") is not None and m.get("baseline") is not None
            )
            p(f"      {span}, {perf.get('labels', 0):,} labels: {metrics}")
        else:
            feats = sorted({f["name"] for f in b.get("drifted_features", [])})
            p(
                f"      {span}, drift_share {b.get('drift_share', 0):.2f}, "
                f"features: {', '.join(feats)}"
            )
    p(f"  HTML report    : {reports[0]}")
    p(f"  over time      : {reports[1]} (drift and model quality per window)")
    p(f"  state, baseline: {directory}")
    p()
    p("next steps:")
    p(
        "  drift-monitor check --baseline "
        f"{directory}/baselines/credit.dmb --input YOUR.csv --report report.html"
    )
    p(
        "  drift-monitor check --baseline "
        f"{directory}/baselines/credit.dmb --input LABELLED.csv --labels label"
    )
    p(
        "  scripts/kafka-local start && drift-monitor demo --kafka 127.0.0.1:9092   "
        "# same demo on a real broker"
    )
    p(
        "  docker compose -f deploy/compose/compose.yaml up   "
        "# Kafka, daemon, Prometheus, Grafana, Alertmanager"
    )
    p("  docs: README.md, docs/CONFIG.md, docs/WEBHOOKS.md, docs/LABELS.md, docs/RUNBOOK.md")
