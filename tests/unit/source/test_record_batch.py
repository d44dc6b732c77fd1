"""RecordBatch (issue 14): a poll's records as columns that still read as a
``Sequence[Record]`` - every lazily built record equals the one a source built eagerly
before; grouping by partition is stable; the builders of both Kafka clients give the
records the clients' messages hold (timestamps, headers, errors)."""

from __future__ import annotations

from typing import Any

import confluent_kafka as ck
import numpy as np
import pytest
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition as KTopicPartition

from drift_monitor.source.base import Record, RecordBatch
from drift_monitor.source.batches import kafka_python_batch, partition_codes
from drift_monitor.source.rdkafka_batch import confluent_batch

RECORDS = [
    Record("t", 1, 10, b"k1", b'{"a": 1}', 1000, (("trace", b"x"),)),
    Record("t", 1, 11, None, None, -1),
    Record("t", 0, 5, b"k2", b"{}", 2000, (("a", b"1"), ("a", b"2"))),
    Record("u", 1, 7, b"", b"v", 3000),
]


def test_lazy_records_equal_the_eager_ones() -> None:
    batch = RecordBatch.of(RECORDS)
    assert len(batch) == 4 and batch
    assert [batch[i] for i in range(4)] == RECORDS
    assert list(batch) == RECORDS
    assert batch == RECORDS and batch == RECORDS
    assert batch[-1] == RECORDS[-1]
    assert all(
        type(batch[i].offset) is int and type(batch[i].timestamp_ms) is int for i in range(4)
    )
    assert batch[1:3] == RECORDS[1:3] and isinstance(batch[1:3], RecordBatch)
    assert batch != RECORDS[:3] and batch != [*RECORDS[:3], RECORDS[0]]
    with pytest.raises(IndexError):
        batch[4]
    with pytest.raises(IndexError):
        batch[-5]


def test_columns() -> None:
    batch = RecordBatch.of(RECORDS)
    assert batch.tps == [("t", 1), ("t", 0), ("u", 1)]
    assert batch.tp_codes.tolist() == [0, 0, 1, 2]
    assert batch.offsets.dtype == np.int64 and batch.offsets.tolist() == [10, 11, 5, 7]
    assert batch.timestamps_ms.dtype == np.int64
    assert batch.timestamps_ms.tolist() == [1000, -1, 2000, 3000]
    assert batch.values == [r.value for r in RECORDS]
    assert batch.keys == [r.key for r in RECORDS]
    assert batch.headers == [r.headers for r in RECORDS]


def test_an_empty_batch() -> None:
    for batch in (RecordBatch.empty(), RecordBatch.of([])):
        assert len(batch) == 0 and not batch
        assert batch == [] and list(batch) == []
        assert batch.tps == [] and batch.spans() == {}
        assert batch.grouped() is batch and batch.without({("t", 0)}) is batch
        assert batch.headers == []


def test_grouping_is_stable_and_skipped_when_grouped() -> None:
    mixed = [RECORDS[0], RECORDS[2], RECORDS[1], RECORDS[3], RECORDS[2]._replace(offset=6)]
    batch = RecordBatch.of(mixed)
    grouped = batch.grouped()
    # partitions in order of first appearance, each partition's records in batch order
    assert grouped == [RECORDS[0], RECORDS[1], RECORDS[2], mixed[4], RECORDS[3]]
    assert grouped.headers == [r.headers for r in grouped]
    assert grouped.grouped() is grouped
    assert RecordBatch.of(RECORDS).grouped().tp_codes.tolist() == [0, 0, 1, 2]


def test_spans_per_partition() -> None:
    assert RecordBatch.of(RECORDS).spans() == {
        ("t", 1): (10, 12),
        ("t", 0): (5, 6),
        ("u", 1): (7, 8),
    }


def test_without_partitions() -> None:
    batch = RecordBatch.of(RECORDS)
    rest = batch.without({("t", 1)})
    assert rest == RECORDS[2:]
    assert rest.tps == [("t", 0), ("u", 1)] and rest.tp_codes.tolist() == [0, 1]
    assert batch.without({("x", 0)}) is batch
    assert batch.without(set(batch.tps)) == []
    assert batch.without({("t", 1), ("t", 0)}) == RECORDS[3:]


