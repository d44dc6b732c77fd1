"""Latency: from the close of a window to the gauge on /metrics and to the webhook.

One daemon subprocess (``drift-monitor run``) consumes a 1-partition topic of one model
(tumbling 60 s windows, allowed lateness 2 s; hysteresis enter/resolve after 1 window,
so every drifted window after a clean one opens an incident and every clean window
after a drifted one resolves it). Its webhook target is a stdlib HTTP server on
127.0.0.1 in this process. Windows alternate clean / drifted. For each window the
benchmark produces its events, waits until the daemon has counted them, then produces
the one event that moves the watermark past the window's end and measures:

- gauge: until ``drift_monitor_model_status`` on /metrics shows the window's status
  (/metrics polled every 10 ms);
- webhook: until the ``drift.detected`` / ``drift.resolved`` POST arrives.

Reported: p50 and max over the windows. There is no target in the brief; the webhook
is delivered by the outbox dispatcher, which runs once a second.

    .venv/bin/python -m bench.latency [--size small|full] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from bench.broker import create_topic, delete_topic, kafka, producer
from bench.config import app_config, window_config
from bench.data import BASELINE_ROWS, EventStream, Schema, write_baselines
from bench.report import header, parser, result
from drift_monitor.demo.receiver import WebhookReceiver
from tests.services.daemon import DaemonConfig, DaemonProcess
from tests.services.ports import free_port
from tests.services.wait import wait_for

SIZES = {"small": (4, 500), "full": (12, 3_000)}  # windows, events per window
MODEL = "m00"
WINDOW_SECONDS = 60.0
LATENESS = 2.0
DRIFT = 1.0
SECRET_ENV = "DRIFT_MONITOR_BENCH_WEBHOOK_SECRET"


def model_status(daemon: DaemonProcess) -> float | None:
    m = daemon.try_metrics()
    return None if m is None else m.get("drift_monitor_model_status", model=MODEL)


def _changed(value: float | None, alert: float | None) -> tuple[float] | None:
    """``(value,)`` once the gauge shows the window's verdict: alert (2) for a drifted
    window, ok or warning (0/1) for a clean one; None before."""
    if value is None:
        return None
    if alert is not None:
        return (value,) if value == alert else None
    return (value,) if value in (0.0, 1.0) else None


def counted(daemon: DaemonProcess) -> float:
    m = daemon.try_metrics()
    return m.total("drift_monitor_events_total") if m is not None else 0.0


def has_counted(daemon: DaemonProcess, n: int) -> bool:
    """The daemon has counted at least ``n`` events."""
    return counted(daemon) >= n


def verdict(daemon: DaemonProcess, alert: float | None) -> tuple[float] | None:
    """``(status,)`` once the gauge shows the window's verdict (see :func:`_changed`)."""
    return _changed(model_status(daemon), alert)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--bootstrap", help="use this broker instead of starting a private one")
    args = p.parse_args(argv)
    windows, per_window = SIZES[args.size]
    header(f"latency: {windows} windows of {per_window:,} events, window close -> gauge, webhook")
    os.environ[SECRET_ENV] = "whsec_" + "YmVuY2htYXJrLXNlY3JldC1ieXRlcy0zMg=="
    receiver = WebhookReceiver(path="/hook").start()
    gauge_ms: list[float] = []
    hook_ms: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        work = Path(tmp)
        write_baselines(work / "baselines", Schema(), [MODEL], rows=BASELINE_ROWS[args.size])
        with kafka(args.bootstrap) as bootstrap:
            topic = f"bench-latency-{uuid.uuid4().hex[:8]}"
            create_topic(bootstrap, topic, 1)
            port = free_port()
            cfg = app_config(
                work,
                [MODEL],
                bootstrap=bootstrap,
                topic=topic,
                group=f"bench-latency-{uuid.uuid4().hex[:6]}",
                http_port=port,
                window=window_config(
                    WINDOW_SECONDS, allowed_lateness_seconds=LATENESS, idle_timeout_seconds=3600
                ),
                episodes={"enter_after": 1, "resolve_after": 1},
                webhooks={
                    "allow_networks": ["127.0.0.0/8"],  # the receiver is on loopback
                    "targets": [
                        {"name": "bench", "url": receiver.url, "secret": {"env": SECRET_ENV}}
                    ],
                },
                log_level="INFO",
            )
            daemon = DaemonProcess("daemon", DaemonConfig.of_document(cfg), work)
            prod = producer(bootstrap)
            try:
                daemon.start(wait_ready=False, timeout=60)
                rate = per_window / WINDOW_SECONDS
                stream = EventStream(Schema(), [MODEL], rate, 1, seed=21, pool=8_192)
                sent = 0
                hooks = 0
                previous: bool | None = None
                for k in range(windows):
                    drifted = k % 2 == 1
                    stream.drift = DRIFT if drifted else 0.0
                    # the window's events (its first one was the previous window's closer)
                    first = 1 if k else 0
                    stream.seek(k * per_window + first)
                    keys, _, values, ts = stream.batch(per_window - first)
                    for key, v, ms in zip(keys, values, ts, strict=True):
                        prod.send(topic, value=v, key=key, timestamp_ms=ms)
                    prod.flush(timeout=60)
                    sent += per_window - first
                    wait_for(partial(has_counted, daemon, sent), 120, f"{sent} events counted")
                    # the closer: the next window's first event, at its start + lateness,
                    # moves the watermark to this window's end
                    stream.drift = DRIFT if (k + 1) % 2 == 1 else 0.0
                    stream.seek(round(((k + 1) * WINDOW_SECONDS + LATENESS) * rate))
                    keys, _, values, ts = stream.batch(1)
                    t0 = time.perf_counter()
                    prod.send(topic, value=values[0], key=keys[0], timestamp_ms=ts[0])
                    prod.flush(timeout=30)
                    sent += 1
                    alert = 2.0 if drifted else None
                    status = wait_for(
                        partial(verdict, daemon, alert),
                        60,
                        f"model_status of window {k}",
                        interval=0.01,
                    )
                    g = (time.perf_counter() - t0) * 1e3
                    gauge_ms.append(g)
                    line = f"status {status[0]:.0f}, gauge {g:7.1f} ms"
                    is_alert = status[0] == 2.0
                    if previous is not None and previous != is_alert:
                        hooks += 1
                        hook = receiver.wait(hooks, 60)
                        kind = hook.type
                        hook_ms.append((hook.arrived - t0) * 1e3)
                        line += f", webhook {kind} {hook_ms[-1]:7.1f} ms"
                    previous = is_alert
                    result(f"window {k:2d} ({'drift' if drifted else 'clean'})", line)
            finally:
                prod.close(timeout=10)
                daemon.stop()
                delete_topic(bootstrap, topic)
                receiver.stop()
    result(
        "window close -> gauge on /metrics",
        f"p50 {statistics.median(gauge_ms):.0f} ms, max {max(gauge_ms):.0f} ms "
        f"over {len(gauge_ms)} windows",
    )
    result(
        "window close -> webhook received",
        f"p50 {statistics.median(hook_ms):.0f} ms, max {max(hook_ms):.0f} ms "
        f"over {len(hook_ms)} incidents (opened and resolved)",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
