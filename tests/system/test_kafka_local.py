"""The real local Kafka broker (scripts/kafka-local) works end to end with kafka-python."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from tests.services.kafka import KafkaBroker, start_broker_for_tests

pytestmark = pytest.mark.kafka

CONSUME_TIMEOUT_S = 60.0


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _consume(consumer: KafkaConsumer, expected: int) -> list[ConsumerRecord]:
    """Poll until ``expected`` records arrived (or give up after CONSUME_TIMEOUT_S)."""
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    return records


def _group_consumer(broker: KafkaBroker, topic: str, group: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


def _read_from_beginning(
    broker: KafkaBroker, topic: str, partitions: int, expected: int
) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        consumer.seek_to_beginning()
        return _consume(consumer, expected)
    finally:
        consumer.close()


def _by_position(records: list[ConsumerRecord]) -> dict[tuple[int, int], tuple[bytes, bytes]]:
    return {(r.partition, r.offset): (r.key, r.value) for r in records}


def test_group_consumes_and_commits_1000_messages(kafka_broker: KafkaBroker) -> None:
    topic, group = _unique("roundtrip"), _unique("group")
    kafka_broker.create_topic(topic, partitions=3)
    values = [f"message-{i:04d}".encode() for i in range(1000)]
    keys = [f"key-{i % 10}".encode() for i in range(1000)]

    sent = kafka_broker.produce(topic, values, keys)

    assert {m.partition for m in sent} == {0, 1, 2}
    produced = {(m.partition, m.offset): (k, v) for m, k, v in zip(sent, keys, values, strict=True)}
    partitions = [TopicPartition(topic, p) for p in range(3)]
    consumer = _group_consumer(kafka_broker, topic, group)
    try:
        records = _consume(consumer, len(values))
        consumer.commit()
        committed = {tp: consumer.committed(tp) for tp in partitions}
        end_offsets = consumer.end_offsets(partitions)
    finally:
        consumer.close()

    assert len(records) == 1000
    # Every record exactly once, at the partition and offset the producer was told,
    # with its key and value.
    assert _by_position(records) == produced
    # Within each partition, records arrive in offset order.
    for p in range(3):
        offsets = [r.offset for r in records if r.partition == p]
        assert offsets == sorted(offsets)
    # A key always lands in the same partition.
    partition_of_key: dict[bytes, set[int]] = {}
    for r in records:
        partition_of_key.setdefault(r.key, set()).add(r.partition)
    assert all(len(ps) == 1 for ps in partition_of_key.values())
    # The group's committed offsets are the ends of the partitions.
    assert committed == end_offsets
    assert sum(end_offsets.values()) == 1000


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of its own (directory and port), so the session broker is not disturbed."""
    broker = start_broker_for_tests(tmp_path / "kafka")
    try:
        yield broker
    finally:
        broker.stop()


def test_restart_keeps_topic_data_and_committed_offsets(private_broker: KafkaBroker) -> None:
    broker = private_broker
    topic, group = _unique("durable"), _unique("group")
    broker.create_topic(topic, partitions=2)
    before = [f"before-{i:03d}".encode() for i in range(200)]
    broker.produce(topic, before, [f"k{i % 7}".encode() for i in range(200)])
    consumer = _group_consumer(broker, topic, group)
    try:
        assert len(_consume(consumer, len(before))) == len(before)
        consumer.commit()
    finally:
        consumer.close()

    assert broker.restart() == broker.bootstrap
    assert broker.is_running()

    # The data survived: everything is there again from the beginning.
    replay = _read_from_beginning(broker, topic, partitions=2, expected=len(before))
    assert sorted(r.value for r in replay) == before

    # So did the group's offsets: it resumes after what it committed.
    after = [f"after-{i:03d}".encode() for i in range(50)]
    broker.produce(topic, after)
    consumer = _group_consumer(broker, topic, group)
    try:
        resumed = _consume(consumer, len(after))
        partitions = [TopicPartition(topic, p) for p in range(2)]
        positions = {tp: consumer.position(tp) for tp in partitions}
        end_offsets = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    assert sorted(r.value for r in resumed) == after
    assert positions == end_offsets
