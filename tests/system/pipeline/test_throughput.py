"""A measurement, not a pass/fail on speed: how fast one daemon process consumes
realistic events (the demo dataset: 14 features and a score, ~480 bytes of JSON)
from a pre-filled single-partition topic, windows and evaluates them.

Run with ``-s`` to see the number; it is also recorded as the test's
``throughput_events_per_s`` property (e.g. in ``--junitxml``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.services.daemon import DaemonProcess, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import encode, produce, timed_events, window_start

pytestmark = pytest.mark.kafka

MODEL = "credit"
N = 100_000
MEASURE_TIMEOUT_S = 60.0


def test_consume_rate(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    record_property: Callable[[str, object], None],
) -> None:
    topic = unique("throughput")
    kafka_broker.create_topic(topic)
    values = encode(timed_events(MODEL, N, window_start(hours_ago=6), seed=800))
    t = time.monotonic()
    produce(kafka_broker.bootstrap, topic, values, [MODEL.encode()] * N)
    produce_s = time.monotonic() - t

    d = topic_daemon(
        "throughput",
        topic,
        [MODEL],
    )
    d.start(wait_ready=False)
    samples: list[tuple[float, float]] = []

    def done() -> bool:
        try:
            samples.append((time.monotonic(), d.accepted(MODEL)))
        except OSError:
            return False
        return samples[-1][1] >= N

    wait_for(done, MEASURE_TIMEOUT_S, f"{N} events accepted", interval=0.25)
    # From the first scrape that saw progress to the one that saw the end: excludes
    # process start-up and the group join.
    moving = [(ts, n) for ts, n in samples if n > 0]
    (t0, n0), (t1, n1) = moving[0], moving[-1]
    rate = (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan")
    m = d.metrics()
    windows = m.value("drift_monitor_evaluation_duration_seconds_count", model=MODEL)
    eval_s = m.value("drift_monitor_evaluation_duration_seconds_sum", model=MODEL)
    print(
        f"\n[throughput] produced {N:,} events ({sum(map(len, values)) / N:.0f} B each) "
        f"in {produce_s:.1f}s; daemon consumed {n1 - n0:,.0f} of them in {t1 - t0:.1f}s "
        f"= {rate:,.0f} events/s ({windows:.0f} windows evaluated, {eval_s:.2f}s in "
        "statistics)"
    )
    record_property("throughput_events_per_s", round(rate))
    assert m.get("drift_monitor_events_total", model=MODEL, outcome="accepted") == N
    d.sigterm()
