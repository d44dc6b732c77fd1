"""The same kafka config fields configure librdkafka: SSL/SASL pass-through, and the
build_kafka factory picks the client named by kafka.client."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift_monitor.config.models import KafkaSettings
from drift_monitor.source.factory import build_kafka
from drift_monitor.source.options import client_options
from drift_monitor.source.rdkafka_options import SOCKET_TIMEOUT_MS, rdkafka_options


def test_plaintext_defaults() -> None:
    opts = rdkafka_options(KafkaSettings(bootstrap_servers=["a:1", "b:2"], topics=["t"]))
    assert opts == {
        "bootstrap.servers": "a:1,b:2",
        "client.id": "drift-monitor",
        "security.protocol": "plaintext",
        "reconnect.backoff.max.ms": 5000,
        "socket.timeout.ms": SOCKET_TIMEOUT_MS,
    }


def _sasl_ssl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KafkaSettings:
    """Settings that set every SSL and SASL field (files under ``tmp_path``)."""
    monkeypatch.setenv("KAFKA_PW", "s3cret")
    (tmp_path / "keypw").write_text("keypass\n")
    pem = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in pem.values():  # the config requires the files to exist
        path.write_text("-----BEGIN-----\n")
    return KafkaSettings.model_validate(
        {
            "bootstrap_servers": ["k:9093"],
            "topics": ["t"],
            "client_id": "dm-1",
            "security_protocol": "SASL_SSL",
            "ssl": {
                "cafile": str(pem["ca"]),
                "certfile": str(pem["cert"]),
                "keyfile": str(pem["key"]),
                "password": {"file": str(tmp_path / "keypw")},
                "check_hostname": False,
            },
            "sasl": {
                "mechanism": "SCRAM-SHA-512",
                "username": "dm",
                "password": {"env": "KAFKA_PW"},
            },
        }
    )


def test_kafka_python_maps_every_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kafka import KafkaConsumer  # noqa: PLC0415

    opts = client_options(_sasl_ssl(tmp_path, monkeypatch))
    pem = {name: str(tmp_path / f"{name}.pem") for name in ("ca", "cert", "key")}
    assert opts == {
        "bootstrap_servers": ["k:9093"],
        "client_id": "dm-1",
        "security_protocol": "SASL_SSL",
        "reconnect_backoff_max_ms": 5000,
        "ssl_check_hostname": False,
        "ssl_cafile": pem["ca"],
        "ssl_certfile": pem["cert"],
        "ssl_keyfile": pem["key"],
        "ssl_password": "keypass",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "dm",
        "sasl_plain_password": "s3cret",
    }
    assert set(opts) <= set(KafkaConsumer.DEFAULT_CONFIG), "every name is kafka-python's"


def test_sasl_ssl_maps_every_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pem = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    settings = _sasl_ssl(tmp_path, monkeypatch)
    opts = rdkafka_options(settings)
    assert opts["security.protocol"] == "sasl_ssl"
    assert opts["client.id"] == "dm-1"
    assert opts["ssl.ca.location"] == str(pem["ca"])
    assert opts["ssl.certificate.location"] == str(pem["cert"])
    assert opts["ssl.key.location"] == str(pem["key"])
    assert opts["ssl.key.password"] == "keypass"
    assert opts["ssl.endpoint.identification.algorithm"] == "none"
    assert opts["sasl.mechanism"] == "SCRAM-SHA-512"
    assert opts["sasl.username"] == "dm"
    assert opts["sasl.password"] == "s3cret"


def test_hostname_checked_by_default() -> None:
    settings = KafkaSettings.model_validate(
        {"bootstrap_servers": ["k:1"], "topics": ["t"], "security_protocol": "SSL", "ssl": {}}
    )
    assert rdkafka_options(settings)["ssl.endpoint.identification.algorithm"] == "https"


def test_librdkafka_accepts_the_mapping() -> None:
    """librdkafka rejects unknown or ill-typed properties at construction."""
    from confluent_kafka import Producer  # noqa: PLC0415

    settings = KafkaSettings(bootstrap_servers=["127.0.0.1:1"], topics=["t"])
    Producer(rdkafka_options(settings)).flush(0)


@pytest.mark.parametrize(
    ("client", "source_class"),
    [("kafka-python", "ConnectingKafkaSource"), ("confluent", "RdkafkaEventSource")],
)
def test_factory_picks_the_client(client: str, source_class: str) -> None:
    settings = KafkaSettings(
        bootstrap_servers=["127.0.0.1:1"],
        topics=["t"],
        client=client,  # type: ignore[arg-type]
        dead_letter_topic="dlq",
    )
    kafka = build_kafka(settings)
    try:
        assert type(kafka.source).__name__ == source_class
        assert kafka.dead_letters is not None and kafka.reports is None
        assert type(kafka.dead_letters).__name__.startswith(
            "Rdkafka" if client == "confluent" else "Kafka"
        )
    finally:
        kafka.source.close()


def test_unknown_client_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="client"):
        KafkaSettings(bootstrap_servers=["k:1"], topics=["t"], client="librdkafka")  # type: ignore[arg-type]
