"""Free TCP ports on 127.0.0.1: the one helper every test, benchmark and service uses.

A port is free when this returns; whoever binds it next wins. The small race is why
servers that can bind port 0 themselves (the webhook receiver) do so instead.
"""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (the caller binds it next)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def free_port_pair(attempts: int = 100) -> int:
    """A free TCP port P on 127.0.0.1 whose neighbour P+1 is free too (Kafka's broker
    listens on P, its KRaft controller on P+1). RuntimeError after ``attempts`` tries."""
    for _ in range(attempts):
        with socket.socket() as first:
            first.bind((LOOPBACK, 0))
            port = int(first.getsockname()[1])
            if port + 1 > 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
                return port
    raise RuntimeError("no two adjacent free TCP ports found on 127.0.0.1")
