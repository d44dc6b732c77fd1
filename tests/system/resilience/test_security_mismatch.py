"""issue 12 item 10: SASL_PLAINTEXT against a plaintext listener. Each failed bootstrap
left kafka-python's IO thread and its sockets behind (12 -> 93 threads, 13 -> 256 fds
in 14 minutes of retries). The source retries with failed clients closed: threads and
descriptors stay bounded, on the real broker."""

from __future__ import annotations

import logging
import os
import threading
import time

import pytest

from drift_monitor.config.models import KafkaSettings, SaslSettings
from drift_monitor.settings import SecretRef
from drift_monitor.source import kafka as kafka_source
from drift_monitor.source.rdkafka import RdkafkaEventSource
from tests.services.kafka import KafkaBroker

pytestmark = pytest.mark.kafka

RETRIES = 8


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_sasl_against_a_plaintext_broker_does_not_leak(
    kafka_broker: KafkaBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kafka_source, "RECONNECT_INTERVAL_S", 0.0)
    monkeypatch.setattr(kafka_source, "BOOTSTRAP_TIMEOUT_MS", 1500)
    settings = KafkaSettings(
        bootstrap_servers=[kafka_broker.bootstrap],
        topics=["t"],
        security_protocol="SASL_PLAINTEXT",
        sasl=SaslSettings(username="u", password=SecretRef(value="p")),  # type: ignore[arg-type]
    )
    src = kafka_source.ConnectingKafkaSource(settings)
    assert src.poll(1, 10) == []  # the first attempt: kafka-python's lazy set-up happens here
    threads, fds = threading.active_count(), _fds()
    for _ in range(RETRIES):
        assert src.poll(1, 10) == []
        assert not src.connected()
    src.close()
    # Before the fix: +1 thread and +3 descriptors per retry.
    assert threading.active_count() <= threads + 1, threading.enumerate()
    assert _fds() <= fds + 3


def test_sasl_against_a_plaintext_broker_on_confluent(
    kafka_broker: KafkaBroker, caplog: pytest.LogCaptureFixture
) -> None:
    """The same mismatch on the librdkafka source: one client that keeps retrying
    inside librdkafka (no re-construction), never reported connected, descriptors
    bounded over many reconnection attempts, and the failure said in the log once per
    minute, not once per attempt (24 lines in 12 s before)."""
    settings = KafkaSettings(
        client="confluent",
        bootstrap_servers=[kafka_broker.bootstrap],
        topics=["t"],
        group_id="sasl-mismatch",
        security_protocol="SASL_PLAINTEXT",
        sasl=SaslSettings(username="u", password=SecretRef(value="p")),  # type: ignore[arg-type]
    )
    src = RdkafkaEventSource(settings)
    try:
        caplog.set_level(logging.WARNING, logger="drift_monitor")
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert src.poll(200, 10) == []
        fds = _fds()
        # reconnect.backoff.max.ms is 5 s: ~10 s covers several reconnection attempts.
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            assert src.poll(200, 10) == []
            assert not src.connected()
        assert _fds() <= fds + 3
        said = [r.getMessage() for r in caplog.records if r.name.startswith("drift_monitor")]
        assert any("SASL" in line for line in said), "the failing handshake is logged"
        # Said once (by librdkafka's log and its error callback), not once per attempt.
        assert len(said) <= 4, said
    finally:
        src.close()
