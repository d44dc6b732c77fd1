"""issue 12 item 9: a topic deleted and recreated while the daemon consumes it.

Before the fix, the recreated topic's offsets started again at 0, below what this process
had counted, so its records were taken for re-reads after a rebalance: evaluated but not
counted in ``events_total``, and its invalid records neither counted, logged nor
dead-lettered. Now the move back is reported (``/status`` kafka.gaps, reason
``moved_back``; ``events_skipped_total{reason="moved_back"}``) and the partition's
counted/replay bookkeeping restarts, so every record of the new incarnation is counted
once, dead-lettered when invalid, and windowed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest
from kafka.errors import UnknownTopicOrPartitionError

from tests.service.daemon.fuzz import valid_event
from tests.services.daemon import DaemonProcess, audit_ids, read_audit, wait_for
from tests.services.kafka import KafkaBroker, create_topic
from tests.services.streams import read_topic
from tests.system.resilience.kafka_support import aligned_past

pytestmark = pytest.mark.kafka

MODEL = "m"
N, K1 = 300, 20  # first incarnation: valid, invalid
M, K2 = 250, 30  # second incarnation


def _produce(broker: KafkaBroker, topic: str, first_id: int, n: int, bad: int, ts: float) -> None:
    rng = random.Random(first_id)
    values = [valid_event(rng, ts + i * 0.01, first_id + i) for i in range(n)]
    values += [b"not json %d" % (first_id + i) for i in range(bad)]
    broker.produce(topic, values, keys=[MODEL.encode()] * len(values))


def _topic_exists(broker: KafkaBroker, topic: str) -> bool:
    admin = broker.admin()
    try:
        return topic in admin.list_topics()
    finally:
        admin.close()


def test_records_of_a_recreated_topic_are_counted_dead_lettered_and_windowed(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
) -> None:
    broker = kafka_broker
    topic, dlq = unique("recreate"), unique("recreate-dlq")
    create_topic(broker.bootstrap, topic)
    create_topic(broker.bootstrap, dlq)
    t0 = aligned_past(60.0)
    _produce(broker, topic, 0, N, K1, t0 + 1)
    d = topic_daemon(
        "recreate",
        topic,
        [MODEL],
        bootstrap=broker.bootstrap,
        dead_letter_topic=dlq,
        audit_windows=True,
    ).start()
    wait_for(
        lambda: d.metrics().total("drift_monitor_events_total") >= N + K1,
        60,
        "the first incarnation counted",
        on_timeout=d.log_tail,
    )
    wait_for(
        lambda: len(read_audit(d.audit_path)) >= 1,
        60,
        "its window evaluated",
        on_timeout=d.log_tail,
    )
    time.sleep(2)  # a commit round (1 s) of the first incarnation's offsets

    admin = broker.admin()
    try:
        admin.delete_topics([topic])
    except UnknownTopicOrPartitionError:  # pragma: no cover - deleted already
        pass
    finally:
        admin.close()
    wait_for(lambda: not _topic_exists(broker, topic), 60, "the topic deleted")
    time.sleep(3)  # the daemon polls a missing topic for a while
    create_topic(broker.bootstrap, topic)
    _produce(broker, topic, 10_000, M, K2, t0 + 121)

    def counted() -> float:
        return float(d.metrics().total("drift_monitor_events_total"))

    wait_for(
        lambda: counted() >= N + K1 + M + K2,
        90,
        "the second incarnation counted",
        on_timeout=lambda: f"counted {counted()}\n{d.log_tail()}",
    )
    time.sleep(3)  # nothing more arrives: the counts are final
    m = d.metrics()
    assert m.total("drift_monitor_events_total", outcome="accepted") == N + M
    assert m.total("drift_monitor_events_total", outcome="invalid") == K1 + K2
    # every invalid record dead-lettered, each once
    copies = read_topic(broker.bootstrap, dlq, K1 + K2, timeout=60)
    assert sorted(c.value for c in copies) == sorted(
        [b"not json %d" % i for i in range(K1)] + [b"not json %d" % (10_000 + i) for i in range(K2)]
    )
    # the recreate is visible
    gap = d.status()["kafka"]["gaps"][f"{topic}/0"]
    assert gap["reason"] == "moved_back", gap
    assert gap["from_offset"] < gap["to_offset"], gap
    assert (
        m.get("drift_monitor_events_skipped_total", topic=topic, partition="0", reason="moved_back")
        is not None
    )
    log_text = d.log_path.read_text(errors="replace")
    assert "counted as new records" in log_text
    assert "Traceback" not in log_text
    # the new incarnation's valid events are evaluated, each in one window
    wait_for(
        lambda: sum(1 for i in audit_ids(read_audit(d.audit_path)) if i.startswith("v1")) >= M,
        60,
        "the new events windowed",
        on_timeout=d.log_tail,
    )
    ids = audit_ids(read_audit(d.audit_path))
    new = {f"v{10_000 + i}" for i in range(M)}
    assert new <= set(ids) and all(ids[i] == 1 for i in new)
    assert d.sigterm() == 0
