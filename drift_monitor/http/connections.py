"""Accepted connections wait here, without a thread, until their request head arrives.

One thread multiplexes every accepted connection with a selector, reading what the
client sends until the blank line that ends the request head. Only then is the
connection handed to a bounded pool of handler threads, with the bytes read so far.
An idle, half-open or slow-dripping client therefore costs one file descriptor, never a
handler thread, and is closed ``timeout`` seconds after it connected; when more than
``limit`` connections wait, the one waiting longest is closed. A scrape arriving during
a slow-loris attack is served as soon as its request is complete.
"""

from __future__ import annotations

import contextlib
import io
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("drift_monitor.http")

#: Largest request head accepted (bytes); http.server's own limit is 64 KiB per line.
MAX_HEAD_BYTES = 64 * 1024

Ready = Callable[[socket.socket, Any, bytes], None]


class HeadWaiter:
    """Holds connections until a complete request head arrived, then calls
    ``ready(sock, address, head_bytes)`` on its own thread (the socket blocking again)."""

    def __init__(self, ready: Ready, timeout: float, limit: int) -> None:
        self._ready = ready
        self._timeout = timeout
        self._limit = limit
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._lock = threading.Lock()
        self._incoming: list[tuple[socket.socket, Any]] = []
        # socket -> (deadline, address, bytes so far); insertion order = age
        self._waiting: dict[socket.socket, tuple[float, Any, bytearray]] = {}
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="drift-monitor-http-heads")
        self._thread.daemon = True
        self._thread.start()

    def add(self, sock: socket.socket, address: Any) -> None:
        """Take an accepted connection (from the accept thread)."""
        with self._lock:
            if self._closed:
                _close(sock)
                return
            self._incoming.append((sock, address))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def close(self) -> None:
        """Stop waiting and close every connection still waiting."""
        with self._lock:
            self._closed = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5)

    def _run(self) -> None:
        try:
            while not self._closed:
                self._admit()
                self._select()
                self._expire()
        finally:
            for sock in list(self._waiting):
                self._forget(sock)
                _close(sock)
            with self._lock:
                incoming, self._incoming = self._incoming, []
            for sock, _ in incoming:
                _close(sock)
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _admit(self) -> None:
        with self._lock:
            incoming, self._incoming = self._incoming, []
        now = time.monotonic()
        for sock, address in incoming:
            if len(self._waiting) >= self._limit:
                oldest = next(iter(self._waiting))
                log.debug("http: %d connections waiting; closing the oldest", self._limit)
                self._forget(oldest)
                _close(oldest)
            sock.setblocking(False)
            self._waiting[sock] = (now + self._timeout, address, bytearray())
            self._selector.register(sock, selectors.EVENT_READ)

    def _select(self) -> None:
        now = time.monotonic()
        first = min((d for d, _, _ in self._waiting.values()), default=now + 1.0)
        for key, _ in self._selector.select(timeout=max(0.0, min(first - now, 1.0))):
            sock = key.fileobj
            if sock is self._wake_r:
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
                continue
            assert isinstance(sock, socket.socket)
            self._read(sock)

    def _read(self, sock: socket.socket) -> None:
        _, address, head = self._waiting[sock]
        try:
            chunk = sock.recv(MAX_HEAD_BYTES)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        head += chunk
        if b"\r\n\r\n" in head or b"\n\n" in head:
            self._forget(sock)
            sock.setblocking(True)
            self._ready(sock, address, bytes(head))
        elif not chunk or len(head) >= MAX_HEAD_BYTES:
            self._forget(sock)
            _close(sock)

    def _expire(self) -> None:
        now = time.monotonic()
        for sock, (deadline, _, _) in list(self._waiting.items()):
            if deadline <= now:
                self._forget(sock)
                _close(sock)

    def _forget(self, sock: socket.socket) -> None:
        self._waiting.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(sock)


class PrefixedSocketReader(io.RawIOBase):
    """Reads ``prefix`` (the request head already received) and then the socket, so the
    request handler parses the request as if nothing had been read before it."""

    def __init__(self, prefix: bytes, sock: socket.socket) -> None:
        self._prefix = memoryview(prefix)
        self._sock = sock

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the prefix first, then from the socket."""
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        return self._sock.recv_into(buffer)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
