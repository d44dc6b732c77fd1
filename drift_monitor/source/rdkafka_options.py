"""librdkafka (confluent-kafka) properties from the same ``kafka`` config fields the
kafka-python clients use (:mod:`.options`), so that switching ``kafka.client`` changes
nothing else in a config file."""

from __future__ import annotations

from typing import Any

from drift_monitor.source.options import RECONNECT_BACKOFF_MAX_MS
from drift_monitor.source.settings import KafkaSettings

#: Longest wait of one request before librdkafka tears the connection down (ms). Its
#: default (60 s) would keep a hung broker looking connected for a minute.
SOCKET_TIMEOUT_MS = 10_000


def rdkafka_options(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka properties for connection and security (consumer and producers).

    Edge cases: ``ssl.check_hostname: false`` maps to
    ``ssl.endpoint.identification.algorithm: none`` (librdkafka verifies the host name
    by default); SASL mechanisms keep their names (``PLAIN``, ``SCRAM-SHA-256/512``).
    Secrets are resolved here and never logged."""
    opts: dict[str, Any] = {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        "client.id": settings.client_id,
        "security.protocol": settings.security_protocol.lower(),
        "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
        "socket.timeout.ms": SOCKET_TIMEOUT_MS,
    }
    if settings.ssl is not None:
        ssl = settings.ssl
        opts["ssl.endpoint.identification.algorithm"] = "https" if ssl.check_hostname else "none"
        if ssl.cafile:
            opts["ssl.ca.location"] = str(ssl.cafile)
        if ssl.certfile:
            opts["ssl.certificate.location"] = str(ssl.certfile)
        if ssl.keyfile:
            opts["ssl.key.location"] = str(ssl.keyfile)
        if ssl.password is not None:
            opts["ssl.key.password"] = ssl.password.resolve("kafka.ssl.password").get_secret_value()
    if settings.sasl is not None:
        sasl = settings.sasl
        opts["sasl.mechanism"] = sasl.mechanism
        opts["sasl.username"] = sasl.username
        opts["sasl.password"] = sasl.password.resolve("kafka.sasl.password").get_secret_value()
    return opts
