"""RdkafkaEventSource.poll without a broker (librdkafka's Consumer replaced by a
scripted one): records grouped by partition in offset order, error messages dropped
(and logged once per kind), a seek librdkafka refused drops the partition's records
read from the old position until it is applied, and gaps are judged from the first and
next offset of each partition's records (or the position of an idle one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import confluent_kafka as ck
import pytest

from drift_monitor.source import rdkafka
from drift_monitor.source.base import Record, RecordBatch
from drift_monitor.source.settings import KafkaSettings

A, B = ("t", 0), ("t", 1)


class FakeConsumer:
    """librdkafka's consumer as far as poll, seek and the gap check use it."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.batches: list[list[ck.Message]] = []
        self.assigned = [ck.TopicPartition(*A), ck.TopicPartition(*B)]
        self.positions: dict[tuple[str, int], int] = {}
        self.log_start: dict[tuple[str, int], int] = {}
        self.refuse_seeks = 0
        self.seeks: list[tuple[tuple[str, int], int]] = []

    def subscribe(self, topics: list[str], **callbacks: Any) -> None:
        pass

    def consume(self, num_messages: int, timeout: float) -> list[ck.Message]:
        return self.batches.pop(0) if self.batches else []

    def assignment(self) -> list[ck.TopicPartition]:
        return list(self.assigned)

    def position(self, partitions: list[ck.TopicPartition]) -> list[ck.TopicPartition]:
        return [
            ck.TopicPartition(
                p.topic, p.partition, self.positions.get((p.topic, p.partition), -1001)
            )
            for p in partitions
        ]

    def seek(self, p: ck.TopicPartition) -> None:
        if self.refuse_seeks:
            self.refuse_seeks -= 1
            raise ck.KafkaException(ck.KafkaError(ck.KafkaError._STATE))
        self.seeks.append(((p.topic, p.partition), p.offset))

    def get_watermark_offsets(self, p: ck.TopicPartition, **kw: Any) -> tuple[int, int]:
        return self.log_start.get((p.topic, p.partition), 0), 10_000

    def close(self) -> None:
        pass


class Sink:
    def __init__(self) -> None:
        self.gaps: list[tuple[str, int, str, int, int, int]] = []

    def record_gap(self, *gap: Any) -> None:
        self.gaps.append(gap)


@pytest.fixture
def source(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[rdkafka.RdkafkaEventSource, FakeConsumer]]:
    made: list[FakeConsumer] = []

    def build(config: dict[str, Any]) -> FakeConsumer:
        made.append(FakeConsumer(config))
        return made[0]

    monkeypatch.setattr(rdkafka, "Consumer", build)
    settings = KafkaSettings(bootstrap_servers=["127.0.0.1:1"], topics=["t"], client="confluent")
    src = rdkafka.RdkafkaEventSource(settings)
    yield src, made[0]
    src.close()


def _msg(tp: tuple[str, int], offset: int, **kw: Any) -> ck.Message:
    return ck.Message(
        topic=tp[0],
        partition=tp[1],
        offset=offset,
        value=b"v%d" % offset,
        timestamp=(1, offset),
        **kw,
    )


def _rec(tp: tuple[str, int], offset: int) -> Record:
    return Record(tp[0], tp[1], offset, None, b"v%d" % offset, offset)


def test_records_grouped_by_partition_errors_dropped(
    source: tuple[rdkafka.RdkafkaEventSource, FakeConsumer], caplog: pytest.LogCaptureFixture
) -> None:
    src, consumer = source
    fetch_error = ck.KafkaError(ck.KafkaError.OFFSET_OUT_OF_RANGE)
    consumer.batches.append(
        [
            _msg(A, 0),
            _msg(B, 7, headers=[("h", b"x")]),
            _msg(A, 1),
            _msg(A, 2, error=ck.KafkaError(ck.KafkaError._PARTITION_EOF)),
            _msg(B, 8, error=fetch_error),
            _msg(B, 8, error=fetch_error),
            _msg(B, 8),
        ]
    )
    got = src.poll(100, 500)
    assert isinstance(got, RecordBatch)
    assert got == [_rec(A, 0), _rec(A, 1), _rec(B, 7)._replace(headers=(("h", b"x"),)), _rec(B, 8)]
    assert caplog.text.count("Kafka consumer:") == 1  # once per kind; never for EOF
    assert src.poll(100, 500) == []


def test_a_refused_seek_drops_the_old_positions_records_until_applied(
    source: tuple[rdkafka.RdkafkaEventSource, FakeConsumer],
) -> None:
    src, consumer = source
    sink = Sink()
    src.report_gaps_to(sink)
    consumer.refuse_seeks = 2  # in seek(), then once more before the first consume
    src.seek(A, 50)
    consumer.batches.append([_msg(A, 0), _msg(B, 3), _msg(A, 1)])
    assert src.poll(100, 500) == [_rec(B, 3)]
    assert consumer.seeks == []
    consumer.batches.append([_msg(A, 50), _msg(A, 51), _msg(B, 4)])
    assert src.poll(100, 500) == [_rec(A, 50), _rec(A, 51), _rec(B, 4)]
    assert consumer.seeks == [(A, 50)]
    assert sink.gaps == []  # the records read before the seek took effect are no gap


def test_gaps_are_judged_from_each_partitions_first_and_next_offsets(
    source: tuple[rdkafka.RdkafkaEventSource, FakeConsumer],
) -> None:
    src, consumer = source
    sink = Sink()
    src.report_gaps_to(sink)
    src.seek(A, 100)
    src.seek(B, 10)
    consumer.log_start[A] = 150
    consumer.positions[B] = 10
    consumer.batches.append([_msg(A, 150), _msg(A, 151)])
    assert src.poll(100, 500) == [_rec(A, 150), _rec(A, 151)]
    assert sink.gaps == [("t", 0, "retention", 100, 150, 50)]
    # the next poll continues at 152 (no gap); the idle partition B jumped: its position
    consumer.log_start[B] = 40
    consumer.positions[B] = 40
    consumer.batches.append([_msg(A, 152)])
    assert src.poll(100, 500) == [_rec(A, 152)]
    assert sink.gaps[1:] == [("t", 1, "retention", 10, 40, 30)]
