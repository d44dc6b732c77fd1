"""A pending webhook and an open incident survive ``kill -9`` of the real daemon.

The daemon runs as a subprocess (``drift-monitor run --config FILE``) against the
session's real Kafka broker. Its webhook target is a real receiver on 127.0.0.1 that
verifies every request's signature and first answers 503: the incident's
``drift.detected`` stays in the durable outbox. The daemon is SIGKILLed, the receiver
starts answering 200, the daemon is started again on the same config and state
directory: the trigger is delivered exactly once, with the id and bytes of the attempts
made before the kill; more drifted windows open no second incident, and clean ones
resolve the same incident.

Nothing sleeps blindly: every wait polls a condition (the receiver's record, /metrics,
/status) with a deadline.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_monitor.demo.receiver import WebhookReceiver
from tests.service.incidents.streams import MODEL, stream
from tests.services.daemon import DaemonProcess
from tests.services.kafka import KafkaBroker
from tests.services.streams import iso
from tests.services.wait import wait_for
from tests.services.webhooks import loopback_webhooks, wait_delivered, wait_received
from tests.system.incidents.support import incident_config

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WINDOW = 60.0
PER_WINDOW = 800
SECRET_ENV = "DRIFT_MONITOR_INCIDENTS_RESTART_SECRET"
SECRET = "whsec_" + base64.b64encode(b"incidents-restart-test-secret-32").decode()
# Daemon start + consumer-group join (+ the killed member's 6 s session expiring).
DEADLINE_S = 60.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


@pytest.fixture
def daemon(
    tmp_path: Path, kafka_broker: KafkaBroker, receiver: WebhookReceiver, kafka_client: str
) -> Iterator[DaemonProcess]:
    config = incident_config(
        kafka_broker,
        tmp_path,
        "incidents-restart",
        window_seconds=WINDOW,
        allowed_lateness_seconds=1,
        idle_timeout_seconds=1,
        kafka_client=kafka_client,  # tests/services/backends.py
        overrides={
            "models": [{"name": MODEL, "episodes": {"enter_after": 1, "resolve_after": 3}}],
            "webhooks": loopback_webhooks(receiver.url, SECRET_ENV),
        },
    )
    d = DaemonProcess("daemon", config, tmp_path, env={SECRET_ENV: SECRET})
    yield d
    d.stop()


def produce(broker: KafkaBroker, topic: str, windows: list[list[bytes]]) -> None:
    values = [v for w in windows for v in w]
    broker.produce(topic, values, keys=[MODEL.encode()] * len(values))


def test_a_pending_trigger_survives_kill_9_and_is_delivered_once_after_restart(
    kafka_broker: KafkaBroker, receiver: WebhookReceiver, daemon: DaemonProcess
) -> None:
    topic = daemon.config.topics[0]
    # Event time: whole minutes, an hour ago (well inside the decoder's bounds).
    t0 = math.floor(time.time() / WINDOW) * WINDOW - 3600
    windows = stream("dd" + "dd" + "ccc", t0, WINDOW, PER_WINDOW, seed=300)

    def context() -> str:
        hits = [(h.type, h.answered, h.body.get("id")) for h in receiver.snapshot()]
        return f"receiver saw: {hits}\n{daemon.log_tail()}"

    # -- 1. the receiver is down (503): the incident's trigger waits in the outbox ----
    receiver.answer(default=503)
    produce(kafka_broker, topic, windows[:2])
    daemon.start(wait_ready=False)
    wait_received(receiver, 2, DEADLINE_S, type_="drift.detected", on_timeout=context)
    wait_for(
        lambda: daemon.metrics().total("drift_monitor_webhook_outbox_pending") >= 1,
        DEADLINE_S,
        "drift_monitor_webhook_outbox_pending >= 1",
        on_timeout=context,
    )
    before = receiver.snapshot()
    assert before and all(h.type == "drift.detected" and h.answered == 503 for h in before)
    ident = before[0].body["id"]
    assert ident.startswith(f"drift-{MODEL}-")
    assert before[0].body["window"]["end"] == iso(t0 + WINDOW)  # the first window opened it

    # -- 2. kill -9, receiver back, same config and state ----------------------------
    daemon.sigkill()
    receiver.answer(default=200)
    daemon.start(wait_ready=False)
    wait_delivered(receiver, "drift.detected", DEADLINE_S, on_timeout=context)
    status = wait_for(daemon.status, DEADLINE_S, "/status", on_timeout=context)
    incident = status["models"][MODEL]["incident"]
    assert incident["open"] is True and incident["id"] == ident

    # -- 3. more drifted windows: the same incident; then clean ones resolve it ------
    produce(kafka_broker, topic, windows[2:])
    wait_delivered(receiver, "drift.resolved", DEADLINE_S, on_timeout=context)
    wait_for(
        lambda: daemon.metrics().get("drift_monitor_webhook_outbox_pending") == 0,
        DEADLINE_S,
        "an empty outbox",
        on_timeout=context,
    )

    hits = receiver.snapshot()
    for h in hits:
        assert h.verified, h.error
        assert h.webhook_id == f"{h.type}:{ident}"
    detected = [h for h in hits if h.type == "drift.detected"]
    resolved = [h for h in hits if h.type == "drift.resolved"]
    # exactly once successfully; every attempt before and after the kill is the same
    # message (same webhook-id, same body bytes), and there is no second incident
    assert [h.ok for h in detected].count(True) == 1
    assert detected[-1].ok and not any(h.ok for h in detected[:-1])
    assert len({h.webhook_id for h in detected}) == 1
    assert len({h.raw for h in detected}) == 1
    assert {h.body["id"] for h in hits} == {ident}
    assert [h.answered for h in resolved] == [200]
    # resolved by the 3rd clean window: the incident spanned the restart
    assert resolved[0].body["window"]["end"] == iso(t0 + 7 * WINDOW)
    assert resolved[0].body["drifted_features"] == []

    # the restarted process delivered both (its counters start from zero)
    assert (
        daemon.metrics().get(
            "drift_monitor_webhook_deliveries_total", model=MODEL, outcome="delivered"
        )
        == 2
    )
    assert daemon.sigterm(timeout=30) == 0
