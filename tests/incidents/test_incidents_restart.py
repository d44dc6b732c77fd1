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
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.incidents.streams import MODEL, stream, write_baseline
from tests.services.kafka import KafkaBroker
from tests.services.receiver import HookReceiver

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WINDOW = 60.0
PER_WINDOW = 800
SECRET_ENV = "DRIFT_MONITOR_INCIDENTS_RESTART_SECRET"
SECRET = "whsec_" + base64.b64encode(b"incidents-restart-test-secret-32").decode()
_SCRIPT = Path(sys.executable).parent / "drift-monitor"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "drift_monitor"]
# Daemon start + consumer-group join (+ the killed member's 6 s session expiring).
DEADLINE_S = 60.0

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, context: Callable[[], str]) -> T:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {DEADLINE_S:.0f}s waiting for {what}\n{context()}"
            )
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


class Daemon:
    """``drift-monitor run`` as a subprocess; logs to a file (appended across runs)."""

    def __init__(self, config: Path, port: int, log: Path, topic: str) -> None:
        self.config = config
        self.topic = topic
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, SECRET_ENV: SECRET, "PYTHONUNBUFFERED": "1"}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                raise
        return int(self.proc.returncode)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str) -> bytes | None:
        if not self.alive():
            raise AssertionError(f"the daemon exited with {self.proc and self.proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return bytes(r.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None  # not serving yet

    def metric(self, name: str, **labels: str) -> float | None:
        text = self.get("/metrics")
        if text is None:
            return None
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return None

    def status(self) -> dict[str, Any] | None:
        raw = self.get("/status")
        return None if raw is None else dict(json.loads(raw))

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "daemon log (tail):\n" + "\n".join(text.splitlines()[-lines:])


@pytest.fixture
def receiver() -> Iterator[HookReceiver]:
    r = HookReceiver(SECRET).listen()
    yield r
    r.refuse()


@pytest.fixture
def daemon(tmp_path: Path, kafka_broker: KafkaBroker, receiver: HookReceiver) -> Iterator[Daemon]:
    topic = f"incidents-restart-{os.getpid()}-{time.monotonic_ns()}"
    kafka_broker.create_topic(topic)
    write_baseline(tmp_path / "baselines")
    port = free_port()
    config = {
        "kafka": {
            "bootstrap_servers": [kafka_broker.bootstrap],
            "topics": [topic],
            "group_id": f"{topic}-group",
            "poll_timeout_ms": 200,
            # the broker's minimum: the SIGKILLed member leaves the group quickly
            "session_timeout_ms": 6000,
        },
        "baselines": {"dir": str(tmp_path / "baselines")},
        "state": {"dir": str(tmp_path / "state")},
        "http": {"host": "127.0.0.1", "port": port},
        "models": [
            {
                "name": MODEL,
                "window": {
                    "type": "tumbling",
                    "size_seconds": WINDOW,
                    "allowed_lateness_seconds": 1,
                    "idle_timeout_seconds": 1,
                },
                "episodes": {"enter_after": 1, "resolve_after": 3},
            }
        ],
        "webhooks": {
            "allow_networks": ["127.0.0.0/8"],  # a receiver on loopback
            "targets": [
                {
                    "name": "retraining",
                    "url": receiver.url,
                    "secret": {"env": SECRET_ENV},
                    "timeout_seconds": 2,
                }
            ],
            "initial_backoff_seconds": 0.2,
            "max_backoff_seconds": 0.5,
        },
        "logging": {"level": "INFO"},
    }
    path = tmp_path / "drift-monitor.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    d = Daemon(path, port, tmp_path / "daemon.log", topic)
    yield d
    if d.alive():
        d.stop()


def produce(broker: KafkaBroker, topic: str, windows: list[list[bytes]]) -> None:
    values = [v for w in windows for v in w]
    broker.produce(topic, values, keys=[MODEL.encode()] * len(values))


def test_a_pending_trigger_survives_kill_9_and_is_delivered_once_after_restart(
    kafka_broker: KafkaBroker, receiver: HookReceiver, daemon: Daemon
) -> None:
    topic = daemon.topic
    # Event time: whole minutes, an hour ago (well inside the decoder's bounds).
    t0 = math.floor(time.time() / WINDOW) * WINDOW - 3600
    windows = stream("dd" + "dd" + "ccc", t0, WINDOW, PER_WINDOW, seed=300)

    def context() -> str:
        hits = [(h.type, h.answered, h.body.get("id")) for h in receiver.snapshot()]
        return f"receiver saw: {hits}\n{daemon.log_tail()}"

    # -- 1. the receiver is down (503): the incident's trigger waits in the outbox ----
    receiver.answer(default=503)
    produce(kafka_broker, topic, windows[:2])
    daemon.start()
    wait_for(
        lambda: len(receiver.of_type("drift.detected")) >= 2,
        "two failed drift.detected attempts",
        context,
    )
    wait_for(
        lambda: (daemon.metric("drift_monitor_webhook_outbox_pending") or 0) >= 1,
        "drift_monitor_webhook_outbox_pending >= 1",
        context,
    )
    before = receiver.snapshot()
    assert before and all(h.type == "drift.detected" and h.answered == 503 for h in before)
    ident = before[0].body["id"]
    assert ident.startswith(f"drift-{MODEL}-")
    assert before[0].body["window"]["end"] == iso(t0 + WINDOW)  # the first window opened it

    # -- 2. kill -9, receiver back, same config and state ----------------------------
    daemon.kill()
    receiver.answer(default=200)
    daemon.start()
    wait_for(lambda: receiver.delivered("drift.detected"), "drift.detected delivered", context)
    status = wait_for(daemon.status, "/status", context)
    incident = status["models"][MODEL]["incident"]
    assert incident["open"] is True and incident["id"] == ident

    # -- 3. more drifted windows: the same incident; then clean ones resolve it ------
    produce(kafka_broker, topic, windows[2:])
    wait_for(lambda: receiver.delivered("drift.resolved"), "drift.resolved delivered", context)
    wait_for(
        lambda: daemon.metric("drift_monitor_webhook_outbox_pending") == 0,
        "an empty outbox",
        context,
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
        daemon.metric("drift_monitor_webhook_deliveries_total", model=MODEL, outcome="delivered")
        == 2
    )
    assert daemon.stop() == 0
