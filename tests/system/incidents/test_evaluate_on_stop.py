"""``window.evaluate_on_stop`` on the real broker (issue 16 part 6): a graceful stop
evaluates the open window, makes its effects (audit record, incident -> webhook) and
commits after them; a restart does not evaluate it again and counts later events for it
as late. Without the setting a stop evaluates nothing and the restart re-reads the open
window's events (the behaviour before the setting existed).

The daemon runs as a subprocess against the session broker; the window is kept open by
an idle timeout far longer than the test and no event after the window's end, so only
the stop can close it.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drift_monitor.demo.receiver import WebhookReceiver
from tests.service.incidents.streams import MODEL, stream
from tests.services.daemon import DaemonProcess, read_audit
from tests.services.kafka import KafkaBroker
from tests.services.wait import wait_for
from tests.services.webhooks import loopback_webhooks
from tests.system.incidents.support import incident_config

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WINDOW = 60.0
PER_WINDOW = 600
LATE = 40
SECRET_ENV = "DRIFT_MONITOR_EVALUATE_ON_STOP_SECRET"
SECRET = "whsec_" + base64.b64encode(b"evaluate-on-stop-test-secret-32b").decode()
DEADLINE_S = 90.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        r.answer(default=200)
        yield r


@pytest.fixture
def make_daemon(
    tmp_path: Path, kafka_broker: KafkaBroker, receiver: WebhookReceiver
) -> Iterator[Callable[[bool], DaemonProcess]]:
    made: list[DaemonProcess] = []

    def make(evaluate_on_stop: bool) -> DaemonProcess:
        window = {"evaluate_on_stop": True} if evaluate_on_stop else {}
        config = incident_config(
            kafka_broker,
            tmp_path,
            "evaluate-on-stop",
            state_dir=tmp_path / f"state-{len(made)}",
            window_seconds=WINDOW,
            allowed_lateness_seconds=1,
            idle_timeout_seconds=3600,  # never within the test: only the stop closes
            audit_windows=True,
            overrides={
                "defaults": {"window": window},
                "models": [{"name": MODEL, "episodes": {"enter_after": 1, "resolve_after": 3}}],
                "webhooks": loopback_webhooks(
                    receiver.url,
                    SECRET_ENV,
                    initial_backoff_seconds=None,
                    max_backoff_seconds=None,
                ),
            },
        )
        d = DaemonProcess(f"daemon-{len(made)}", config, tmp_path, env={SECRET_ENV: SECRET})
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def _produce(broker: KafkaBroker, topic: str, values: list[bytes]) -> None:
    broker.produce(topic, values, keys=[MODEL.encode()] * len(values))


def _metric(d: DaemonProcess, outcome: str) -> float:
    return d.metrics().get("drift_monitor_events_total", model=MODEL, outcome=outcome) or 0.0


def _wait_counted(d: DaemonProcess, outcome: str, n: int) -> None:
    wait_for(
        lambda: _metric(d, outcome) >= n,
        DEADLINE_S,
        f"{n} events {outcome}",
        on_timeout=d.log_tail,
    )


def test_a_stop_evaluates_the_open_window_once_and_a_restart_counts_its_events_late(
    kafka_broker: KafkaBroker,
    receiver: WebhookReceiver,
    make_daemon: Callable[[bool], DaemonProcess],
) -> None:
    d = make_daemon(True)
    topic = d.config.topics[0]
    t0 = math.floor(time.time() / WINDOW) * WINDOW - 3600
    (drifted,) = stream("d", t0, WINDOW, PER_WINDOW, seed=500)
    (more,) = stream("d", t0, WINDOW, LATE, seed=501)  # same window, other event ids
    _produce(kafka_broker, topic, drifted)
    d.start()
    _wait_counted(d, "accepted", PER_WINDOW)
    assert read_audit(d.audit_path) == []  # open: nothing evaluated before the stop

    d.sigterm(timeout=30)
    windows = read_audit(d.audit_path)
    assert [(w["start"], w["events"]) for w in windows] == [(t0, PER_WINDOW)], windows
    detected = receiver.of_type("drift.detected")
    # delivered by the stopping process (its last outbox round), exactly once
    assert [h.answered for h in detected] == [200], d.log_tail()
    assert detected[0].verified
    assert "1 open window(s) evaluated before the commit" in d.log_path.read_text()

    # Restart: the commit (offset and closed_until) covers the window. Nothing is re-read
    # and events for it arriving now are late, not a new partial window.
    d.start(wait_ready=False)  # readiness needs the assignment: the metric waits for it
    _produce(kafka_broker, topic, more)
    _wait_counted(d, "late", LATE)
    assert _metric(d, "accepted") == 0
    # This stop would evaluate an open window again: there is none.
    assert d.sigterm(timeout=30) == 0
    assert len(read_audit(d.audit_path)) == 1
    assert len(receiver.of_type("drift.detected")) == 1
    second_run = d.log_path.read_text().split("===== start #2")[-1]
    assert "open window(s) evaluated" not in second_run


def test_without_the_setting_a_stop_evaluates_nothing_and_the_restart_re_reads(
    kafka_broker: KafkaBroker,
    receiver: WebhookReceiver,
    make_daemon: Callable[[bool], DaemonProcess],
) -> None:
    d = make_daemon(False)
    topic = d.config.topics[0]
    t0 = math.floor(time.time() / WINDOW) * WINDOW - 3600
    (drifted,) = stream("d", t0, WINDOW, PER_WINDOW, seed=700)
    _produce(kafka_broker, topic, drifted)
    d.start()
    _wait_counted(d, "accepted", PER_WINDOW)
    d.sigterm(timeout=30)
    assert read_audit(d.audit_path) == []
    assert receiver.snapshot() == []

    # The open window held the commit back: the restart reads its events again and
    # rebuilds the window, but the commit's high-water mark says the first process
    # counted them: events_total counts each event once over the two processes.
    d.start(wait_ready=False)

    def caught_up() -> bool:
        kafka = d.status()["kafka"]
        return bool(kafka["assigned"] and kafka["lag"]) and not any(kafka["lag"].values())

    wait_for(caught_up, DEADLINE_S, "the restart re-read the topic", on_timeout=d.log_tail)
    assert _metric(d, "accepted") == 0
    assert _metric(d, "late") == 0
    assert d.sigterm(timeout=30) == 0
    assert read_audit(d.audit_path) == []
    assert receiver.snapshot() == []