def test_headers_are_read_only_when_asked() -> None:
    calls: list[int] = []

    def headers_of(m: int) -> list[tuple[str, bytes]] | None:
        calls.append(m)
        return [("n", b"%d" % m)] if m else None

    zero = np.zeros(2, dtype=np.int64)
    batch = RecordBatch(
        [("t", 0)], zero, zero, zero, [None, None], [b"a", b"b"], [0, 1], headers_of
    )
    assert batch.values == [b"a", b"b"] and calls == []
    assert batch[1].headers == (("n", b"1"),) and calls == [1]
    assert batch.headers == [(), (("n", b"1"),)]
    assert batch[0].headers == () and len(calls) == 3  # once per record, then kept


def test_partition_codes() -> None:
    tps, codes = partition_codes([], [])
    assert tps == [] and codes.dtype == np.int64 and len(codes) == 0
    tps, codes = partition_codes(["t"] * 5, [3, 3, 1, 3, 0])
    assert tps == [("t", 3), ("t", 1), ("t", 0)] and codes.tolist() == [0, 0, 1, 0, 2]
    tps, codes = partition_codes(["t"] * 5, [2, 2, 0, 0, 1])  # one run per partition
    assert tps == [("t", 2), ("t", 0), ("t", 1)] and codes.tolist() == [0, 0, 1, 1, 2]
    tps, codes = partition_codes(["t"] * 3, [2, 2, 2])
    assert tps == [("t", 2)] and codes.tolist() == [0, 0, 0]
    tps, codes = partition_codes(["t", "u", "t", "u"], [0, 0, 1, 0])
    assert tps == [("t", 0), ("u", 0), ("t", 1)] and codes.tolist() == [0, 1, 2, 1]


def _message(tp: tuple[str, int], offset: int, **kw: Any) -> ck.Message:
    return ck.Message(topic=tp[0], partition=tp[1], offset=offset, **kw)


def test_confluent_messages() -> None:
    a, b = ("t", 0), ("t", 1)
    eof = ck.KafkaError(ck.KafkaError._PARTITION_EOF)
    msgs = [
        _message(a, 4, key=b"k", value=b"v4", timestamp=(ck.TIMESTAMP_CREATE_TIME, 99)),
        _message(b, 8, value=b"v8", headers=[("h", b"1")], timestamp=(1, 100)),
        _message(b, 9, error=eof),
        _message(a, 5, value=None, timestamp=(ck.TIMESTAMP_NOT_AVAILABLE, 0)),
        _message(b, 9, value=b"v9", timestamp=(ck.TIMESTAMP_LOG_APPEND_TIME, 101)),
    ]
    batch, errors = confluent_batch(msgs)
    assert [e.code() for e in errors] == [ck.KafkaError._PARTITION_EOF]
    # what the source built per message before (source/rdkafka.py, grouped by partition)
    assert batch == [
        Record("t", 0, 4, b"k", b"v4", 99),
        Record("t", 0, 5, None, None, -1),
        Record("t", 1, 8, None, b"v8", 100, (("h", b"1"),)),
        Record("t", 1, 9, None, b"v9", 101),
    ]
    assert batch.spans() == {a: (4, 6), b: (8, 10)}
    assert confluent_batch([]) == (RecordBatch.empty(), [])
    only_errors, errors = confluent_batch([_message(a, 1, error=eof)])
    assert only_errors == [] and len(errors) == 1


def _consumer_record(tp: KTopicPartition, offset: int, ts: int | None, headers: list) -> Any:  # type: ignore[type-arg]
    return ConsumerRecord(
        tp.topic, tp.partition, -1, offset, ts, 0, b"k", b"v%d" % offset, headers, None, 1, 1, -1
    )


def test_kafka_python_records() -> None:
    a, b, c = KTopicPartition("t", 1), KTopicPartition("t", 0), KTopicPartition("t", 2)
    polled = {
        a: [_consumer_record(a, 3, 50, []), _consumer_record(a, 4, None, [("h", b"x")])],
        c: [],
        b: [_consumer_record(b, 0, 60, [])],
    }
    batch = kafka_python_batch(polled)
    assert batch == [
        Record("t", 1, 3, b"k", b"v3", 50),
        Record("t", 1, 4, b"k", b"v4", -1, (("h", b"x"),)),
        Record("t", 0, 0, b"k", b"v0", 60),
    ]
    assert batch.tps == [("t", 1), ("t", 0)] and batch.spans() == {
        ("t", 1): (3, 5),
        ("t", 0): (0, 1),
    }
    assert kafka_python_batch({}) == [] and kafka_python_batch({c: []}) == []
