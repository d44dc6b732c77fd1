"""``drift-monitor demo``: the whole loop on one machine, no infrastructure.

Builds a baseline from the bundled synthetic credit-risk model, streams its prediction
events through the daemon's own pipeline (an in-memory source in place of Kafka, or
the local broker with ``--kafka``), with a recession starting half-way through; serves
/metrics; fires a signed retraining webhook to a receiver it runs itself; writes an
HTML report of the last window; prints a summary and the next steps.

Model quality (issue 15): the ground truth of each prediction (did the loan default?)
arrives as a label-only event on the same topic, about two windows later (3 % never
arrive). The recession also changes what defaults depend on (the dataset's hidden risk),
so once the drifted windows' labels are in, the model's ROC AUC falls below the
baseline's and a ``performance.degraded`` incident follows the ``drift.detected`` one.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.clock import SystemClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.demo.dataset import DEFAULT_DRIFT, LABEL, SCORE, drifted_columns, training_frame
from drift_monitor.demo.receiver import DemoReceiver
from drift_monitor.demo.stream import MODEL, WINDOW_SECONDS, DemoRecord, demo_stream
from drift_monitor.demo.summary import (
    DemoRun,
    performance_followed_drift,
    summary,
    write_history,
)
from drift_monitor.evaluation.results import Status, WindowResult
from drift_monitor.labels.tracker import WindowPerformance
from drift_monitor.loop import Job
from drift_monitor.source.base import EventSource
from drift_monitor.source.memory import MemorySource
from drift_monitor.windows.runtime import ClosedWindow

_STATUS_COLOR = {
    Status.OK: "\x1b[32m",
    Status.WARNING: "\x1b[33m",
    Status.ALERT: "\x1b[31;1m",
    Status.INSUFFICIENT_DATA: "\x1b[90m",
}
_RESET = "\x1b[0m"


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``drift-monitor demo`` runs. ``windows``: number of 5-minute event-time
    windows streamed (drift starts in the middle); ``per_window``: events per window;
    ``pace``: seconds of wall time per window (0 = as fast as possible)."""

    out: Path
    port: int = 9108
    windows: int = 12
    per_window: int = 3000
    pace: float = 1.5
    kafka: str | None = None
    live: bool = True


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])


def _config(opts: DemoOptions, port: int, receiver_url: str, topic: str) -> Any:
    kafka = opts.kafka or "in-memory:0"
    return validate_config(
        {
            "kafka": {
                "bootstrap_servers": [kafka],
                "topics": [topic],
                "group_id": f"drift-monitor-{topic}",
                "poll_timeout_ms": 100,
            },
            "baselines": {"dir": str(opts.out / "baselines")},
            "state": {"dir": str(opts.out / "state")},
            "http": {"host": "127.0.0.1", "port": port},
            "models": [
                {
                    "name": MODEL,
                    "window": {
                        "type": "tumbling",
                        "size_seconds": WINDOW_SECONDS,
                        "allowed_lateness_seconds": 10,
                        "idle_timeout_seconds": 2,
                    },
                    "episodes": {"enter_after": 2, "resolve_after": 3},
                    # Label-only events on the prediction topic; a window is final once
                    # 95 % of its tracked predictions have their label. Half the event ids
                    # are tracked (the deterministic hash sample high-volume models use),
                    # and the join survives kill -9 without an fsync per flush: the demo
                    # stays quick.
                    "labels": {
                        "topic": None,
                        "max_delay_seconds": 6 * WINDOW_SECONDS,
                        "final_coverage": 0.95,
                        "sample_rate": 0.5,
                        "synchronous": "NORMAL",
                    },
                }
            ],
            "webhooks": {
                "allow_networks": ["127.0.0.0/8"],  # a receiver on loopback
                "targets": [
                    {
                        "name": "retraining-pipeline",
                        "url": receiver_url,
                        "secret": {"env": "DRIFT_MONITOR_DEMO_WEBHOOK_SECRET"},
                        "timeout_seconds": 5,
                    }
                ],
            },
        },
        "demo config",
    )


