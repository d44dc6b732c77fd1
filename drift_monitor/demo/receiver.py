"""A retraining endpoint on 127.0.0.1: a real stdlib HTTP server in a thread.

The demo runs it to show what a retraining pipeline gets, and the tests and benchmarks
that send webhooks use the same one (it lives in the package because the demo needs it
at runtime). With a ``secret`` every request is checked with
:func:`drift_monitor.webhooks.signing.verify` against the injected clock ``now`` and a
request that fails is answered 401; without one nothing is verified.

Answers are scripted: :meth:`WebhookReceiver.answer` queues statuses or
:class:`Reply` values (a delay, a dropped connection, headers), used in order, then
``default``. :meth:`~WebhookReceiver.stop` stops listening (senders get ``connection
refused``) and :meth:`~WebhookReceiver.start` serves on the same port again.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drift_monitor.errors import WebhookError
from drift_monitor.webhooks.signing import verify

DEFAULT_PATH = "/hooks/retrain"


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer. ``delay``: seconds to stall, then close without answering
    (to make the client time out); ``drop``: close the connection without any response."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True, slots=True)
class Received:
    """One request as received.

    ``body`` is the parsed JSON object (``{}`` when the body is not one), ``raw`` the
    bytes. ``verified`` is None when the receiver has no secret. ``answered`` is the
    status sent back, None when the connection was dropped or stalled.
    ``received_at`` is the injected clock's time (seconds), ``arrived`` the
    ``time.perf_counter()`` of arrival (for latency measurements)."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    raw: bytes
    body: dict[str, Any]
    verified: bool | None
    error: str | None
    answered: int | None
    received_at: float
    arrived: float

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header ("" when absent)."""
        return self.headers.get("webhook-id", "")

    @property
    def type(self) -> str:
        """The body's ``type`` (e.g. ``drift.detected``)."""
        return str(self.body.get("type"))

    @property
    def ok(self) -> bool:
        """Answered 2xx."""
        return self.answered is not None and 200 <= self.answered < 300


class WebhookReceiver:
    """See the module docstring. ``tolerance``: seconds of signature-timestamp skew
    accepted; ``port`` 0 binds a free one on the first :meth:`start`."""

    def __init__(
        self,
        secret: str | None = None,
        *,
        now: Callable[[], float] = time.time,
        tolerance: float = 300.0,
        port: int = 0,
        path: str = DEFAULT_PATH,
        default: int = 200,
    ) -> None:
        self.secret = secret
        self.default = default
        self.received: list[Received] = []
        self._now = now
        self._tolerance = tolerance
        self._port = port
        self._path = path
        self._cond = threading.Condition()
        self._script: list[Reply] = []
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port (0 before the first :meth:`start` when none was given)."""
        return self._port

    @property
    def url(self) -> str:
        """The URL to configure as the webhook target."""
        return self.url_for(self._path)

    def url_for(self, path: str) -> str:
        """``http://127.0.0.1:PORT`` + ``path``."""
        return f"http://127.0.0.1:{self._port}{path}"

    def answer(self, *replies: Reply | int, default: int | None = None) -> None:
        """Answer the next requests with ``replies`` (statuses or :class:`Reply`), then
        with ``default`` (unchanged when None)."""
        with self._cond:
            self._script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)
            if default is not None:
                self.default = default

    def start(self) -> WebhookReceiver:
        """Serve (again) on the receiver's port (a free one the first time)."""
        self._release.clear()
        server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        server.daemon_threads = True
        self._port = int(server.server_address[1])
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections to the port are refused until :meth:`start`.
        Stalled replies are released first so the server stops promptly."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what arrived ----------------------------------------------------------------

    def snapshot(self) -> list[Received]:
        """Every request so far, in arrival order."""
        with self._cond:
            return list(self.received)

    def of_type(self, type_: str) -> list[Received]:
        """Requests whose body ``type`` is ``type_``."""
        return [r for r in self.snapshot() if r.type == type_]

    def delivered(self, type_: str | None = None) -> list[Received]:
        """Requests answered 2xx (of ``type_``)."""
        return [r for r in self.snapshot() if r.ok and (type_ is None or r.type == type_)]

    def wait(self, count: int, timeout: float) -> Received:
        """The ``count``-th request (1-based), waiting up to ``timeout`` seconds for it;
        TimeoutError when it has not arrived by then."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(f"webhook #{count} did not arrive in {timeout:.0f} s")
            return self.received[count - 1]

    # -- serving ---------------------------------------------------------------------

    def _verify(self, headers: dict[str, str], raw: bytes) -> tuple[bool | None, str | None]:
        if self.secret is None:
            return None, None
        try:
            verify(self.secret, headers, raw, self._tolerance, self._now())
        except WebhookError as exc:
            return False, str(exc)
        return True, None

    def _record(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        """Verify and record one request; the reply to give it."""
        arrived = time.perf_counter()
        verified, error = self._verify(headers, raw)
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        with self._cond:
            reply = self._script.pop(0) if self._script else Reply(self.default)
            if verified is False:
                reply = Reply(401)
            answered = None if (reply.drop or reply.delay) else reply.status
            self.received.append(
                Received(
                    method, path, headers, raw, body, verified, error, answered,
                    self._now(), arrived,
                )
            )  # fmt: skip
            self._cond.notify_all()
        return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = receiver._record(self.command, self.path, headers, raw)
                if reply.drop:
                    self.close_connection = True
                    return
                if reply.delay:
                    receiver._release.wait(reply.delay)
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep the demo's and pytest's output clean

        return Handler


# The demo's name for it (drift_monitor/demo/run.py).
DemoReceiver = WebhookReceiver
