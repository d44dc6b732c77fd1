"""Placeholder retraining endpoint for the compose demo.

Logs every POST it receives - drift-monitor's signed webhooks on /hooks/drift and
Alertmanager's notifications on /alertmanager - and answers 204. Webhook signatures
(Standard Webhooks, ``v1,<base64 HMAC-SHA256>``) are checked against
DRIFT_MONITOR_WEBHOOK_SECRET and the result logged as ``signature_valid``. Watch it with
`docker compose -f deploy/compose/compose.yaml logs -f retrainer`. Replace it
with your pipeline's trigger (Airflow, Argo, Kubeflow, GitHub Actions).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def signature_valid(headers: dict[str, str], body: bytes, secret: str) -> bool | None:
    """None when there is nothing to check, else whether a v1 signature matches."""
    msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not (secret and msg_id and timestamp and signatures):
        return None
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret.removeprefix("whsec_"))
    else:
        key = secret.encode()
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(sig.removeprefix("v1,"), expected)
        for sig in signatures.split()
        if sig.startswith("v1,")
    )


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except ValueError:
            payload = body.decode(errors="replace")
        record = {
            "path": self.path,
            "webhook-id": self.headers.get("webhook-id"),
            "webhook-timestamp": self.headers.get("webhook-timestamp"),
            "signature_valid": signature_valid(
                {k.lower(): v for k, v in self.headers.items()},
                body,
                os.environ.get("DRIFT_MONITOR_WEBHOOK_SECRET", ""),
            ),
            "body": payload,
        }
        print(json.dumps(record), flush=True)
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        print(format % args, file=sys.stderr, flush=True)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()  # noqa: S104
