"""Both Kafka clients keep the EventSource contract on the real broker (run on each
client by tests/services/backends.py): commit metadata round-trips, a rebalance is
reported, a seek re-reads, lag/connected/partition_count answer, and the dead-letter
producer delivers a copy with its headers."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka import KafkaConsumer, KafkaProducer

from drift_monitor.config.models import KafkaSettings
from drift_monitor.source.base import Commit, Record, RecordBatch
from drift_monitor.source.factory import build_kafka
from tests.services.kafka import KafkaBroker

pytestmark = pytest.mark.kafka


def _poll_until(source, n: int, timeout_s: float = 30.0) -> list[Record]:  # type: ignore[no-untyped-def]
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out.extend(source.poll(200, 1000))
    return out


def test_commit_metadata_rebalance_seek_lag(kafka_broker: KafkaBroker, kafka_client: str) -> None:
    topic, group = f"src-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=2)
    kafka_broker.produce(topic, [b'{"i": %d}' % i for i in range(100)], partition=0)
    settings = KafkaSettings(
        bootstrap_servers=[kafka_broker.bootstrap],
        topics=[topic],
        group_id=group,
        session_timeout_ms=6000,
        client=kafka_client,  # type: ignore[arg-type]
    )
    kafka = build_kafka(settings)
    src = kafka.source
    rebalances: list[int] = []
    src.on_rebalance(lambda: rebalances.append(1))
    try:
        got = _poll_until(src, 100)
        assert [r.offset for r in got] == list(range(100))
        assert {(r.topic, r.partition) for r in got} == {(topic, 0)}
        assert got[5].value == b'{"i": 5}' and got[5].timestamp_ms > 0
        assert rebalances, "the first assignment is reported"
        assert src.assignment() == {(topic, 0), (topic, 1)}
        assert src.partition_count(topic) == 2
        meta = '{"windows": {"m": [1, 2]}, "ü": "x"}'
        src.commit({(topic, 0): Commit(60, meta)})
        assert src.committed((topic, 0)) == Commit(60, meta)
        assert src.committed((topic, 1)) is None
        src.seek((topic, 0), 90)
        again = _poll_until(src, 10)
        assert [r.offset for r in again] == list(range(90, 100))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (
            src.connected() and src.lag().get((topic, 0)) == 0
        ):
            src.poll(200, 1000)
        assert src.connected()
        assert src.lag().get((topic, 0)) == 0
    finally:
        src.close()
    # A new member of the group starts from the committed offset, metadata intact.
    second = build_kafka(settings).source
    try:
        rest = _poll_until(second, 40)
        assert rest and rest[0].offset == 60 and len(rest) == 40
        assert second.committed((topic, 0)) == Commit(60, meta)
    finally:
        second.close()


def test_polled_batches_are_grouped_columns_with_keys_headers_and_timestamps(
    kafka_broker: KafkaBroker, kafka_client: str
) -> None:
    """Each poll is a RecordBatch: its partitions' records together and in offset
    order, and every record (built from the columns on demand) holds the key, value,
    timestamp and headers produced."""
    topic = f"cols-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(topic, partitions=3)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all", linger_ms=5)
    sent = {}
    for i in range(300):
        part, headers = i % 3, [("n", b"%d" % i)] if i % 2 else []
        key = None if i % 5 == 0 else b"k%d" % i
        producer.send(
            topic,
            value=b"v%d" % i,
            key=key,
            partition=part,
            timestamp_ms=1_000 + i,
            headers=headers,
        )
        sent[b"v%d" % i] = (part, key, 1_000 + i, tuple(headers))
    producer.flush()
    producer.close()
    settings = KafkaSettings(
        bootstrap_servers=[kafka_broker.bootstrap],
        topics=[topic],
        group_id=f"g-{uuid.uuid4().hex[:8]}",
        client=kafka_client,  # type: ignore[arg-type]
    )
    src = build_kafka(settings).source
    got: list[Record] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < 300 and time.monotonic() < deadline:
            batch = src.poll(200, 1000)
            assert isinstance(batch, RecordBatch)
            tps = [(r.topic, r.partition) for r in batch]
            runs = [tp for i, tp in enumerate(tps) if i == 0 or tps[i - 1] != tp]
            assert len(runs) == len(set(runs)), f"a partition in two runs: {runs}"
            for tp in set(runs):
                offsets = [r.offset for r in batch if (r.topic, r.partition) == tp]
                assert offsets == sorted(offsets)
            assert batch.headers == [r.headers for r in batch]
            got.extend(batch)
    finally:
        src.close()
    assert len(got) == 300
    assert {r.value: (r.partition, r.key, r.timestamp_ms, r.headers) for r in got} == sent


def test_dead_letter_copy_has_headers(kafka_broker: KafkaBroker, kafka_client: str) -> None:
    dlq = f"dlq-{uuid.uuid4().hex[:8]}"
    kafka_broker.create_topic(dlq)
    settings = KafkaSettings(
        bootstrap_servers=[kafka_broker.bootstrap],
        topics=["unused"],
        dead_letter_topic=dlq,
        client=kafka_client,  # type: ignore[arg-type]
    )
    sink = build_kafka(settings).dead_letters
    assert sink is not None
    rec = Record("t", 3, 7, b"k", b"not json", 1, (("trace", b"abc"),))
    big = Record("t", 3, 8, b"k", b"{" + b"x" * 1_048_399, 1)
    sink.send(rec, "invalid_json", "expected value at 1:1")
    sink.send(big, "invalid_json", "too big")
    sink.flush()
    sink.close()
    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        msgs = list(consumer)[:2]
    finally:
        consumer.close()
    assert len(msgs) == 2
    headers = dict(msgs[0].headers)
    assert msgs[0].value == b"not json" and msgs[0].key == b"k"
    assert headers["drift-monitor-reason"] == b"invalid_json"
    assert headers["drift-monitor-source"] == b"t/3@7"
    assert headers["trace"] == b"abc"
    truncated = dict(msgs[1].headers)
    assert truncated["drift-monitor-truncated"] == b"value"
    assert truncated["drift-monitor-original-size"] == b"1048400"
    assert len(msgs[1].value) < 1_000_000
