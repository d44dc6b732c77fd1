"""A poll's messages as a :class:`~.base.RecordBatch`: kafka-python's here, and what
every client shares (:func:`partition_codes`); confluent-kafka's in
:mod:`.rdkafka_batch` (this module imports no Kafka client).

One list comprehension per field over the client's own message objects (no
:class:`~.base.Record` per message: issue 14); the headers are read only if someone
asks (:attr:`~.base.RecordBatch.headers`), from the messages the batch keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from drift_monitor.source.base import RecordBatch, TopicPartition

_I64 = np.int64


def partition_codes(
    topics: list[str], partitions: list[int]
) -> tuple[list[TopicPartition], npt.NDArray[np.int64]]:
    """The distinct (topic, partition) pairs of the records in order of first appearance,
    and each record's index into them. Without a loop over the records when they are of
    one topic (the common case), and cheapest when each partition's records come in one
    run (as a consumer's fetches mostly give them)."""
    n = len(topics)
    if not n:
        return [], np.empty(0, dtype=_I64)
    topic = topics[0]
    if topics.count(topic) != n:
        index: dict[TopicPartition, int] = {}
        codes = [index.setdefault(tp, len(index)) for tp in zip(topics, partitions, strict=True)]
        return list(index), np.array(codes, dtype=_I64)
    parts = np.fromiter(partitions, _I64, n)
    starts = np.flatnonzero(parts[1:] != parts[:-1]) + 1
    if not len(starts):
        return [(topic, partitions[0])], np.zeros(n, dtype=_I64)
    runs = parts[np.concatenate(([0], starts))].tolist()
    if len(set(runs)) == len(runs):  # one run per partition
        sizes = np.diff(np.concatenate(([0], starts, [n])))
        return [(topic, p) for p in runs], np.repeat(np.arange(len(runs), dtype=_I64), sizes)
    distinct, first, inverse = np.unique(parts, return_index=True, return_inverse=True)
    order = np.argsort(first)  # the distinct partitions by first appearance
    rank = np.empty(len(order), dtype=_I64)
    rank[order] = np.arange(len(order), dtype=_I64)
    return [(topic, p) for p in distinct[order].tolist()], rank[inverse.ravel()]


def kafka_python_batch(batches: Mapping[Any, list[Any]]) -> RecordBatch:
    """The records of a kafka-python poll (``TopicPartition -> [ConsumerRecord]``, one
    entry per partition: grouped already), partitions in the poll's order."""
    tps: list[TopicPartition] = []
    sizes: list[int] = []
    msgs: list[Any] = []
    for ktp, recs in batches.items():
        if recs:
            tps.append((ktp.topic, ktp.partition))
            sizes.append(len(recs))
            msgs += recs
    if not msgs:
        return RecordBatch.empty()
    stamps = [m.timestamp for m in msgs]
    if None in stamps:
        stamps = [-1 if t is None else t for t in stamps]
    return RecordBatch(
        tps,
        np.repeat(np.arange(len(tps), dtype=_I64), sizes),
        np.array([m.offset for m in msgs], dtype=_I64),
        np.array(stamps, dtype=_I64),
        [m.key for m in msgs],
        [m.value for m in msgs],
        msgs,
        _HEADERS,
    )


_HEADERS = attrgetter("headers")
