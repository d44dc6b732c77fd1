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

from tests.services.kafka import KafkaBroker, start_broker_for_tests
from tests.sre.daemon import (
    DaemonProcess,
    daemon_config,
    free_port,
    running_daemon,
    sample_sum,
    wait_for,
)
from tests.sre.streams import MODEL, aligned_past, encode, window_events, write_baseline

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

WINDOW_S = 10.0
BEFORE = 250  # events of the window produced before the outage
AFTER = 180  # events produced after the broker is back
#: Longest time the daemon may take to notice a dead broker / a broker that is back.
OUTAGE_DEADLINE_S = 30.0
RECOVERY_DEADLINE_S = 60.0
READY = (200, 1.0)
NOT_READY = (503, 0.0)


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    broker = start_broker_for_tests(tmp_path / "broker")
    try:
        yield broker
    finally:
        broker.stop()


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


def health(daemon: DaemonProcess) -> tuple[int | None, float]:
    """(/readyz status, kafka_connected); asserts on every call that the process is alive
    and /healthz answers 200, whatever the broker does."""
    assert daemon.alive(), f"the daemon died\n{daemon.log_tail()}"
    healthz = daemon.probe("/healthz")
    assert healthz == 200, f"/healthz answered {healthz}\n{daemon.log_tail()}"
    readyz = daemon.probe("/readyz")
    connected = sample_sum(daemon.metrics(), "drift_monitor_kafka_connected")
    return readyz, connected


def wait_health(
    daemon: DaemonProcess, want: tuple[int, float], deadline: float, what: str
) -> float:
    """Poll until (/readyz, kafka_connected) == ``want``; returns the seconds it took."""
    t0 = time.monotonic()
    wait_for(
        lambda: health(daemon) == want,
        deadline,
        f"/readyz {want[0]} and kafka_connected {want[1]:.0f} {what}",
        interval=0.25,
        on_timeout=daemon.log_tail,
    )
    return time.monotonic() - t0


def stays(daemon: DaemonProcess, want: tuple[int, float], seconds: float) -> None:
    """(/readyz, kafka_connected) == ``want`` on every poll for ``seconds`` (no blip)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert health(daemon) == want
        time.sleep(0.25)


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


def test_readyz_follows_the_broker_through_outages(own_broker: KafkaBroker, tmp_path: Path) -> None:
    broker = own_broker
    tag = uuid.uuid4().hex[:8]
    topic, group = f"sre-ready-{tag}", f"sre-ready-{tag}"
    broker.create_topic(topic)
    start = aligned_past(WINDOW_S)
    key = MODEL.encode()
    broker.produce(
        topic,
        encode(window_events(start, WINDOW_S, BEFORE, seed=31, drifted=False)),
        keys=[key] * BEFORE,
    )
    config = daemon_config(
        bootstrap=broker.bootstrap,
        topic=topic,
        group_id=group,
        baselines_dir=write_baseline(tmp_path / "baselines"),
        state_dir=tmp_path / "state",
        port=free_port(),
        window_seconds=WINDOW_S,
        idle_timeout_seconds=2,
    )
    timings: dict[str, float] = {}
    with running_daemon(config, tmp_path / "daemon") as daemon:
        wait_health(daemon, READY, 30, "after start")
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
            timings["hung: detected"] = wait_health(
                daemon, NOT_READY, OUTAGE_DEADLINE_S, "with the broker hung"
            )
            assert b"Kafka" in daemon.get("/readyz")[1]
            stays(daemon, NOT_READY, 2)
        timings["hung: recovered"] = wait_health(
            daemon, READY, RECOVERY_DEADLINE_S, "with the broker answering again"
        )

        # -- a stopped broker ------------------------------------------------------
        t0 = time.monotonic()
        broker.stop()
        timings["stopped: detected"] = (time.monotonic() - t0) + wait_health(
            daemon, NOT_READY, OUTAGE_DEADLINE_S, "with the broker stopped"
        )
        assert b"Kafka" in daemon.get("/readyz")[1]
        assert daemon.status()["kafka"]["connected"] is False
        stays(daemon, NOT_READY, 3)

        broker.start()
        timings["stopped: recovered"] = wait_health(
            daemon, READY, RECOVERY_DEADLINE_S, "with the broker started again"
        )
        assert daemon.accepted() == accepted_before

        # -- events produced after the restart are consumed, each exactly once --------
        later = start + 3 * WINDOW_S
        broker.produce(
            topic,
            encode(window_events(later, WINDOW_S, AFTER, seed=32, drifted=False)),
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
        assert sample_sum(metrics, "drift_monitor_events_total", outcome="late") == 0
        assert sample_sum(metrics, "drift_monitor_window_events", model=MODEL) == AFTER
        assert health(daemon) == READY
    print("readiness timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
