"""Item 11 of issue 12: a webhook response that stalls after its status line is a
retry, not a delivery; webhook targets on loopback / link-local addresses are refused
unless allowed. Real servers on loopback; every wait is bounded."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from drift_monitor.webhooks.config import WebhookSettings
from drift_monitor.webhooks.transport import HttpTransport, TransportError


class RawServer:
    """Accepts connections, reads the request head and answers with ``reply`` bytes,
    then stalls ``stall`` seconds before closing (or closes at once)."""

    def __init__(self, reply: bytes, stall: float) -> None:
        self.reply, self.stall = reply, stall
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data and len(data) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                # Read the request body too: closing with unread bytes makes the kernel
                # send a reset, which can reach the client before the reply's bytes and
                # turn "response cut short" into "connection reset" (a flaky message).
                head, _, body = data.partition(b"\r\n\r\n")
                length = _content_length(head)
                while len(body) < length:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    body += chunk
                conn.sendall(self.reply)
                self._stop.wait(self.stall)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


@pytest.fixture
def stalling() -> Iterator[RawServer]:
    # The status line and headers arrive, the 10-byte body never does.
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", stall=3.0)
    yield srv
    srv.close()


def post(url: str, timeout: float) -> tuple[object, float]:
    started = time.monotonic()
    try:
        result: object = HttpTransport().post(url, {}, b"{}", timeout)
    except TransportError as exc:
        result = exc
    return result, time.monotonic() - started


def test_status_line_then_stall_is_a_timeout_not_a_delivery(stalling: RawServer) -> None:
    result, seconds = post(stalling.url, timeout=0.5)
    assert isinstance(result, TransportError), result
    assert "timed out" in str(result)
    assert seconds < 1.5


def test_body_cut_short_is_not_a_delivery() -> None:
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", stall=0.0)
    try:
        result, _ = post(srv.url, timeout=2.0)
    finally:
        srv.close()
    assert isinstance(result, TransportError) and "short" in str(result)


def test_complete_response_is_delivered() -> None:
    srv = RawServer(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", stall=3.0)
    try:
        result, seconds = post(srv.url, timeout=2.0)
    finally:
        srv.close()
    assert getattr(result, "status", None) == 204
    assert seconds < 1.5


def settings(url: str, **extra: object) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {"targets": [{"name": "t", "url": url, "secret": {"value": "x"}}], **extra}
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/hook",
        "http://127.1.2.3/hook",
        "http://localhost:8080/hook",
        "http://api.localhost/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://0.0.0.0:8080/hook",
    ],
)
def test_loopback_and_link_local_targets_are_refused_by_default(url: str) -> None:
    with pytest.raises(ValidationError) as err:
        settings(url)
    msg = str(err.value)
    assert "webhooks.targets[t].url" in msg and "allow_networks" in msg


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/x", "http://10.0.3.7/hook", "http://192.168.1.5/hook"],
)
def test_public_names_and_private_networks_are_accepted(url: str) -> None:
    assert settings(url).targets[0].url == url


def test_allow_networks_exempts_a_local_receiver() -> None:
    s = settings("http://127.0.0.1:8080/hook", allow_networks=["127.0.0.0/8"])
    assert s.targets[0].url.startswith("http://127.0.0.1")
    with pytest.raises(ValidationError):  # the exemption is exactly what was given
        settings("http://169.254.169.254/", allow_networks=["127.0.0.0/8"])


def test_deny_networks_can_be_extended() -> None:
    with pytest.raises(ValidationError):
        settings("http://10.1.2.3/hook", deny_networks=["10.0.0.0/8"])


def test_transport_checks_resolved_addresses(stalling: RawServer) -> None:
    # "localhost" resolves to loopback: refused at send time, no connection made.
    policy = settings("https://hooks.example.com/x").target_policy()
    url = f"http://localhost:{stalling.port}/hook"
    with pytest.raises(TransportError) as err:
        HttpTransport(policy=policy).post(url, {}, b"{}", 2.0)
    assert "deny_networks" in str(err.value) and "127.0.0.1" in str(err.value)
    allowed = settings(
        "https://hooks.example.com/x", allow_networks=["127.0.0.0/8", "::1/128"]
    ).target_policy()
    with pytest.raises(TransportError, match="timed out"):  # allowed: it connects
        HttpTransport(policy=allowed).post(url, {}, b"{}", 0.5)
