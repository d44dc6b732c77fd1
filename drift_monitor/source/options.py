"""Connection options shared by every kafka-python client, and building a client that
never leaks when its first contact with the brokers fails."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any, TypeVar

from kafka.net.compat import KafkaNetClient

from drift_monitor.source.settings import KafkaSettings

#: How long constructing a client waits for a first broker answer (ms).
BOOTSTRAP_TIMEOUT_MS = 5000

#: Longest backoff between two reconnection attempts to a broker (ms). kafka-python's
#: default (30 000; the Java client's is 1 000) kept the daemon not ready for up to
#: ~36 s after a broker came back from an outage of more than ~20 s.
RECONNECT_BACKOFF_MAX_MS = 5000

C = TypeVar("C")


#: kafka-python's option for each field of :func:`security_fields`.
_KAFKA_PYTHON_NAMES = {
    "ssl_check_hostname": "ssl_check_hostname",
    "ssl_cafile": "ssl_cafile",
    "ssl_certfile": "ssl_certfile",
    "ssl_keyfile": "ssl_keyfile",
    "ssl_password": "ssl_password",
    "sasl_mechanism": "sasl_mechanism",
    "sasl_username": "sasl_plain_username",
    "sasl_password": "sasl_plain_password",
}


def security_fields(settings: KafkaSettings) -> dict[str, Any]:
    """The SSL and SASL fields ``settings`` sets, by client-neutral names (the keys of
    :data:`_KAFKA_PYTHON_NAMES`): paths as strings, ``ssl_check_hostname`` a bool,
    secrets resolved (never logged). Unset fields are absent. The one reading of these
    config fields; each client maps the names (:func:`client_options`, and
    :func:`~.rdkafka_options.rdkafka_options`)."""
    out: dict[str, Any] = {}
    ssl = settings.ssl
    if ssl is not None:
        out["ssl_check_hostname"] = ssl.check_hostname
        for name, path in (
            ("cafile", ssl.cafile),
            ("certfile", ssl.certfile),
            ("keyfile", ssl.keyfile),
        ):
            if path:
                out[f"ssl_{name}"] = str(path)
        if ssl.password is not None:
            out["ssl_password"] = ssl.password.resolve("kafka.ssl.password").get_secret_value()
    sasl = settings.sasl
    if sasl is not None:
        out["sasl_mechanism"] = sasl.mechanism
        out["sasl_username"] = sasl.username
        out["sasl_password"] = sasl.password.resolve("kafka.sasl.password").get_secret_value()
    return out


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """kafka-python options for connection and security (shared by consumer and
    producers). Secrets are resolved here and never logged."""
    opts: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
        "reconnect_backoff_max_ms": RECONNECT_BACKOFF_MAX_MS,
    }
    opts.update((_KAFKA_PYTHON_NAMES[k], v) for k, v in security_fields(settings).items())
    return opts


def build_closing_on_failure(factory: Callable[..., C], **options: Any) -> C:
    """``factory(**options)`` (a KafkaConsumer, KafkaProducer or KafkaAdminClient) whose
    network client is closed when construction fails.

    kafka-python starts its IO thread and opens sockets before its bootstrap; when the
    bootstrap then fails (a SASL or SSL handshake against a listener speaking another
    protocol, a broker that drops the connection) the constructor raises and leaves
    that thread and its sockets running: one thread and three descriptors per retry
    (measured 12 -> 93 threads, 13 -> 256 fds in 14 minutes of retries). The public
    ``kafka_client`` option lets us see the client it built, and close it.
    """
    built: list[KafkaNetClient] = []

    def make_client(**kwargs: Any) -> KafkaNetClient:
        client = KafkaNetClient(**kwargs)
        built.append(client)
        return client

    try:
        return factory(kafka_client=make_client, **options)
    except BaseException:
        for client in built:
            client.close()
        raise


def reachable(servers: list[str], timeout: float = 2.0) -> None:
    """Return when one bootstrap server accepts a TCP connection; else raise OSError.
    A cheap first check before building a client against a down cluster."""
    last: OSError = OSError("no bootstrap servers")
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            socket.create_connection((host.strip("[]") or server, int(port)), timeout).close()
            return
        except (OSError, ValueError) as exc:
            last = exc if isinstance(exc, OSError) else OSError(str(exc))
    raise last