class _Live:
    """The refreshing terminal view."""

    def __init__(self, out: TextIO, enabled: bool, total_windows: int) -> None:
        self.out = out
        self.enabled = enabled and out.isatty()
        self.total = total_windows
        self.history: list[WindowResult] = []
        self._last = 0.0

    def window(self, result: WindowResult) -> None:
        self.history.append(result)
        if not self.enabled:
            c = _STATUS_COLOR[result.status] if self.out.isatty() else ""
            drifted = ", ".join(x.name for x in result.drifted) or "-"
            print(
                f"  window {len(self.history):>2}/{self.total}  {result.events:>5} events  "
                f"{c}{result.status.label:<8}{_RESET if c else ''}  drifted: {drifted}",
                file=self.out,
            )

    def render(self, sent: int, total: int, monitor: Monitor, received: int, force: bool) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.25:
            return
        self._last = now
        width = 40
        filled = int(width * sent / max(total, 1))
        lines = [
            "\x1b[H\x1b[2J",
            "drift-monitor demo: model 'credit' (synthetic loan-default scorer)",
            f"stream   [{'#' * filled}{'.' * (width - filled)}] {sent:,}/{total:,} events",
            f"windows  {len(self.history)}/{self.total} closed (5 min of event time each); "
            f"recession starts at window {self.total // 2 + 1}",
            f"metrics  {monitor.http.url if monitor.http else '-'}/metrics    "
            f"webhooks received: {received}",
            "",
            "window  events  status    drifted columns",
        ]
        for i, r in enumerate(self.history[-12:], start=max(1, len(self.history) - 11)):
            c = _STATUS_COLOR[r.status]
            cols = ", ".join(x.name for x in r.drifted) or "-"
            lines.append(f"{i:>6}  {r.events:>6}  {c}{r.status.label:<8}{_RESET}  {cols}")
        if self.history and self.history[-1].drifted:
            lines += ["", "top drifted columns in the last window:"]
            for col in self.history[-1].drifted[:6]:
                stats = "  ".join(f"{t.test} {t.statistic:.3g}" for t in col.tests.values())
                lines.append(f"  {col.name:<24} {stats}")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()


