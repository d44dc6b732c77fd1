"""librdkafka (confluent-kafka) properties from the same ``kafka`` config fields the
kafka-python clients use (:mod:`.options`), so that switching ``kafka.client`` changes
nothing else in a config file."""

from __future__ import annotations

from typing import Any

from drift_monitor.source.options import RECONNECT_BACKOFF_MAX_MS, security_fields
from drift_monitor.source.settings import KafkaSettings

#: Longest wait of one request before librdkafka tears the connection down (ms). Its
#: default (60 s) would keep a hung broker looking connected for a minute.
SOCKET_TIMEOUT_MS = 10_000


#: librdkafka's property for each field of :func:`~.options.security_fields`.
_RDKAFKA_NAMES = {
    "ssl_check_hostname": "ssl.endpoint.identification.algorithm",
    "ssl_cafile": "ssl.ca.location",
    "ssl_certfile": "ssl.certificate.location",
    "ssl_keyfile": "ssl.key.location",
    "ssl_password": "ssl.key.password",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_username": "sasl.username",
    "sasl_password": "sasl.password",
}


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
    fields = security_fields(settings)
    if "ssl_check_hostname" in fields:
        fields["ssl_check_hostname"] = "https" if fields["ssl_check_hostname"] else "none"
    opts.update((_RDKAFKA_NAMES[k], v) for k, v in fields.items())
    return opts
