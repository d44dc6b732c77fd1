"""A small threaded HTTP server (stdlib) for scrapes, probes and /status.

``/metrics``: Prometheus text from the injected registry. ``/healthz``: 200 while the
consume loop completes rounds (503 when it has been stuck for
``http.liveness_timeout_seconds``: kafka-python 3 can block inside ``poll()``
forever). ``/readyz``: 200 when every baseline is loaded, partitions are assigned and
Kafka is reachable and the consume loop is alive (a stuck loop is not ready either),
else 503 with the reason. ``/status``: JSON per model (status, last window, top drifted
columns with statistics, open incident); no secrets.

Hardened against hostile or broken clients: a connection waits without a thread until
its request head is complete (:mod:`drift_monitor.http.connections`) and is closed if
that takes more than ``request_timeout`` seconds, so idle, half-open or slow-dripping
clients cost a file descriptor, not a thread, and cannot starve scrapes; complete
requests run on at most ``max_connections`` handler threads; the listen backlog is
:data:`LISTEN_BACKLOG`, so a burst of scrapers is queued, not dropped; errors go
through this module's logger instead of socketserver's tracebacks on stderr.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import logging
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import CollectorRegistry

from drift_monitor import __version__
from drift_monitor.errors import ConfigError
from drift_monitor.evaluation.results import WindowResult, json_ms, json_time
from drift_monitor.http.connections import HeadWaiter, PrefixedSocketReader
from drift_monitor.status.state import MonitorState

log = logging.getLogger("drift_monitor.http")

#: Extra per-model facts for /status (e.g. the open incident id); no secrets.
StatusExtras = Callable[[str], dict[str, Any]]

#: listen() backlog: connections the kernel queues while every handler is busy.
LISTEN_BACKLOG = 128
#: Default most connections served at once (one thread each).
MAX_CONNECTIONS = 32
#: Default seconds a connection may take to send its request head (from connecting),
#: and the socket timeout of every later read and write.
REQUEST_TIMEOUT = 5.0
#: Most connections waiting for their request head at once (one fd each, no thread);
#: beyond it the one waiting longest is closed.
MAX_WAITING = 1024


def readiness(state: MonitorState, liveness_timeout: float | None) -> tuple[bool, str]:
    """(ready, reason): :meth:`MonitorState.ready`, and not ready while the consume loop
    is stuck (``liveness_timeout`` seconds without a round; None skips that check)."""
    if liveness_timeout is not None:
        alive, reason = state.alive(liveness_timeout)
        if not alive:
            return False, reason
    return state.ready()


def _window(r: WindowResult, top: int) -> dict[str, Any]:
    doc = _model_window(r, top)
    if r.segment_by is not None:  # per-segment drift: one row per segment
        doc["segment_by"] = r.segment_by
        doc["segments"] = [
            {
                "segment": s.segment,
                "status": s.status.label,
                "events": s.events,
                "drift_share": s.drift_share,
                "drifted": [c.name for c in s.drifted],
            }
            for s in r.segments
        ]
    return doc


def _model_window(r: WindowResult, top: int) -> dict[str, Any]:
    return {
        "status": r.status.label,
        "window": _bounds(r),
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
                "thresholds": c.thresholds_json(),
            }
            for c in r.by_severity()[:top]
        ],
    }


def _bounds(r: WindowResult) -> dict[str, Any]:
    return {
        "start": json_time(r.start, "milliseconds"),
        "end": json_time(r.end, "milliseconds"),
        "start_ms": json_ms(r.start),
        "end_ms": json_ms(r.end),
        "events": r.events,
    }


def _history(results: tuple[WindowResult, ...]) -> list[dict[str, Any]]:
    """The last closed windows, newest first: bounds (ms), status, drift share and the
    columns in alert (the full record is on the report topic and in the audit log)."""
    return [
        {
            "window": _bounds(r),
            "status": r.status.label,
            "drift_share": r.drift_share,
            "baseline_version": r.baseline_version,
            "drifted": [c.name for c in r.drifted],
            **(
                {"drifted_segments": [s.segment for s in r.drifted_segments]}
                if r.segment_by is not None
                else {}
            ),
        }
        for r in reversed(results)
    ]


def status_document(
    state: MonitorState,
    extras: StatusExtras | None = None,
    top: int = 5,
    liveness_timeout: float | None = None,
) -> dict[str, Any]:
    """The /status JSON: version, readiness, Kafka, and per model its latest verdict."""
    s = state.snapshot()
    ready, reason = readiness(state, liveness_timeout)
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
        entry["windows"] = _history(s.history.get(m, ()))
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


class _Server(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` whose connections wait in a :class:`HeadWaiter` (no
    thread) until their request is complete, then run on a bounded thread pool; with a
    real backlog and errors through our logging."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: Any, max_connections: int, timeout: float
    ) -> None:
        super().__init__(address, handler)
        self._pool = ThreadPoolExecutor(max_connections, "drift-monitor-http-handler")
        self._lock = threading.Lock()
        self._prefixes: dict[socket.socket, bytes] = {}
        self._heads = HeadWaiter(self._dispatch, timeout, MAX_WAITING)

    def process_request(self, request: Any, client_address: Any) -> None:
        # On the accept thread: never blocks, never starts a thread.
        self._heads.add(request, client_address)

    def _dispatch(self, sock: socket.socket, client_address: Any, head: bytes) -> None:
        with self._lock:
            if len(self._prefixes) >= MAX_WAITING:  # every handler busy for long
                sock.close()
                return
            self._prefixes[sock] = head
        self._pool.submit(self._handle, sock, client_address)

    def take_prefix(self, sock: socket.socket) -> bytes:
        """The request bytes already read from ``sock`` (for the handler's setup)."""
        with self._lock:
            return self._prefixes.pop(sock, b"")

    def _handle(self, sock: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(sock, client_address)
        except Exception:
            self.handle_error(sock, client_address)
        finally:
            self.take_prefix(sock)
            self.shutdown_request(sock)

    def server_close(self) -> None:
        super().server_close()
        # Also called by socketserver when binding failed, before these exist.
        if hasattr(self, "_heads"):
            self._heads.close()
            self._pool.shutdown(wait=False, cancel_futures=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            log.debug("http: client %s went away (%s)", client_address, type(exc).__name__)
        else:
            log.warning("http: error serving %s", client_address, exc_info=True)


class MonitorHttpServer:
    """Serves the endpoints on ``host:port`` from a daemon thread (port 0 = any).

    Raises :class:`ConfigError` naming ``http.port`` (or ``http.host``) when it cannot
    listen there, e.g. the port is in use. ``request_timeout``: seconds a client may
    take to send a request; ``max_connections``: connections served at once.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        state: MonitorState,
        extras: StatusExtras | None = None,
        liveness_timeout: float = 120.0,
        request_timeout: float = REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        handler = _make_handler(registry, state, extras, liveness_timeout, request_timeout)
        try:
            self._server = _Server((host, port), handler, max_connections, request_timeout)
        except OSError as exc:
            raise _listen_error(host, port, exc) from None
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


def _listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(
            f"http.port: {host}:{port} is already in use; stop the other process or set "
            "http.port to a free port (0 picks any)"
        )
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return ConfigError(
            f"http.host: cannot listen on {host!r} ({exc.strerror or exc}); use an address "
            "of this machine, e.g. 127.0.0.1 or 0.0.0.0"
        )
    return ConfigError(
        f"http.port: cannot listen on {host}:{port} ({exc.strerror or exc}); choose another "
        "http.port (ports below 1024 need privileges)"
    )


def _make_handler(
    registry: CollectorRegistry,
    state: MonitorState,
    extras: StatusExtras | None,
    liveness_timeout: float,
    request_timeout: float,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = f"drift-monitor/{__version__}"
        # Socket timeout of every read and write: an idle or half-open connection is
        # closed after this instead of holding its thread forever.
        timeout = request_timeout

        def setup(self) -> None:
            super().setup()
            prefix = self.server.take_prefix(self.connection)  # type: ignore[attr-defined]
            if prefix:  # the request head, already read while it arrived
                self.rfile = io.BufferedReader(PrefixedSocketReader(prefix, self.connection))

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
                ready, reason = readiness(state, liveness_timeout)
                self._send(
                    200 if ready else 503, (reason + "\n").encode(), "text/plain; charset=utf-8"
                )
            elif path == "/status":
                doc = status_document(state, extras, liveness_timeout=liveness_timeout)
                body = json.dumps(doc, indent=2).encode()
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