def run_demo(opts: DemoOptions, out: TextIO | None = None) -> int:
    """Run the demo (printing to ``out``, default stdout); returns 0 when the drifted
    columns found are exactly the injected ones and a ``performance.degraded`` webhook
    followed the ``drift.detected`` one, 1 otherwise."""
    out = out or sys.stdout
    t_start = time.monotonic()
    if opts.out.exists():
        shutil.rmtree(opts.out / "state", ignore_errors=True)
    (opts.out / "baselines").mkdir(parents=True, exist_ok=True)
    print(
        "building the baseline from 50,000 synthetic training rows (labelled: the model's "
        "validation performance too) …",
        file=out,
    )
    baseline = save_baseline(
        build_baseline(
            training_frame(50_000, seed=7, with_label=True),
            MODEL,
            prediction=[SCORE],
            label=LABEL,
            version="demo-1",
            source="drift_monitor.demo.dataset.training_frame(50000, seed=7, with_label=True)",
        ),
        opts.out / "baselines" / f"{MODEL}.dmb",
    )
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    os.environ["DRIFT_MONITOR_DEMO_WEBHOOK_SECRET"] = secret
    receiver = DemoReceiver(secret)
    receiver.start()
    port = _free_port(opts.port)
    # A fresh topic per run: a second demo on the same broker must not re-read the first.
    topic = f"credit-predictions-{secrets.token_hex(4)}"
    config = _config(opts, port, receiver.url, topic)

    source: EventSource
    producer: Any = None
    if opts.kafka:
        from drift_monitor.source.kafka import KafkaEventSource  # noqa: PLC0415
        from drift_monitor.source.replay import EventProducer, create_topic  # noqa: PLC0415

        # Brokers configured like managed ones do not create topics on first use.
        create_topic([opts.kafka], topic)
        source = KafkaEventSource(config.kafka)
        producer = EventProducer([opts.kafka])
    else:
        source = MemorySource()
    monitor = Monitor(config, source, clock=SystemClock())
    last: dict[str, tuple[WindowResult, ClosedWindow]] = {}
    live = _Live(out, opts.live, opts.windows)
    run = DemoRun()

    def keep(result: WindowResult, window: ClosedWindow) -> None:
        last["w"] = (result, window)
        run.windows.append(result)
        live.window(result)

    def keep_performance(r: WindowPerformance, start: float, version: str) -> None:
        run.performance.append((r, start, version))

    monitor.pipeline.hooks.append(keep)
    assert monitor.labels is not None  # the demo's model has labels
    monitor.labels.hooks.append(keep_performance)
    monitor.start_background()
    print(f"serving http://127.0.0.1:{port}/metrics while the stream runs", file=out)

    stream = demo_stream(
        opts.windows, opts.per_window, dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    )
    total = sum(not r.label for r in stream)
    run.labels = len(stream) - total
    sent = 0
    current = 0
    batch: list[DemoRecord] = []

    def flush(chunk: list[DemoRecord]) -> None:
        if producer is not None:
            for r in chunk:
                producer.send(topic, r.value, MODEL.encode())
            producer.flush()
        else:
            assert isinstance(source, MemorySource)
            for r in chunk:
                source.append(topic, r.value, key=MODEL.encode())

    def drain(until_sent: int) -> None:
        """Until every prediction sent is counted and a poll finds nothing more (the
        labels after the last prediction are read too); then a tick, which scores the
        prediction windows whose labels came in."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            polled = monitor.run_once()
            live.render(sent, total, monitor, len(receiver.received), False)
            counted = sum(n for (_, o), n in monitor.state.snapshot().events.items())
            if counted >= until_sent and polled == 0:
                break
        monitor.loop.post(Job.TICK)
        monitor.run_once()

    for rec in stream:
        if rec.window != current and batch:
            t0 = time.monotonic()
            flush(batch)
            sent += sum(not r.label for r in batch)
            batch = []
            drain(sent)
            current = rec.window
            monitor.deliver_webhooks()
            spare = opts.pace - (time.monotonic() - t0)
            if spare > 0:
                time.sleep(spare)
        batch.append(rec)
    flush(batch)
    sent += sum(not r.label for r in batch)
    drain(sent)
    monitor.pipeline.close_all_windows()
    monitor.loop.post(Job.TICK)
    monitor.run_once()
    monitor.commit()
    for _ in range(20):
        monitor.deliver_webhooks()
        if monitor.dispatcher is None or monitor.dispatcher.pending() == 0:
            break
        time.sleep(0.1)
    live.render(sent, total, monitor, len(receiver.received), True)

    report_path = opts.out / "drift-report.html"
    found: set[str] = set()
    if "w" in last:
        from drift_monitor.report import write_report  # noqa: PLC0415

        result, window = last["w"]
        write_report(
            report_path,
            result,
            baseline,
            window.data,
            title=f"Drift report: {MODEL}, last demo window",
        )
        found = {c.name for c in result.drifted}
    history_path = opts.out / "history.html"
    write_history(history_path, run, [r.body for r in receiver.received])
    expected = set(drifted_columns(DEFAULT_DRIFT))
    ok = found == expected and performance_followed_drift(receiver.received)
    summary(
        out,
        run,
        receiver.received,
        (report_path, history_path),
        found,
        expected,
        opts.out,
        time.monotonic() - t_start,
    )
    monitor.shutdown()
    receiver.stop()
    if producer is not None:
        producer.close()
    return 0 if ok else 1
