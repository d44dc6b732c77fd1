"""The dead-letter and report producers keep the sink contract of source/base.py on the
real broker (auto-create off, default message.max.bytes): bounded ``send``/``publish``
that never raise for the message, a ``flush`` that raises SinkError and keeps what was
not acknowledged, a start-up check of the topic."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer

from drift_monitor.config.models import KafkaSettings
from drift_monitor.errors import SinkError
from drift_monitor.source.base import Record
from drift_monitor.source.producer import KafkaDeadLetters, KafkaReports
from tests.services.kafka import KafkaBroker

pytestmark = pytest.mark.kafka

# issue 12 item 1: the broker accepts this value on a default topic; its dead-letter
# copy (value + headers) is larger than the producer's 1 MiB max_request_size.
OVERSIZED = b"{" + b"x" * 1_048_399


def _settings(bootstrap: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=[bootstrap], topics=["unused"])


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _read(bootstrap: str, topic: str, expect: int, timeout_s: float = 20.0) -> list[Any]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=int(timeout_s * 1000),
        fetch_max_bytes=8 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    got = []
    try:
        for message in consumer:
            got.append(message)
            if len(got) >= expect:
                # A little longer: a duplicate would show here.
                got.extend(m for batch in consumer.poll(2000).values() for m in batch)
                break
    finally:
        consumer.close()
    return got


def _record(value: bytes, offset: int = 7) -> Record:
    return Record("events", 0, offset, b"fraud", value, 1_700_000_000_000, (("h", b"v"),))


class _Health:
    def __init__(self) -> None:
        self.sinks: dict[str, str | None] = {}

    def set_sink(self, sink: str, problem: str | None) -> None:
        self.sinks[sink] = problem


def test_an_oversized_invalid_record_is_dead_lettered_truncated(kafka_broker: KafkaBroker) -> None:
    dlq = _name("dlq-big")
    kafka_broker.create_topic(dlq)
    sink = KafkaDeadLetters(_settings(kafka_broker.bootstrap), dlq)
    sink.send(_record(OVERSIZED), "malformed_json", "unterminated object")
    sink.send(_record(b'{"ok": 1', offset=8), "malformed_json", "short")
    sink.flush()
    sink.close()
    got = _read(kafka_broker.bootstrap, dlq, 2)
    assert len(got) == 2
    big, small = got
    headers = dict(big.headers)
    assert headers["drift-monitor-truncated"] == b"value"
    assert headers["drift-monitor-original-size"] == str(len(OVERSIZED)).encode()
    assert headers["drift-monitor-reason"] == b"malformed_json"
    assert headers["drift-monitor-source"] == b"events/0@7"
    assert OVERSIZED.startswith(big.value) and 900_000 < len(big.value) < 1_000_000
    assert small.value == b'{"ok": 1' and "drift-monitor-truncated" not in dict(small.headers)
    assert sink.too_large == 0


def test_missing_topic_is_bounded_raises_sinkerror_and_heals(kafka_broker: KafkaBroker) -> None:
    dlq = _name("dlq-missing")
    sink = KafkaDeadLetters(_settings(kafka_broker.bootstrap), dlq)
    health = _Health()
    sink._health = health  # what watch() sets, without its thread
    assert sink.check_topic() is False
    assert "does not exist" in (health.sinks["dead_letters"] or "")
    assert "kafka.dead_letter_topic" in (health.sinks["dead_letters"] or "")

    t0 = time.monotonic()
    for i in range(50):
        sink.send(_record(b"{bad", offset=i), "malformed_json", "x")
    assert time.monotonic() - t0 < 1.0  # known missing: nothing waits
    t0 = time.monotonic()
    with pytest.raises(SinkError) as err:
        sink.flush()
    assert time.monotonic() - t0 < 5.0  # one bounded hand-over, not 60 s
    assert err.value.sink == "dead_letters" and err.value.target == dlq
    assert "50 messages not acknowledged" in err.value.detail

    kafka_broker.create_topic(dlq)
    assert sink.check_topic() is True
    sink.flush()  # the 50 held copies, now delivered
    assert health.sinks["dead_letters"] is None
    sink.close()
    got = _read(kafka_broker.bootstrap, dlq, 50)
    assert sorted(dict(m.headers)["drift-monitor-source"] for m in got) == sorted(
        f"events/0@{i}".encode() for i in range(50)
    )


def test_unknown_report_topic_without_check_fails_the_flush_not_the_publish(
    kafka_broker: KafkaBroker,
) -> None:
    topic = _name("reports-missing")
    sink = KafkaReports(_settings(kafka_broker.bootstrap), topic)
    t0 = time.monotonic()
    sink.publish("fraud", b'{"type":"drift.detected"}')  # waits <= max_block_ms once
    sink.publish("fraud", b'{"type":"drift.resolved"}')  # stalled: no wait
    assert time.monotonic() - t0 < 3.0
    with pytest.raises(SinkError, match="reports sink"):
        sink.flush()
    kafka_broker.create_topic(topic)
    sink.flush()
    sink.close()
    got = _read(kafka_broker.bootstrap, topic, 2)
    assert [m.value for m in got] == [b'{"type":"drift.detected"}', b'{"type":"drift.resolved"}']


def test_watch_reports_a_missing_topic_at_start_up(kafka_broker: KafkaBroker) -> None:
    topic = _name("reports-watch")
    sink = KafkaReports(_settings(kafka_broker.bootstrap), topic)
    health = _Health()
    sink.watch(health, interval_s=0.2, missing_interval_s=0.2)
    try:
        deadline = time.monotonic() + 15
        while health.sinks.get("reports") is None:
            assert time.monotonic() < deadline, "missing topic not reported"
            time.sleep(0.05)
        assert topic in (health.sinks["reports"] or "")
        kafka_broker.create_topic(topic)
        while health.sinks.get("reports") is not None:
            assert time.monotonic() < deadline, "created topic not noticed"
            time.sleep(0.05)
    finally:
        sink.close()


def test_broker_gone_flush_raises_then_delivers_once_it_is_back(own_broker: KafkaBroker) -> None:
    topic = _name("dlq-outage")
    own_broker.create_topic(topic)
    sink = KafkaDeadLetters(_settings(own_broker.bootstrap), topic, flush_timeout_s=3.0)
    sink.send(_record(b"{before", offset=1), "malformed_json", "x")
    sink.flush()
    own_broker.stop()
    t0 = time.monotonic()
    for i in range(2, 12):
        sink.send(_record(b"{during", offset=i), "malformed_json", "x")
    with pytest.raises(SinkError):
        sink.flush()
    assert time.monotonic() - t0 < 10.0
    own_broker.start()
    deadline = time.monotonic() + 60
    while True:
        try:
            sink.flush()
            break
        except SinkError:
            assert time.monotonic() < deadline, "not delivered after the broker came back"
    sink.close()
    got = _read(own_broker.bootstrap, topic, 11)
    offsets = sorted(dict(m.headers)["drift-monitor-source"] for m in got)
    assert offsets == sorted(f"events/0@{i}".encode() for i in range(1, 12))  # once each


def test_past_the_buffer_bound_every_flush_fails(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    topic = _name("dlq-bound")
    sink = KafkaDeadLetters(_settings(kafka_broker.bootstrap), topic, buffer_bytes=10_000)
    sink._missing = "missing (test)"  # held without a hand-over
    for i in range(100):
        sink.send(_record(b"{" + b"y" * 500, offset=i), "malformed_json", "x")
    assert 0 < sink.dropped < 100
    kafka_broker.create_topic(topic)
    for _ in range(2):
        with pytest.raises(SinkError, match="dropped past"):
            sink.flush()
    sink.close()
