"""The delivery invariant end to end: a real ``drift-monitor run`` subprocess on the
real broker, its state directory on a 1 MiB tmpfs that fills up at the moment a
drifted window closes (the outbox cannot take the incident).

Before the checkpoint change the daemon exited and committed to the end: after a
restart there was no incident and the webhook was lost. Now, while the disk is full:
/readyz answers 503 naming the outbox file, ``sink_up{sink="outbox"}`` is 0, and the
group's committed offset stays at the drifted window's first event. Once space is back:
one ``drift.detected`` arrives, the commit moves on; a restart sends nothing again.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from drift_monitor.demo.receiver import WebhookReceiver
from tests.services.daemon import DaemonProcess, wait_for
from tests.services.disk import fill, small_tmpfs
from tests.services.kafka import KafkaBroker
from tests.services.webhooks import loopback_webhooks, wait_received
from tests.system.resilience.kafka_support import aligned_past, event, write_baselines

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET_ENV = "DRIFT_MONITOR_SINK_BROKER_SECRET"
SECRET = "whsec_" + base64.b64encode(b"sink-failure-broker-test-secret!").decode()
WINDOW_S = 10.0
PER_WINDOW = 400
MODEL = "disk0"
#: window 2's first events, enough to pass the 0.5 s lateness and close window 1
HEAD = 30


@pytest.fixture
def small_state(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path / "tmpfs-state") as state:
        yield state


def _window(
    rng: random.Random, k: int, t0: float, shift: float, n: int = PER_WINDOW
) -> list[bytes]:
    start = t0 + k * WINDOW_S
    return [
        event(rng, MODEL, f"{k}-{j}", start + (j + 0.5) * WINDOW_S / PER_WINDOW, shift=shift)
        for j in range(n)
    ]


def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        offset: int | None = c.committed(TopicPartition(topic, 0))
        return offset
    finally:
        c.close()


def test_disk_full_at_window_close_holds_the_commit_and_loses_no_webhook(
    kafka_broker: KafkaBroker,
    daemons: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    tmp_path: Path,
    small_state: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = WebhookReceiver(SECRET).start()
    topic, group = unique("diskfull"), unique("diskfull-group")
    kafka_broker.create_topic(topic, partitions=1)
    fields = dict(
        bootstrap=kafka_broker.bootstrap,
        topics=[topic],
        group_id=group,
        models=[MODEL],
        baselines_dir=write_baselines(tmp_path / "baselines", [MODEL]),
        state_dir=small_state,
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=0.5,
        idle_timeout_seconds=3600.0,
        overrides={
            "defaults": {"episodes": {"enter_after": 1}},
            "webhooks": loopback_webhooks(
                receiver.url, SECRET_ENV, timeout_seconds=None, max_backoff_seconds=None
            ),
        },
    )
    d = daemons("diskfull", **fields).start()
    rng = random.Random(7)
    t0 = aligned_past(WINDOW_S)
    drifted = _window(rng, 2, t0, 1.5)
    # windows 0, 1 clean and window 2's first events (past the lateness): 0 and 1 close
    kafka_broker.produce(
        topic, _window(rng, 0, t0, 0.0) + _window(rng, 1, t0, 0.0) + drifted[:HEAD]
    )
    wait_for(
        lambda: _committed(kafka_broker.bootstrap, group, topic) == 2 * PER_WINDOW,
        60,
        "the commit at window 2's first event",
        on_timeout=d.log_tail,
    )
    filler = fill(small_state)
    # the rest of the drifted window 2, and window 3's first events: window 2 closes
    kafka_broker.produce(topic, drifted[HEAD:] + _window(rng, 3, t0, 0.0)[:HEAD])
    outbox = str(small_state / "webhook-outbox.sqlite3")

    def failing() -> bool:
        sinks = d.status().get("sinks", {})
        problem = (sinks.get("outbox") or {}).get("problem") or ""
        return outbox in problem and d.probe("/readyz") == 503

    wait_for(failing, 60, "outbox failing, named in /status, /readyz 503", on_timeout=d.log_tail)
    assert d.metrics().value("drift_monitor_sink_up", sink="outbox") == 0
    assert outbox in d.log_tail(200)
    time.sleep(5)  # several commit intervals and retries: nothing may move meanwhile
    assert d.running()
    assert _committed(kafka_broker.bootstrap, group, topic) == 2 * PER_WINDOW
    assert not receiver.snapshot()

    filler.unlink()  # space is back
    wait_received(receiver, 1, 60, on_timeout=d.log_tail)  # the drift.detected one
    wait_for(
        lambda: _committed(kafka_broker.bootstrap, group, topic) == 3 * PER_WINDOW,
        60,
        "the commit at window 3's first event",
        on_timeout=d.log_tail,
    )
    wait_for(lambda: d.probe("/readyz") == 200, 30, "ready again", on_timeout=d.log_tail)
    assert d.metrics().value("drift_monitor_sink_up", sink="outbox") == 1
    assert d.sigterm() == 0
    again = daemons("diskfull-again", **fields).start()
    time.sleep(5)  # the restarted process re-reads window 3's events; nothing to send
    assert again.running()
    hits = receiver.snapshot()
    assert [(h.body["type"], h.verified) for h in hits] == [("drift.detected", True)]
    assert hits[0].body["window"]["events"] == PER_WINDOW
    receiver.stop()
