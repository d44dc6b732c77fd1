"""A tiny webhook receiver the demo runs on 127.0.0.1 to show what a retraining
pipeline would get: it verifies each request's Standard Webhooks signature."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from drift_monitor.errors import WebhookError
from drift_monitor.webhooks.signing import verify


@dataclass(frozen=True, slots=True)
class Received:
    """One webhook as received: its headers, parsed body and signature verdict."""

    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool
    error: str | None


class DemoReceiver:
    """Accepts POSTs on ``/hooks/retrain``, verifies them with ``secret``, keeps them."""

    def __init__(self, secret: str) -> None:
        self.received: list[Received] = []
        self._secret = secret
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify(outer._secret, headers, raw)
                    ok, err = True, None
                except WebhookError as exc:
                    ok, err = False, str(exc)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                outer.received.append(Received(headers, body, ok, err))
                self.send_response(204 if ok else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The URL to configure as the webhook target."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/retrain"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
