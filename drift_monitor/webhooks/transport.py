"""How webhook requests leave the process: the ``Transport`` protocol and two implementations.

``HttpTransport`` is the real one (stdlib ``http.client``, TLS verified, redirects
never followed, one hard deadline per request); ``MemoryTransport`` answers from a
script and records every request, for unit tests and the demo.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from drift_monitor.errors import WebhookError
from drift_monitor.webhooks.policy import TargetPolicy

# We only need the status and headers; the body is drained up to this to be polite.
_MAX_RESPONSE_BYTES = 64 * 1024


class TransportError(WebhookError):
    """The request got no HTTP response: connection refused/reset, DNS, TLS or timeout.

    Always retryable. The message names the failure, never the URL's query or headers.
    """


@dataclass(frozen=True)
class TransportResponse:
    """An HTTP response: ``status`` code and ``headers`` with lower-cased names."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Sends one POST. Implementations must not follow redirects."""

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> TransportResponse:
        """POST ``body`` to ``url``; return within about ``timeout`` seconds.

        Returns any HTTP response, whatever its status. Raises ``TransportError`` when
        there is none (connection error or timeout).
        """
        ...


class HttpTransport:
    """``Transport`` on stdlib ``http.client``.

    TLS certificates are verified with the system trust store (or ``ssl_context``).
    A 3xx is returned as it is - ``http.client`` never follows redirects, and a signed
    webhook must not be forwarded somewhere the operator did not configure. ``timeout``
    is a hard deadline for the whole exchange (connect, send, the complete response,
    its body up to 64 KiB): a watchdog shuts the socket down when it passes, so a
    slow-dripping server cannot hold the caller longer, and a response not complete by
    then is a ``TransportError`` (a retry), whatever its status line said.

    ``policy`` (``WebhookSettings.target_policy()``): the host name is resolved once,
    every address it resolves to is checked against the deny/allow networks, and the
    connection goes to a checked address, so DNS cannot point a webhook at loopback or
    the metadata endpoint (``TransportError`` naming the address otherwise).
    """

    def __init__(
        self, ssl_context: ssl.SSLContext | None = None, policy: TargetPolicy | None = None
    ) -> None:
        self._ssl = ssl_context or ssl.create_default_context()
        self._policy = policy

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> TransportResponse:
        """POST ``body`` to ``url`` (http or https) within ``timeout`` seconds; see the class."""
        parts = urlsplit(url)
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            raise TransportError(f"unsupported URL scheme {parts.scheme!r}")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=self._ssl)
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
        if self._policy is not None:
            # http.client's own hook for opening the socket (HTTPS wraps what it returns).
            conn._create_connection = _checked_connector(self._policy)  # type: ignore[attr-defined]
        expired = threading.Event()
        watchdog = threading.Timer(timeout, _abort, args=(conn, expired))
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.connect()
            if expired.is_set():
                raise TimeoutError
            conn.request("POST", path, body=body, headers=dict(headers))
            response = conn.getresponse()
            received = response.read(_MAX_RESPONSE_BYTES)
            # The watchdog's shutdown ends a stalled read with a short body, not an
            # error: a response that did not complete within the deadline is a retry,
            # never "delivered" (the receiver may not have committed its side).
            if expired.is_set():
                raise TimeoutError
            if response.length and len(received) < _MAX_RESPONSE_BYTES:
                raise TransportError(
                    f"response ended {response.length} bytes short of its Content-Length"
                )
            return TransportResponse(
                status=response.status,
                headers={k.lower(): v for k, v in response.getheaders()},
            )
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set() or isinstance(exc, TimeoutError):
                raise TransportError(f"timed out after {timeout:g} s") from None
            raise TransportError(_describe(exc)) from None
        finally:
            watchdog.cancel()
            conn.close()


def _checked_connector(policy: TargetPolicy) -> Callable[..., socket.socket]:
    def connect(
        address: tuple[str, int], timeout: float | None = None, source: Any = None
    ) -> socket.socket:
        host, port = address
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            net = policy.denied_by(ip)
            if net is not None:
                raise TransportError(
                    f"{host} resolves to {ip}, in webhooks.deny_networks ({net}); add it to "
                    "webhooks.allow_networks if this receiver is intended"
                )
        last: OSError | None = None
        for family, kind, proto, _, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last or OSError(f"{host} has no address")

    return connect


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    # Runs on the watchdog thread: shutting the socket down wakes a blocked recv/send.
    expired.set()
    sock = conn.sock
    if sock is not None:
        # OSError: already closed by the request thread, nothing left to interrupt.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror or exc})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection closed without a response"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class RecordedRequest:
    """A request ``MemoryTransport`` received: what ``post`` was called with."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout: float


class MemoryTransport:
    """In-memory ``Transport``: answers from a script and records every request.

    ``script`` items are a ``TransportResponse`` to return, an ``int`` status, or a
    ``TransportError`` to raise, used in order; once it is exhausted every request gets
    ``default_status``. Thread-safe.
    """

    def __init__(
        self,
        script: Iterable[TransportResponse | int | TransportError] = (),
        default_status: int = 200,
    ) -> None:
        self._script = list(script)
        self._default = default_status
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []

    def add(self, *items: TransportResponse | int | TransportError) -> None:
        """Append answers to the script."""
        with self._lock:
            self._script.extend(items)

    def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> TransportResponse:
        """Record the request and return (or raise) the next scripted answer."""
        with self._lock:
            self.requests.append(RecordedRequest(url, dict(headers), body, timeout))
            item = self._script.pop(0) if self._script else self._default
        if isinstance(item, TransportError):
            raise item
        if isinstance(item, int):
            return TransportResponse(item, {})
        return item
