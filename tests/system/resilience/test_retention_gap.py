"""issue 14 part 1/2: a consumer that lags past the topic's retention skips the deleted
records, and the daemon says so: ``events_skipped_total{reason="retention"}`` counts
them, ``/status`` names the offset range, the log says it once.

Reproduced on purpose on a broker of the test's own (the retention check interval is a
broker setting): events with record timestamps 30 days old; the daemon reads a first
batch and stops; a second batch is produced while it is down, then the topic's
``retention.ms`` is set to the broker default (7 days) so that the retention check
deletes every segment (each batch has its own, rolled by ``segment.ms``) but that of a
last batch with recent timestamps; the daemon restarts from its committed offset,
which is now before the log start.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import TopicPartition

from tests.service.daemon.fuzz import valid_event
from tests.services.daemon import DaemonProcess, wait_for
from tests.services.kafka import KafkaBroker, start_broker_for_tests

pytestmark = pytest.mark.kafka

MODEL = "m"
DAY_MS = 86_400_000
WEEK_MS = str(7 * DAY_MS)  # the broker's default retention


@pytest.fixture
def retention_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    broker = start_broker_for_tests(
        tmp_path / "broker",
        broker_config={
            "log.retention.check.interval.ms": "500",
            "log.initial.task.delay.ms": "500",
            "log.segment.delete.delay.ms": "0",
        },
    )
    try:
        yield broker
    finally:
        broker.stop()


def _events(rng: random.Random, first_id: int, n: int, ts_s: float) -> list[bytes]:
    return [valid_event(rng, ts_s + i * 0.01, first_id + i) for i in range(n)]


def test_records_deleted_by_retention_before_they_were_read_are_counted(
    retention_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
) -> None:
    broker = retention_broker
    topic, group = unique("gap"), unique("gap-group")
    # Each batch's record timestamps are a day apart (segment.ms: 1 min of record time),
    # so every batch starts a segment; within the last batch they are all equal.
    broker.create_topic(topic, configs={"segment.ms": "60000"})
    old_ms = int(time.time() * 1000) - 30 * DAY_MS
    rng = random.Random(7)
    ts = old_ms / 1000  # event time = record time, as the benchmarks produce them
    first = _events(rng, 0, 200, ts)
    broker.produce(topic, first, keys=[MODEL.encode()] * 200, timestamps_ms=[old_ms] * 200)

    d = topic_daemon(
        "gap",
        topic,
        [MODEL],
        bootstrap=broker.bootstrap,
        group_id=group,
    ).start()
    wait_for(
        lambda: d.metrics().total("drift_monitor_events_total") >= 200,
        60,
        "the first batch counted",
        on_timeout=d.log_tail,
    )
    assert d.sigterm() == 0
    reader = broker_consumer(broker, group)
    try:
        committed = reader.committed(TopicPartition(topic, 0))
    finally:
        reader.close()
    assert committed is not None and 0 <= committed <= 200
    admin = broker.admin()
    try:
        unread = _events(rng, 200, 300, ts + DAY_MS / 1000)
        broker.produce(
            topic, unread, keys=[MODEL.encode()] * 300, timestamps_ms=[old_ms + DAY_MS] * 300
        )
        # Recent: this batch survives the retention of 7 days (and rolls a segment).
        now_ms = int(time.time() * 1000)
        last = _events(rng, 500, 50, now_ms / 1000)
        broker.produce(topic, last, keys=[MODEL.encode()] * 50, timestamps_ms=[now_ms] * 50)
        admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": WEEK_MS})]
        )
    finally:
        admin.close()

    def log_start() -> int:
        consumer = broker_consumer(broker)
        try:
            tp = TopicPartition(topic, 0)
            return int(consumer.beginning_offsets([tp])[tp])
        finally:
            consumer.close()

    wait_for(lambda: log_start() == 500, 60, "retention deleting the first two batches")

    d.start(wait_ready=False)
    wait_for(
        lambda: d.metrics().total("drift_monitor_events_skipped_total") > 0,
        120,
        "the gap counted",
        on_timeout=d.log_tail,
    )
    m = d.metrics()
    assert (
        m.get("drift_monitor_events_skipped_total", topic=topic, partition="0", reason="retention")
        == 500 - committed
    )
    gap = d.status()["kafka"]["gaps"][f"{topic}/0"]
    assert gap == {
        "reason": "retention",
        "from_offset": committed,
        "to_offset": 500,
        "skipped": 500 - committed,
    }
    wait_for(
        lambda: d.metrics().total("drift_monitor_events_total") >= 50,  # this process's
        60,
        "the surviving batch counted",
        on_timeout=d.log_tail,
    )
    lines = [ln for ln in d.log_path.read_text().splitlines() if "were never read" in ln]
    assert len(lines) == 1, lines
    assert f"{500 - committed} records at offsets {committed}..499" in lines[0]
    assert d.sigterm() == 0


def broker_consumer(broker: KafkaBroker, group: str | None = None) -> KafkaConsumer:
    """A plain consumer (of ``group``: to read its commits)."""
    return KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=group)
