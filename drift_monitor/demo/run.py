"""``drift-monitor demo``: the whole loop on one machine, no infrastructure.

Builds a baseline from the bundled synthetic credit-risk model, streams its prediction
events through the daemon's own pipeline (an in-memory source in place of Kafka, or
the local broker with ``--kafka``), with a recession starting half-way through; serves
/metrics; fires a signed retraining webhook to a receiver it runs itself; writes an
HTML report of the last window; prints a summary and the next steps.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.clock import SystemClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    SCORE,
    drifted_columns,
    events,
    production_frame,
    training_frame,
)
from drift_monitor.demo.receiver import DemoReceiver
from drift_monitor.evaluation.results import Status, WindowResult
from drift_monitor.source.base import EventSource
from drift_monitor.source.memory import MemorySource
from drift_monitor.windows.runtime import ClosedWindow

MODEL = "credit"
WINDOW_SECONDS = 300.0
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


def _event_stream(opts: DemoOptions, start: dt.datetime) -> Iterator[tuple[int, bytes]]:
    """(window index, event bytes): clean windows first, then the recession."""
    rate = opts.per_window / WINDOW_SECONDS
    half = opts.windows // 2
    clean = production_frame(opts.per_window * half, seed=11)
    drifted = production_frame(
        opts.per_window * (opts.windows - half), seed=12, drift=DEFAULT_DRIFT
    )
    t_drift = start + dt.timedelta(seconds=WINDOW_SECONDS * half)
    for i, ev in enumerate(events(clean, MODEL, start, rate, seed=1)):
        if ev["timestamp"] >= t_drift.isoformat().replace("+00:00", "Z"):
            break  # keep the clean part inside the first half of the windows
        yield i // opts.per_window, orjson.dumps(ev)
    for i, ev in enumerate(events(drifted, MODEL, t_drift, rate, seed=2)):
        yield half + i // opts.per_window, orjson.dumps(ev)


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
    columns found are exactly the injected ones, 1 otherwise."""
    out = out or sys.stdout
    t_start = time.monotonic()
    if opts.out.exists():
        shutil.rmtree(opts.out / "state", ignore_errors=True)
    (opts.out / "baselines").mkdir(parents=True, exist_ok=True)
    print("building the baseline from 50,000 synthetic training rows …", file=out)
    baseline = save_baseline(
        build_baseline(
            training_frame(50_000, seed=7),
            MODEL,
            prediction=[SCORE],
            version="demo-1",
            source="drift_monitor.demo.dataset.training_frame(50000, seed=7)",
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

    def keep(result: WindowResult, window: ClosedWindow) -> None:
        last["w"] = (result, window)
        live.window(result)

    monitor.pipeline.hooks.append(keep)
    monitor.start_background()
    print(f"serving http://127.0.0.1:{port}/metrics while the stream runs", file=out)

    total = opts.windows * opts.per_window
    sent = 0
    current = 0
    batch: list[bytes] = []
    stream = list(_event_stream(opts, dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)))
    total = len(stream)

    def flush(chunk: list[bytes]) -> None:
        if producer is not None:
            for value in chunk:
                producer.send(topic, value, MODEL.encode())
            producer.flush()
        else:
            assert isinstance(source, MemorySource)
            for value in chunk:
                source.append(topic, value, key=MODEL.encode())

    def drain(until_sent: int) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            monitor.run_once()
            live.render(sent, total, monitor, len(receiver.received), False)
            if sum(n for (_, o), n in monitor.state.snapshot().events.items()) >= until_sent:
                return

    for idx, value in stream:
        if idx != current and batch:
            t0 = time.monotonic()
            flush(batch)
            sent += len(batch)
            batch = []
            drain(sent)
            current = idx
            monitor.deliver_webhooks()
            spare = opts.pace - (time.monotonic() - t0)
            if spare > 0:
                time.sleep(spare)
        batch.append(value)
    flush(batch)
    sent += len(batch)
    drain(sent)
    monitor.pipeline.close_all_windows()
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
    expected = set(drifted_columns(DEFAULT_DRIFT))
    _summary(
        out,
        live.history,
        receiver,
        report_path,
        port,
        found,
        expected,
        opts,
        time.monotonic() - t_start,
    )
    monitor.shutdown()
    receiver.stop()
    if producer is not None:
        producer.close()
    return 0 if found == expected else 1


def _summary(
    out: TextIO,
    history: list[WindowResult],
    receiver: DemoReceiver,
    report: Path,
    port: int,
    found: set[str],
    expected: set[str],
    opts: DemoOptions,
    elapsed: float,
) -> None:
    def p(line: str = "") -> None:
        print(line, file=out)

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
    p(f"  webhooks       : {len(receiver.received)} received by the demo's retraining endpoint")
    for r in receiver.received:
        b = r.body
        feats = sorted({f["name"] for f in b.get("drifted_features", [])})
        p(
            f"    {b.get('type')} id={b.get('id')} signature "
            f"{'verified' if r.verified else 'INVALID: ' + str(r.error)}"
        )
        p(
            f"      window {b.get('window', {}).get('start')} .. {b.get('window', {}).get('end')}, "
            f"drift_share {b.get('drift_share', 0):.2f}, features: {', '.join(feats)}"
        )
    p(f"  HTML report    : {report}")
    p(f"  state, baseline: {opts.out}")
    p()
    p("next steps:")
    p(
        "  drift-monitor check --baseline "
        f"{opts.out}/baselines/credit.dmb --input YOUR.csv --report report.html"
    )
    p(
        "  scripts/kafka-local start && drift-monitor demo --kafka 127.0.0.1:9092   "
        "# same demo on a real broker"
    )
    p(
        "  docker compose -f deploy/compose/compose.yaml up   "
        "# Kafka, daemon, Prometheus, Grafana, Alertmanager"
    )
    p("  docs: README.md, docs/CONFIG.md, docs/WEBHOOKS.md, docs/RUNBOOK.md")
