"""A broker outage in the middle of a stream, on a broker of this test's own (the
session broker is shared by other tests).

A producer streams events (stamped with the time they are sent, like a live service)
while the daemon consumes them; the broker is stopped with windows still open in the
daemon, and kept down for ``OUTAGE_S``. Meanwhile the daemon process stays up,
``/healthz`` answers 200, ``/readyz`` 503 and ``drift_monitor_kafka_connected`` is 0 on
every poll once the outage is noticed. The broker is started again: the daemon
resumes by itself (``/readyz`` 200, connected 1, no restart of the process), the
producer writes the rest of the stream, and the window audit log accounts for every
event produced before and after the outage.

Reported: the outage length, how long the daemon took to notice it and to recover.
Sizes (``DRIFT_MONITOR_RESILIENCE_SCALE``): ``ci`` 15 s outage, ``large`` 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.services.daemon import DaemonProcess
from tests.services.kafka import KafkaBroker
from tests.services.wait import holds, wait_for
from tests.system.resilience.kafka_support import (
    AuditTail,
    RealtimeProducer,
    models_on_distinct_partitions,
    report,
    scaled,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUTAGE_S: float = scaled(15.0, 60.0)
#: Seconds of production before and after the outage, at RATE events/s.
STREAM_S: float = scaled(8.0, 30.0)
RATE = 1000.0
WINDOW_S = 5.0
PARTITIONS = 3
#: Longest time the daemon may take to notice the outage / the broker's return.
DETECT_DEADLINE_S = 30.0
RECOVER_DEADLINE_S = 30.0
READY = (200, 1.0)
NOT_READY = (503, 0.0)


def _is(d: DaemonProcess, want: tuple[int, float]) -> None:
    assert d.health() == want


def test_broker_outage_daemon_survives_and_loses_nothing(
    own_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    record_property: Callable[[str, object], None],
) -> None:
    t_begin = time.monotonic()
    broker = own_broker
    models = models_on_distinct_partitions(2, PARTITIONS, "out")
    topic = unique("outage")
    broker.create_topic(topic, partitions=PARTITIONS)
    d = topic_daemon(
        "outage",
        topic,
        models,
        bootstrap=broker.bootstrap,
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=1.0,
        idle_timeout_seconds=2.0,
        audit_windows=True,
    ).start()
    pid = d.proc.pid if d.proc else None
    audit = AuditTail(d.audit_path)
    prod = RealtimeProducer(broker.bootstrap, topic, models, RATE)

    # -- part 1, then the broker goes away with windows open in the daemon ------------
    prod.run_for(STREAM_S)
    before = len(prod.ids)
    wait_for(
        lambda: d.accepted() >= before * 0.9, 30, "most of part 1 consumed", on_timeout=d.log_tail
    )
    t_down = time.monotonic()
    broker.stop()
    t_stopped = time.monotonic()
    d.wait_health(NOT_READY, DETECT_DEADLINE_S, "with the broker stopped")
    t_noticed = time.monotonic()
    assert b"Kafka" in d.get("/readyz")[1]
    assert d.status()["kafka"]["connected"] is False
    # Down for OUTAGE_S: the process stays up and the state stays "not ready" throughout.
    polls = holds(
        lambda: _is(d, NOT_READY), max(0.0, OUTAGE_S - (time.monotonic() - t_down)), interval=0.5
    )

    # -- the broker is back ------------------------------------------------------------
    t_restart = time.monotonic()
    broker.start()
    t_up = time.monotonic()
    d.wait_health(READY, RECOVER_DEADLINE_S, "with the broker started again")
    t_recovered = time.monotonic()
    assert d.proc is not None and d.proc.pid == pid, "the daemon was restarted"

    # -- part 2, and every event audited ----------------------------------------------
    prod.run_for(STREAM_S)
    wanted = set(prod.ids)
    audit.wait_covers(wanted, 60, "every produced event id in the audit log", log_tail=d.log_tail)
    m = d.metrics()
    d.sigterm()
    audit.update()
    missing = wanted - audit.ids.keys()
    dup_ids = sum(1 for n in audit.ids.values() if n > 1)
    summary = {
        "events": len(wanted),
        "before_outage": before,
        "outage_s": round(t_up - t_down, 1),
        "outage_requested_s": OUTAGE_S,
        "broker_stop_s": round(t_stopped - t_down, 1),
        "broker_start_s": round(t_up - t_restart, 1),
        "noticed_after_s": round(t_noticed - t_down, 1),
        "recovered_after_s": round(t_recovered - t_up, 1),
        "not_ready_polls": polls,
        "missing": len(missing),
        "duplicated_ids": dup_ids,
        "late": int(m.total("drift_monitor_events_total", outcome="late")),
        "replayed": int(m.total("drift_monitor_events_replayed_total")),
        "total_s": round(time.monotonic() - t_begin, 1),
    }
    record_property("broker_outage", report("broker_outage", summary))
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}"
    assert audit.ids.keys() == wanted
