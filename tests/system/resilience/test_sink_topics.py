"""The daemon and its dead-letter topic on a broker configured like a managed one
(auto-create off, default message.max.bytes), with the daemon as a subprocess.

- issue 12 item 1: one 1,048,400-byte invalid value crash-looped the daemon
  (``MessageSizeTooLargeError`` from the dead-letter send, exit 3, nothing
  dead-lettered). Now it is counted and dead-lettered truncated, and the daemon lives.
- a dead-letter topic that does not exist is reported at start-up: one log line naming
  the topic and the fix, ``drift_monitor_sink_up{sink="dead_letters"} 0``, ``/readyz``
  503; creating the topic heals it without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.services.daemon import DaemonProcess, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import read_topic

pytestmark = pytest.mark.kafka

OVERSIZED = b"{" + b"x" * 1_048_399
MODEL = "m"


def test_an_oversized_invalid_record_is_dead_lettered_not_fatal(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
) -> None:
    topic, dlq = unique("big"), unique("big-dlq")
    kafka_broker.create_topic(topic)  # default max.message.bytes
    kafka_broker.create_topic(dlq)
    d = topic_daemon(
        "big",
        topic,
        [MODEL],
        bootstrap=kafka_broker.bootstrap,
        dead_letter_topic=dlq,
        # Larger than the record: it reaches the JSON decoder (bad_json), as in the report.
        max_event_bytes=2_000_000,
    ).start()
    pid = d.proc.pid if d.proc else None
    kafka_broker.produce(topic, [OVERSIZED], keys=[MODEL.encode()])
    wait_for(
        lambda: d.metrics().total("drift_monitor_events_total", outcome="invalid") >= 1,
        60,
        "the oversized record counted as invalid",
        on_timeout=d.log_tail,
    )
    (copy,) = read_topic(kafka_broker.bootstrap, dlq, 1, timeout=60)
    headers = dict(copy.headers)
    assert headers["drift-monitor-original-size"] == str(len(OVERSIZED)).encode()
    assert headers["drift-monitor-truncated"] == b"value"
    assert OVERSIZED.startswith(copy.value)
    time.sleep(2)  # the next commit round flushes the sink again: still alive after it
    assert d.running() and d.proc is not None and d.proc.pid == pid, d.log_tail()
    assert "Traceback" not in d.log_path.read_text(errors="replace")
    assert d.sigterm() == 0


def test_a_missing_dead_letter_topic_is_reported_at_start_up_and_heals(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
) -> None:
    topic, dlq = unique("nodlq"), unique("nodlq-dlq")
    kafka_broker.create_topic(topic)
    d = topic_daemon(
        "nodlq",
        topic,
        [MODEL],
        bootstrap=kafka_broker.bootstrap,
        dead_letter_topic=dlq,
    ).start(wait_ready=False)
    wait_for(
        lambda: d.metrics().get("drift_monitor_sink_up", sink="dead_letters") == 0,
        30,
        "sink_up{dead_letters} 0",
        on_timeout=d.log_tail,
    )
    # /readyz names the first unmet condition: on confluent the consumer counts as
    # connected only from librdkafka's first statistics (every second), so right after
    # start it may still say "Kafka brokers unreachable"; then the missing topic.

    def names_the_topic() -> bool:
        code, body = d.get("/readyz")
        return code == 503 and dlq.encode() in body

    wait_for(
        names_the_topic,
        30,
        f"/readyz 503 naming {dlq}",
        on_timeout=d.log_tail,
    )
    problem = d.status()["sinks"]["dead_letters"]["problem"]
    assert f"topic {dlq!r} does not exist" in problem and "kafka.dead_letter_topic" in problem
    lines = [
        line
        for line in d.log_path.read_text(errors="replace").splitlines()
        if "does not exist" in line
    ]
    assert len(lines) == 1, lines  # once, not per retry

    kafka_broker.create_topic(dlq)
    d.wait_ready(timeout=30)
    assert d.metrics().get("drift_monitor_sink_up", sink="dead_letters") == 1
    assert d.sigterm() == 0
