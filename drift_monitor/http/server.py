"""A small threaded HTTP server (stdlib) for scrapes, probes and /status.

``/metrics``: Prometheus text from the injected registry. ``/healthz``: 200 while the
consume loop completes rounds (503 when it has been stuck for
``http.liveness_timeout_seconds``: kafka-python 3 can block inside ``poll()``
forever). ``/readyz``: 200 when every baseline is loaded, partitions are assigned and
Kafka is reachable, else 503 with the reason. ``/status``: JSON per model
(status, last window, top drifted columns with statistics, open incident); no secrets.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import CollectorRegistry

from drift_monitor import __version__
from drift_monitor.evaluation.results import WindowResult, json_time
from drift_monitor.pipeline.state import MonitorState

log = logging.getLogger("drift_monitor.http")

#: Extra per-model facts for /status (e.g. the open incident id); no secrets.
StatusExtras = Callable[[str], dict[str, Any]]


def _window(r: WindowResult, top: int) -> dict[str, Any]:
    return {
        "status": r.status.label,
        "window": {"start": json_time(r.start), "end": json_time(r.end), "events": r.events},
        "drift_share": r.drift_share,
        "baseline_version": r.baseline_version,
        "top_columns": [
            {
                "name": c.name,
                "kind": c.kind,
                "status": c.status.label,
                "missing_ratio": c.missing_ratio,
                "unseen_ratio": c.unseen_ratio,
                "tests": c.tests_json(),
            }
            for c in r.by_severity()[:top]
        ],
    }


def status_document(
    state: MonitorState, extras: StatusExtras | None = None, top: int = 5
) -> dict[str, Any]:
    """The /status JSON: version, readiness, Kafka, and per model its latest verdict."""
    s = state.snapshot()
    ready, reason = state.ready()
    models: dict[str, Any] = {}
    for m in s.models:
        info = s.baselines.get(m)
        entry: dict[str, Any] = {
            "baseline": {
                "version": info.version if info else None,
                "error": info.error if info else None,
            },
            "events": {o: n for (mm, o), n in s.events.items() if mm == m},
            "last_evaluation": json_time(s.evaluated_at.get(m)),
        }
        r = s.results.get(m)
        entry.update(_window(r, top) if r else {"status": "no_window_yet"})
        if extras is not None:
            entry.update(extras(m))
        models[m] = entry
    return {
        "version": __version__,
        "ready": ready,
        "ready_reason": reason,
        "kafka": {
            "connected": s.kafka_connected,
            "assigned": s.assigned,
            "lag": {f"{t}/{p}": n for (t, p), n in sorted(s.lag.items())},
            # the last offsets passed over unread, per partition (source/gaps.py)
            "gaps": {f"{t}/{p}": g for (t, p), g in sorted(s.gaps.items())},
        },
        "invalid_reasons": dict(sorted(s.invalid_reasons.items())),
        "warnings": s.warnings,
        "sinks": {k: {"ok": v is None, "problem": v} for k, v in sorted(s.sinks.items())},
        "models": models,
    }


class MonitorHttpServer:
    """Serves the endpoints on ``host:port`` from a daemon thread (port 0 = any)."""

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        state: MonitorState,
        extras: StatusExtras | None = None,
        liveness_timeout: float = 120.0,
    ) -> None:
        handler = _make_handler(registry, state, extras, liveness_timeout)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9108``."""
        host = self._server.server_address[0]
        host = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="drift-monitor-http", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()


def _make_handler(
    registry: CollectorRegistry,
    state: MonitorState,
    extras: StatusExtras | None,
    liveness_timeout: float,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"drift-monitor/{__version__}"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._metrics()
            elif path == "/healthz":
                alive, reason = state.alive(liveness_timeout)
                self._send(
                    200 if alive else 503, (reason + "\n").encode(), "text/plain; charset=utf-8"
                )
            elif path == "/readyz":
                ready, reason = state.ready()
                self._send(
                    200 if ready else 503, (reason + "\n").encode(), "text/plain; charset=utf-8"
                )
            elif path == "/status":
                body = json.dumps(status_document(state, extras), indent=2).encode()
                self._send(200, body, "application/json")
            else:
                self._send(
                    404,
                    b"not found: try /metrics, /healthz, /readyz, /status\n",
                    "text/plain; charset=utf-8",
                )

        def _metrics(self) -> None:
            # client_python's own negotiation: OpenMetrics when the scraper asks for it
            # (Prometheus does, for exemplars and _created), text 0.0.4 otherwise; gzip
            # when accepted (a scrape of many models' feature families shrinks ~10x).
            encoder, ctype = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(registry)
            gzipped = gzip_accepted(self.headers.get("Accept-Encoding", ""))
            if gzipped:
                body = gzip.compress(body)
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            if gzipped:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept, Accept-Encoding")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler
