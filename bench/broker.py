"""The benchmarks' Kafka: a private broker (the test suite's
:class:`tests.services.kafka.KafkaBroker`) unless one is given, topics, and a
throughput-tuned producer."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.data import EventStream, batches
from tests.services.kafka import KafkaBroker
from tests.services.wait import wait_for

#: Broker defaults a private benchmark broker keeps where scripts/kafka-local (a test
#: broker) changes them for speed: a fresh group's first rebalance waits 3 s for more
#: members, as on a managed cluster. Without it, of two daemons started together the
#: first to join got every partition and read alone until the second joined (a second
#: rebalance): bench.scaleout measured a start-up that deployments do not have.
MANAGED_DEFAULTS = {"group.initial.rebalance.delay.ms": "3000"}


@contextlib.contextmanager
def kafka(bootstrap: str | None) -> Iterator[str]:
    """``bootstrap`` when given; otherwise a private broker (scripts/kafka-local on a
    temporary directory and free ports, with :data:`MANAGED_DEFAULTS`), stopped and
    removed on exit."""
    if bootstrap:
        yield bootstrap
        return
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp:
        broker = KafkaBroker(Path(tmp), broker_config=MANAGED_DEFAULTS)
        t = time.perf_counter()
        broker.fetch()
        address = broker.start()
        print(f"(started a private broker on {address} in {time.perf_counter() - t:.1f} s)")
        try:
            yield address
        finally:
            broker.stop()


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create ``topic`` with the tests' topic configs (``retention.ms=-1``: benchmark
    events carry old record timestamps, which the broker's retention check would delete
    mid-read) and wait for its leaders."""
    from tests.services.kafka import create_topic as create  # noqa: PLC0415

    create(bootstrap, topic, partitions)
    wait_for(
        lambda: _has_leaders(bootstrap, topic, partitions),
        30,
        f"leaders of {topic}",
        interval=0.05,
    )


def _has_leaders(bootstrap: str, topic: str, partitions: int) -> bool:
    from kafka import KafkaConsumer  # noqa: PLC0415

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = c.partitions_for_topic(topic)
        return parts is not None and len(parts) == partitions
    finally:
        c.close()


def delete_topic(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` (best effort: frees the broker's disk)."""
    from kafka.admin import KafkaAdminClient  # noqa: PLC0415

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


def producer(bootstrap: str) -> Any:
    """A throughput-tuned kafka-python producer."""
    from kafka import KafkaProducer  # noqa: PLC0415

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


def produce(
    bootstrap: str, topic: str, stream: EventStream, total: int, batch: int = 20_000
) -> tuple[float, int]:
    """Produce ``total`` events of ``stream`` to ``topic`` (record timestamp = event
    time); returns (seconds spent producing, bytes of values)."""
    p = producer(bootstrap)
    spent = 0.0
    nbytes = 0
    try:
        for keys, parts, values, ts in batches(stream, total, batch):
            t = time.perf_counter()
            send = p.send
            for k, part, v, ms in zip(keys, parts, values, ts, strict=True):
                send(topic, value=v, key=k, partition=part, timestamp_ms=ms)
                nbytes += len(v)
            spent += time.perf_counter() - t
        t = time.perf_counter()
        p.flush(timeout=300)
        spent += time.perf_counter() - t
    finally:
        p.close(timeout=30)
    return spent, nbytes
