"""Readiness through a broker outage, on a broker of its own (not the session one, which
other tests share): the daemon runs against it, the broker is stopped and started again.

- ``/readyz`` is 200 once the baseline is loaded and the partition assigned;
- with the broker hung (SIGSTOP: sockets stay open, nothing answers, as in a network
  partition that drops packets) and then with the broker stopped, ``/readyz`` turns 503
  and ``drift_monitor_kafka_connected`` 0 within a deadline, while ``/healthz`` stays
  200 and the process stays up;
- each time the broker is back, ``/readyz`` is 200 and ``kafka_connected`` 1 again;
  events produced after the restart are consumed: the accepted count grows by exactly
  the number produced (no loss, no double count).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.services.daemon import DaemonConfig, DaemonProcess, running_daemon
from tests.services.kafka import KafkaBroker
from tests.services.streams import (
    MODEL,
    TRAINING_VERSION,
    encode,
    window_events,
    window_start,
    write_baseline,
)
from tests.services.wait import holds, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

WINDOW_S = 10.0
BEFORE = 250  # events of the window produced before the outage
AFTER = 180  # events produced after the broker is back
#: Longest time the daemon may take to notice a dead broker / a broker that is back.
OUTAGE_DEADLINE_S = 30.0
RECOVERY_DEADLINE_S = 60.0
READY = (200, 1.0)
NOT_READY = (503, 0.0)


def committed_offset(broker: KafkaBroker, group: str, topic: str) -> int | None:
    admin = broker.admin()
    try:
        offsets = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    for tp, om in offsets.items():
        if tp.topic == topic and tp.partition == 0:
            return int(om.offset)
    return None


def _is(daemon: DaemonProcess, want: tuple[int, float]) -> None:
    assert daemon.health() == want


@contextmanager
def frozen(broker: KafkaBroker) -> Iterator[None]:
    """The broker process stopped with SIGSTOP (a hung broker: its sockets stay open, it
    answers nothing, like a network partition that drops packets), SIGCONT on exit."""
    pid = int((broker.directory / "kafka.pid").read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    assert f"{broker.directory}/server.properties".encode() in cmdline, cmdline
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def test_readyz_follows_the_broker_through_outages(
    own_broker: KafkaBroker, tmp_path: Path, kafka_client: str
) -> None:
    broker = own_broker
    tag = uuid.uuid4().hex[:8]
    topic, group = f"sre-ready-{tag}", f"sre-ready-{tag}"
    broker.create_topic(topic)
    start = window_start(2.0, WINDOW_S)
    key = MODEL.encode()
    broker.produce(
        topic,
        encode(window_events(MODEL, start, WINDOW_S, BEFORE, seed=31)),
        keys=[key] * BEFORE,
    )
    config = DaemonConfig(
        bootstrap=broker.bootstrap,
        topics=[topic],
        group_id=group,
        models=[MODEL],
        baselines_dir=write_baseline(tmp_path / "baselines", TRAINING_VERSION).parent,
        state_dir=tmp_path / "state",
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=0,
        idle_timeout_seconds=2,
        kafka_client=kafka_client,  # tests/services/backends.py
        overrides={"defaults": {"episodes": {"enter_after": 2, "resolve_after": 3}}},
    )
    timings: dict[str, float] = {}
    with running_daemon(DaemonProcess("daemon", config, tmp_path / "daemon")) as daemon:
        daemon.wait_health(READY, 30, "after start")
        assert daemon.get("/readyz")[1] == b"ready\n"
        status = daemon.status()
        assert status["ready"] and status["kafka"]["assigned"] and status["kafka"]["connected"]
        assert status["models"][MODEL]["baseline"]["version"]

        # The window is consumed, closed by the idle timeout and committed, so nothing
        # is held in memory across the outages (a rejoin re-reads nothing).
        wait_for(lambda: daemon.accepted() == BEFORE, 30, f"{BEFORE} accepted events")
        wait_for(
            lambda: committed_offset(broker, group, topic) == BEFORE,
            30,
            f"offset {BEFORE} committed",
            on_timeout=daemon.log_tail,
        )
        accepted_before = daemon.accepted()

        # -- a hung broker: connections stay open, nothing answers -------------------
        with frozen(broker):
            timings["hung: detected"] = daemon.wait_health(
                NOT_READY, OUTAGE_DEADLINE_S, "with the broker hung"
            )
            assert b"Kafka" in daemon.get("/readyz")[1]
            holds(lambda: _is(daemon, NOT_READY), 2, interval=0.25)
        timings["hung: recovered"] = daemon.wait_health(
            READY, RECOVERY_DEADLINE_S, "with the broker answering again"
        )

        # -- a stopped broker ------------------------------------------------------
        t0 = time.monotonic()
        broker.stop()
        timings["stopped: detected"] = (time.monotonic() - t0) + daemon.wait_health(
            NOT_READY, OUTAGE_DEADLINE_S, "with the broker stopped"
        )
        assert b"Kafka" in daemon.get("/readyz")[1]
        assert daemon.status()["kafka"]["connected"] is False
        holds(lambda: _is(daemon, NOT_READY), 3, interval=0.25)

        broker.start()
        timings["stopped: recovered"] = daemon.wait_health(
            READY, RECOVERY_DEADLINE_S, "with the broker started again"
        )
        assert daemon.accepted() == accepted_before

        # -- events produced after the restart are consumed, each exactly once --------
        later = start + 3 * WINDOW_S
        broker.produce(
            topic,
            encode(window_events(MODEL, later, WINDOW_S, AFTER, seed=32)),
            keys=[key] * AFTER,
        )
        wait_for(
            lambda: daemon.accepted() >= accepted_before + AFTER,
            60,
            f"{AFTER} more accepted events",
            on_timeout=daemon.log_tail,
        )
        # Exactly: the window is evaluated and committed, and nothing more was counted.
        wait_for(
            lambda: committed_offset(broker, group, topic) == BEFORE + AFTER,
            30,
            f"offset {BEFORE + AFTER} committed",
            on_timeout=daemon.log_tail,
        )
        assert daemon.accepted() == accepted_before + AFTER
        metrics = daemon.metrics()
        assert metrics.total("drift_monitor_events_total", outcome="late") == 0
        assert metrics.total("drift_monitor_window_events", model=MODEL) == AFTER
        assert daemon.health() == READY
    print("readiness timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
