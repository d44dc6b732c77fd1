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

import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench._common import (
    BASELINE_ROWS,
    Daemon,
    EventStream,
    Schema,
    app_config,
    create_topic,
    delete_topic,
    events_total,
    free_port,
    header,
    kafka,
    parser,
    producer,
    result,
    wait_for,
    window_config,
    write_baselines,
    write_yaml,
)

SIZES = {"small": (4, 500), "full": (12, 3_000)}  # windows, events per window
MODEL = "m00"
WINDOW_SECONDS = 60.0
LATENESS = 2.0
DRIFT = 1.0
SECRET_ENV = "DRIFT_MONITOR_BENCH_WEBHOOK_SECRET"


class Receiver:
    """Webhook receiver on 127.0.0.1: records (arrival perf_counter, body type)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                t = time.perf_counter()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self.send_response(200)
                self.end_headers()
                kind = str(json.loads(body).get("type", "?"))
                with receiver._cond:
                    receiver.arrivals.append((t, kind))
                    receiver._cond.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def wait(self, count: int, timeout: float) -> tuple[float, str]:
        """The ``count``-th arrival (1-based), waiting up to ``timeout`` seconds."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.arrivals) >= count, timeout)
            if not ok:
                raise RuntimeError(f"webhook #{count} did not arrive in {timeout:.0f} s")
            return self.arrivals[count - 1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def model_status(daemon: Daemon) -> float | None:
    m = daemon.metrics()
    if m is None:
        return None
    for labels, value in m.get("drift_monitor_model_status", []):
        if labels.get("model") == MODEL:
            return value
    return None


def _changed(value: float | None, alert: float | None) -> tuple[float] | None:
    """``(value,)`` once the gauge shows the window's verdict: alert (2) for a drifted
    window, ok or warning (0/1) for a clean one; None before."""
    if value is None:
        return None
    if alert is not None:
        return (value,) if value == alert else None
    return (value,) if value in (0.0, 1.0) else None


def counted(daemon: Daemon) -> float:
    m = daemon.metrics()
    return events_total(m) if m is not None else 0.0


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--bootstrap", help="use this broker instead of starting a private one")
    args = p.parse_args(argv)
    windows, per_window = SIZES[args.size]
    header(f"latency: {windows} windows of {per_window:,} events, window close -> gauge, webhook")
    os.environ[SECRET_ENV] = "whsec_" + "YmVuY2htYXJrLXNlY3JldC1ieXRlcy0zMg=="
    receiver = Receiver()
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
                    "targets": [
                        {"name": "bench", "url": receiver.url, "secret": {"env": SECRET_ENV}}
                    ]
                },
                log_level="INFO",
            )
            daemon = Daemon(write_yaml(work / "config.yaml", cfg), work / "daemon.log", port)
            prod = producer(bootstrap)
            try:
                wait_for(lambda: daemon.metrics() is not None, 60, "the daemon's /metrics")
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
                    wait_for(lambda s=sent: counted(daemon) >= s, 120, f"{sent} events counted")
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
                        lambda a=alert: _changed(model_status(daemon), a),
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
                        t_hook, kind = receiver.wait(hooks, 60)
                        hook_ms.append((t_hook - t0) * 1e3)
                        line += f", webhook {kind} {hook_ms[-1]:7.1f} ms"
                    previous = is_alert
                    result(f"window {k:2d} ({'drift' if drifted else 'clean'})", line)
            finally:
                prod.close(timeout=10)
                daemon.stop()
                delete_topic(bootstrap, topic)
                receiver.close()
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
