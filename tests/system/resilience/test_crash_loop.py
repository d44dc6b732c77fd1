"""A crash loop: the daemon (a real ``drift-monitor run`` subprocess) is SIGKILLed at
random moments while a producer streams uniquely identified events into a 3-partition
topic, and restarted each time. Afterwards the window audit log must account for every
produced event (missing = 0); events audited more than once (windows evaluated again
after a crash: at-least-once) are counted and reported, not failed on.

Every audited window must also be whole: re-evaluating a window after a crash uses all
its events, never a fraction of them.

Sizes (``DRIFT_MONITOR_RESILIENCE_SCALE``): ``ci`` 200 000 events and 5 kills,
``large`` 1 000 000 events and 20 kills. The kill moments come from a seeded RNG.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.services.daemon import DaemonProcess
from tests.services.kafka import KafkaBroker
from tests.services.streams import BackgroundProducer
from tests.system.resilience.kafka_support import (
    AuditTail,
    aligned_past,
    event,
    models_on_distinct_partitions,
    report,
    scaled,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N_EVENTS: int = scaled(200_000, 1_000_000)
KILLS: int = scaled(5, 20)
#: Producer pace, events/s: the stream lasts ~45 s (ci) / ~200 s (large), over which
#: the kills are spread.
RATE: float = scaled(4500.0, 5000.0)
SEED = 20261126
PARTITIONS = 3
WINDOW_S = 10.0
#: Event-time spacing of one model's events: 2000 events per model and window.
SPACING_S = 0.005
#: Longest wait for the last process to audit every event after the stream ends.
DRAIN_TIMEOUT_S: float = scaled(120.0, 600.0)


@dataclass
class Stream:
    values: list[bytes]
    keys: list[bytes]
    ids: list[str]
    #: (model, window start) -> the ids of that event-time window
    windows: dict[tuple[str, float], set[str]]


def _stream(models: list[str], n: int, seed: int) -> Stream:
    """The models interleaved; model k's j-th event at ``t0 + j * SPACING_S``."""
    rng = random.Random(seed)
    t0 = aligned_past(WINDOW_S, hours_ago=3)
    s = Stream([], [], [], defaultdict(set))
    encoded = [m.encode() for m in models]
    for i in range(n):
        k = i % len(models)
        eid = f"e{i}"
        ts = round(t0 + (i // len(models)) * SPACING_S, 3)  # as the JSON carries it
        s.values.append(event(rng, models[k], eid, ts))
        s.keys.append(encoded[k])
        s.ids.append(eid)
        s.windows[(models[k], math.floor(ts / WINDOW_S) * WINDOW_S)].add(eid)
    return s


def test_crash_loop_loses_no_event(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    record_property: Callable[[str, object], None],
) -> None:
    t_begin = time.monotonic()
    models = models_on_distinct_partitions(3, PARTITIONS, "crash")
    topic = unique("crash")
    kafka_broker.create_topic(topic, partitions=PARTITIONS)
    stream = _stream(models, N_EVENTS, SEED)
    wanted = set(stream.ids)
    d = topic_daemon(
        "crash",
        topic,
        models,
        bootstrap=kafka_broker.bootstrap,
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=0.5,
        idle_timeout_seconds=2.0,
        audit_windows=True,
    )
    audit = AuditTail(d.audit_path)
    d.start()

    rng = random.Random(SEED)
    stream_s = N_EVENTS / RATE
    # Kill k comes a random 2 .. 2*mean-2 s after the previous (re)start: some land
    # while the consumer is still joining the group or catching up, some mid-window.
    mean_gap = max(stream_s / KILLS, 4.0)
    prod = BackgroundProducer(
        kafka_broker.bootstrap, topic, stream.values, stream.keys, rate=RATE, chunk=1000
    )
    prod.start()
    t_stream = time.monotonic()
    kills: list[dict[str, float]] = []
    for _ in range(KILLS):
        delay = rng.uniform(2.0, 2.0 * mean_gap - 2.0)
        time.sleep(delay)  # the chaos schedule, not a wait for a result
        audit.update()
        kills.append(
            {"after_s": round(delay, 1), "produced": prod.sent, "audited_ids": len(audit.ids)}
        )
        d.sigkill()
        d.start(wait_ready=False)
    prod.join(timeout=max(60.0, 2 * stream_s))
    t_produced = time.monotonic()

    audit.wait_covers(
        wanted,
        DRAIN_TIMEOUT_S,
        "every produced event id in the audit log",
        interval=1.0,
        log_tail=d.log_tail,
    )
    t_drained = time.monotonic()
    m = d.metrics()
    d.sigterm()
    audit.update()

    missing = wanted - audit.ids.keys()
    unknown = audit.ids.keys() - wanted
    dup_ids = sum(1 for n in audit.ids.values() if n > 1)
    surplus = sum(n - 1 for n in audit.ids.values())
    # Whole windows: each audited window holds exactly the ids of its event-time window.
    partial: list[tuple[str, float, int, int]] = []
    windows_by_key: dict[tuple[str, float], int] = defaultdict(int)
    for w in audit.windows:
        key = (w["model"], w["start"])
        windows_by_key[key] += 1
        want = stream.windows.get(key, set())
        if w["id_set"] != want or w["events"] != len(want):
            partial.append((w["model"], w["start"], w["events"], len(want)))
    distinct_windows = len(windows_by_key)
    re_evaluated = sum(n - 1 for n in windows_by_key.values())

    summary = {
        "events": N_EVENTS,
        "models": len(models),
        "partitions": PARTITIONS,
        "kills": len(kills),
        "missing": len(missing),
        "duplicated_ids": dup_ids,
        "duplicated_pct": round(100.0 * dup_ids / N_EVENTS, 3),
        "surplus_audit_entries": surplus,
        "windows_audited": len(audit.windows),
        "windows_distinct": distinct_windows,
        "windows_re_evaluated": re_evaluated,
        "windows_partial": len(partial),
        "torn_audit_lines": audit.torn,
        "late_last_process": int(m.total("drift_monitor_events_total", outcome="late")),
        "replayed_last_process": int(m.total("drift_monitor_events_replayed_total")),
        "setup_s": round(t_stream - t_begin, 1),
        "stream_s": round(t_produced - t_stream, 1),
        "drain_after_stream_s": round(t_drained - t_produced, 1),
        "total_s": round(time.monotonic() - t_begin, 1),
        # each kill: seconds after the previous (re)start @ records produced by then
        "kill_schedule": [f"{k['after_s']}s@{k['produced']}" for k in kills],
    }
    line = report("crash_loop", summary)
    record_property("crash_loop", line)
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert not unknown, f"unknown ids audited: {sorted(unknown)[:5]}"
    assert len(kills) == KILLS
    assert not partial, f"{len(partial)} audited windows not whole: {partial[:5]}"
