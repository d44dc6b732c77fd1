"""A confluent-kafka poll's messages as a :class:`~.base.RecordBatch` (see
:mod:`.batches`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

from drift_monitor.source.base import RecordBatch
from drift_monitor.source.batches import partition_codes

_I64 = np.int64


def _confluent_headers(m: Any) -> Iterable[tuple[str, bytes]] | None:
    return m.headers()  # type: ignore[no-any-return]


def confluent_batch(messages: list[Any]) -> tuple[RecordBatch, list[Any]]:
    """The records among confluent-kafka ``messages`` (grouped by partition, each
    partition's in the order consumed) and the errors of the others (error messages:
    partition EOF, a fetch error)."""
    errors = [m.error() for m in messages]
    bad: list[Any] = []
    if any(errors):  # (a KafkaError is true; it cannot be compared with None)
        bad = [e for e in errors if e is not None]
        messages = [m for m, e in zip(messages, errors, strict=True) if e is None]
    if not messages:
        return RecordBatch.empty(), bad
    # librdkafka's stubs allow None for a message that is an error (dropped above); a
    # record always has a topic, partition, offset and timestamp.
    tps, codes = partition_codes([m.topic() for m in messages], [m.partition() for m in messages])
    stamps = [m.timestamp() for m in messages]  # (kind, ms)
    ts = np.fromiter([t for _, t in stamps], _I64, len(stamps))
    kinds = [k for k, _ in stamps]
    if TIMESTAMP_NOT_AVAILABLE in kinds:
        ts[np.array(kinds) == TIMESTAMP_NOT_AVAILABLE] = -1
    batch = RecordBatch(
        tps,
        codes,
        np.array([m.offset() for m in messages], dtype=_I64),
        ts,
        [m.key() for m in messages],
        [m.value() for m in messages],
        messages,
        _confluent_headers,
    )
    return batch.grouped(), bad
