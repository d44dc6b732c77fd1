"""A retraining endpoint for the tests that send webhooks (incidents, resilience, SRE):
a real stdlib HTTP server on 127.0.0.1.

Every request is verified with :func:`drift_monitor.webhooks.verify` (the receiver's
own secret, the injected clock's time) and recorded with its verdict. Answers are
scripted: a list of statuses used in order, then ``default``; :meth:`refuse` stops
listening on the port (the sender gets ``connection refused``) and :meth:`listen`
serves on the same port again. As a context manager it listens inside the block.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drift_monitor.webhooks import SignatureError, verify


@dataclass(frozen=True)
class Hit:
    """One request as received."""

    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    body: dict[str, Any]
    answered: int
    verified: bool
    error: str | None

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    @property
    def type(self) -> str:
        return str(self.body.get("type"))

    @property
    def ok(self) -> bool:
        return 200 <= self.answered < 300


class HookReceiver:
    """See the module docstring. ``now`` is the clock signatures are checked against."""

    def __init__(
        self, secret: str, *, now: Callable[[], float] = time.time, tolerance: float = 300.0
    ) -> None:
        self.secret = secret
        self._now = now
        self._tolerance = tolerance
        self._lock = threading.Lock()
        self._script: list[int] = []
        self.default = 200
        self.hits: list[Hit] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0

    # -- control -------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}/hooks/retrain"

    def answer(self, *statuses: int, default: int | None = None) -> None:
        """Answer the next requests with ``statuses``, then with ``default``."""
        with self._lock:
            self._script.extend(statuses)
            if default is not None:
                self.default = default

    def listen(self) -> HookReceiver:
        """Serve (again) on the receiver's port (a free one the first time)."""
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        server.daemon_threads = True
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def refuse(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`listen`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    close = refuse

    def __enter__(self) -> HookReceiver:
        return self.listen()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what arrived ----------------------------------------------------------------

    def of_type(self, type_: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.type == type_]

    def delivered(self, type_: str | None = None) -> list[Hit]:
        """Requests answered 2xx (of ``type_``)."""
        with self._lock:
            return [h for h in self.hits if h.ok and (type_ is None or h.type == type_)]

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    # -- serving ---------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify(receiver.secret, headers, raw, receiver._tolerance, receiver._now())
                    verified, error = True, None
                except SignatureError as exc:
                    verified, error = False, str(exc)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                with receiver._lock:
                    status = receiver._script.pop(0) if receiver._script else receiver.default
                    if not verified:
                        status = 401
                    receiver.hits.append(
                        Hit(self.path, headers, raw, body, status, verified, error)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
