"""Incidents through the daemon's own pipeline, without a broker.

``Monitor`` runs on a ``MemorySource`` with a ``ManualClock``; webhooks go through the
real ``HttpTransport`` to a real HTTP receiver on 127.0.0.1 that verifies every
request's Standard Webhooks signature (against the same injected clock). Retries are
driven by advancing the clock past the backoff, never by sleeping.

Stream: the synthetic credit model, 5-minute event-time windows of 2 000 events,
clean (``c``) or drifted by ``DEFAULT_DRIFT`` (``d``); hysteresis enter_after=2,
resolve_after=3.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.demo.receiver import Received, WebhookReceiver
from drift_monitor.source.memory import MemorySource
from drift_monitor.webhooks import canonical_json
from tests.service.incidents.streams import BASELINE_VERSION, DRIFTED, MODEL, stream, write_baseline
from tests.services.streams import iso
from tests.services.webhooks import loopback_webhooks

TOPIC = "credit-predictions"
WINDOW = 300.0
PER_WINDOW = 2_000
IDLE_TIMEOUT = 5.0
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC).timestamp()
SECRET_ENV = "DRIFT_MONITOR_INCIDENTS_TEST_SECRET"
SECRET = "whsec_" + base64.b64encode(b"incidents-memory-test-secret-32b").decode()
INITIAL_BACKOFF = 2.0
#: clean, drifted, clean: detected on window 3 (2nd drifted), resolved on window 7
PLAN = "cc" + "ddd" + "cccc"
DETECTED_AT, RESOLVED_AT = 3, 7
BODY_FIELDS = {
    "type",
    "id",
    "model",
    "baseline_version",
    "severity",
    "window",
    "drifted_features",
    "drift_share",
    "detected_at",
}
FEATURE_FIELDS = {"name", "kind", "test", "statistic", "p_value", "threshold", "status"}
N_COLUMNS = 15  # 14 features + the score


@pytest.fixture(scope="module")
def baselines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("baselines")
    write_baseline(directory)
    return directory


@pytest.fixture(scope="module")
def windows() -> list[list[bytes]]:
    return stream(PLAN + "dd", T0, WINDOW, PER_WINDOW)


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


class Harness:
    """A Monitor on an in-memory source, a manual clock and a real receiver."""

    def __init__(
        self,
        state: Path,
        baselines: Path,
        receiver: WebhookReceiver,
        clock: ManualClock,
        **webhooks: Any,
    ) -> None:
        self.clock = clock
        self.receiver = receiver
        self.config = validate_config(
            {
                "kafka": {
                    "bootstrap_servers": ["in-memory:0"],
                    "topics": [TOPIC],
                    "poll_timeout_ms": 1,
                },
                "baselines": {"dir": str(baselines)},
                "state": {"dir": str(state)},
                "models": [
                    {
                        "name": MODEL,
                        "window": {
                            "type": "tumbling",
                            "size_seconds": WINDOW,
                            "allowed_lateness_seconds": 10,
                            "idle_timeout_seconds": IDLE_TIMEOUT,
                        },
                        "episodes": {"enter_after": 2, "resolve_after": 3},
                    }
                ],
                "webhooks": loopback_webhooks(
                    receiver.url,
                    SECRET_ENV,
                    timeout_seconds=5,
                    initial_backoff_seconds=INITIAL_BACKOFF,
                    max_backoff_seconds=None,
                )
                | webhooks,
            },
            "incidents test config",
        )
        self.source = MemorySource()
        self.monitor = Monitor(self.config, self.source, clock=clock, serve_http=False)

    def feed(self, windows: list[list[bytes]]) -> None:
        """Stream the windows through the pipeline, then close the last one by the
        idle timeout (processing time)."""
        for values in windows:
            for value in values:
                self.source.append(TOPIC, value, key=MODEL.encode())
        for _ in range(10_000):
            n = self.monitor.run_once()
            if n == 0 and self.source.remaining() == 0:
                break
        else:  # pragma: no cover - a hang would be a bug
            raise AssertionError("the pipeline did not drain the source")
        self.clock.advance(IDLE_TIMEOUT + 1)
        self.monitor.pipeline.tick()

    def deliver(self, rounds: int = 1) -> None:
        for _ in range(rounds):
            self.monitor.deliver_webhooks()

    def deliveries(self, outcome: str) -> float:
        value = self.monitor.registry.get_sample_value(
            "drift_monitor_webhook_deliveries_total", {"model": MODEL, "outcome": outcome}
        )
        return value or 0.0

    def pending(self) -> float | None:
        return self.monitor.registry.get_sample_value("drift_monitor_webhook_outbox_pending")

    def close(self) -> None:
        # shutdown() makes a last delivery round: keep the receiver's record unchanged.
        self.receiver.stop()
        self.monitor.shutdown()


@pytest.fixture
def clock() -> ManualClock:
    # Near the wall clock, so the signature timestamps are plausible ones too.
    return ManualClock(float(int(time.time())))


@pytest.fixture
def receiver(clock: ManualClock) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET, now=clock.now) as r:
        yield r


@pytest.fixture
def harness(
    tmp_path: Path, baselines: Path, receiver: WebhookReceiver, clock: ManualClock
) -> Iterator[Harness]:
    h = Harness(tmp_path / "state", baselines, receiver, clock)
    yield h
    h.close()


def assert_all_verified(hits: list[Received]) -> None:
    assert hits, "no request arrived"
    for h in hits:
        assert h.verified, h.error
        assert h.path == "/hooks/retrain"
        assert h.headers["content-type"] == "application/json"
        assert h.webhook_id == f"{h.body['type']}:{h.body['id']}"
        assert h.raw == canonical_json(h.body)  # the canonical bytes that were signed


# -- the happy path -----------------------------------------------------------------


def test_clean_drifted_clean_is_one_incident_with_two_signed_webhooks(
    harness: Harness, windows: list[list[bytes]], clock: ManualClock
) -> None:
    decided_at = clock.now()
    harness.feed(windows[: len(PLAN)])
    # drift.resolved waits for drift.detected (per-receiver order): two rounds.
    harness.deliver(rounds=3)

    hits = harness.receiver.snapshot()
    assert_all_verified(hits)
    assert [h.type for h in hits] == ["drift.detected", "drift.resolved"]
    assert all(h.answered == 200 for h in hits)
    detected, resolved = hits[0].body, hits[1].body
    assert (
        detected["id"]
        == resolved["id"]
        == f"drift-{MODEL}-"
        + dt.datetime.fromtimestamp(T0 + (DETECTED_AT + 1) * WINDOW, dt.UTC).strftime(
            "%Y%m%dT%H%M%S000Z"
        )
    )

    for body in (detected, resolved):
        assert set(body) == BODY_FIELDS
        assert body["model"] == MODEL
        assert body["baseline_version"] == BASELINE_VERSION
        assert set(body["window"]) == {"start", "end", "events"}
        assert body["window"]["events"] == PER_WINDOW
        assert body["detected_at"] == iso(decided_at)

    # drift.detected: the window that opened the incident, and exactly the injected columns
    assert detected["severity"] == "alert"
    assert detected["window"]["start"] == iso(T0 + DETECTED_AT * WINDOW)
    assert detected["window"]["end"] == iso(T0 + (DETECTED_AT + 1) * WINDOW)
    features = detected["drifted_features"]
    assert features and all(set(f) == FEATURE_FIELDS for f in features)
    assert {f["name"] for f in features} == DRIFTED
    assert detected["drift_share"] == pytest.approx(len(DRIFTED) / N_COLUMNS)
    for f in features:
        assert f["status"] in {"alert", "warning"}
        assert isinstance(f["statistic"], float) and isinstance(f["threshold"], float)
        expected_tests = {"psi", "chi2"} if f["kind"] == "categorical" else {"psi", "ks"}
        assert f["test"] in expected_tests
        assert (f["p_value"] is None) == (f["test"] == "psi")
    by_name = {f["name"]: f for f in features}
    assert by_name["default_score"]["kind"] == "prediction"
    assert by_name["channel"]["kind"] == by_name["loan_purpose"]["kind"] == "categorical"
    for name in DRIFTED:  # every drifted column has an alerting test
        assert any(f["status"] == "alert" for f in features if f["name"] == name), name

    # drift.resolved: the 3rd clean window after the drift, nothing drifted any more
    assert resolved["severity"] in {"ok", "warning"}
    assert resolved["window"]["end"] == iso(T0 + (RESOLVED_AT + 1) * WINDOW)
    assert resolved["drifted_features"] == []
    assert resolved["drift_share"] == 0.0

    assert harness.deliveries("delivered") == 2
    assert harness.deliveries("retried") == 0
    assert harness.deliveries("dead") == 0
    assert harness.pending() == 0
    assert not harness.monitor.tracker.in_episode(MODEL)


# -- retries and dead deliveries ----------------------------------------------------


def test_503_three_times_then_200_delivers_the_trigger_exactly_once(
    harness: Harness, windows: list[list[bytes]], clock: ManualClock
) -> None:
    harness.receiver.answer(503, 503, 503)
    harness.feed(windows[: len(PLAN)])

    harness.deliver()
    assert [h.answered for h in harness.receiver.snapshot()] == [503]
    assert harness.pending() == 2  # detected (retrying) and resolved (waiting behind it)
    harness.deliver()  # the backoff has not elapsed on the injected clock: nothing is due
    assert len(harness.receiver.snapshot()) == 1

    for attempts in range(1, 4):
        # past the largest backoff the jitter can draw after `attempts` failures
        clock.advance(INITIAL_BACKOFF * 2 ** (attempts - 1) + 0.001)
        harness.deliver()
        assert len(harness.receiver.snapshot()) == attempts + 1
    detected = harness.receiver.of_type("drift.detected")
    assert [h.answered for h in detected] == [503, 503, 503, 200]
    assert_all_verified(detected)
    assert len({h.webhook_id for h in detected}) == 1  # the same message every time
    assert len({h.raw for h in detected}) == 1  # identical bytes on every attempt
    assert len(harness.receiver.delivered("drift.detected")) == 1

    harness.deliver()  # now the resolved one goes out
    clock.advance(3600)
    harness.deliver(rounds=3)  # and nothing is ever sent again
    resolved = harness.receiver.of_type("drift.resolved")
    assert [h.answered for h in resolved] == [200]
    assert resolved[0].body["id"] == detected[0].body["id"]
    assert len(harness.receiver.snapshot()) == 5
    assert harness.deliveries("retried") == 3
    assert harness.deliveries("delivered") == 2
    assert harness.deliveries("dead") == 0
    assert harness.pending() == 0


def test_connection_refused_is_retried_until_the_receiver_listens(
    harness: Harness, windows: list[list[bytes]], clock: ManualClock
) -> None:
    harness.receiver.stop()
    harness.feed(windows[: len(PLAN)])
    harness.deliver()
    assert harness.receiver.snapshot() == []
    assert harness.deliveries("retried") == 1  # the detected row; the other waits
    assert harness.pending() == 2

    harness.receiver.start()  # same port
    clock.advance(INITIAL_BACKOFF + 0.001)
    harness.deliver(rounds=2)
    hits = harness.receiver.snapshot()
    assert_all_verified(hits)
    assert [(h.type, h.answered) for h in hits] == [
        ("drift.detected", 200),
        ("drift.resolved", 200),
    ]
    assert harness.deliveries("delivered") == 2
    assert harness.pending() == 0


def test_a_400_is_dead_after_one_attempt_and_counted(
    harness: Harness, windows: list[list[bytes]], clock: ManualClock
) -> None:
    harness.receiver.answer(400)
    harness.feed(windows[: len(PLAN)])
    harness.deliver()
    assert [h.answered for h in harness.receiver.snapshot()] == [400]
    assert harness.deliveries("dead") == 1
    assert harness.deliveries("retried") == 0

    clock.advance(7 * 24 * 3600)  # far past any backoff and max_age
    harness.deliver(rounds=3)
    detected = harness.receiver.of_type("drift.detected")
    assert [h.answered for h in detected] == [400]  # never retried
    assert_all_verified(detected)
    # A dead message does not block the incident's next one.
    assert [h.answered for h in harness.receiver.of_type("drift.resolved")] == [200]
    assert harness.deliveries("dead") == 1
    assert harness.deliveries("delivered") == 1
    assert harness.pending() == 0
    outbox = harness.monitor.outbox
    assert outbox is not None
    dead = [d for d in outbox.history() if d.outcome == "dead"]
    assert len(dead) == 1 and dead[0].key.type == "drift.detected" and dead[0].attempts == 1
    assert dead[0].last_error is not None and "400" in dead[0].last_error


def test_the_outbox_keeps_the_configured_history_size(
    tmp_path: Path,
    baselines: Path,
    receiver: WebhookReceiver,
    clock: ManualClock,
    windows: list[list[bytes]],
) -> None:
    """webhooks.history_size bounds the finished deliveries the outbox remembers."""
    h = Harness(tmp_path / "state", baselines, receiver, clock, history_size=1)
    try:
        h.feed(windows[: len(PLAN)])
        h.deliver(rounds=3)
        assert h.deliveries("delivered") == 2
        outbox = h.monitor.outbox
        assert outbox is not None
        assert [d.key.type for d in outbox.history()] == ["drift.resolved"]
    finally:
        h.close()


# -- a restart on the same state directory ------------------------------------------


def test_a_new_monitor_on_the_same_state_delivers_what_was_pending_and_keeps_the_incident(
    tmp_path: Path,
    baselines: Path,
    receiver: WebhookReceiver,
    clock: ManualClock,
    windows: list[list[bytes]],
) -> None:
    """The in-process counterpart of the Kafka restart test: the first Monitor is
    abandoned (no shutdown: nothing is flushed) while the receiver answers 503."""
    receiver.answer(default=503)
    first = Harness(tmp_path / "state", baselines, receiver, clock)
    first.feed(windows[: DETECTED_AT + 1])  # clean, clean, drifted, drifted: detected
    first.deliver()
    before = receiver.snapshot()
    assert [(h.type, h.answered) for h in before] == [("drift.detected", 503)]
    assert first.pending() == 1
    ident = before[0].body["id"]
    # "crash": the first monitor is simply never used again

    receiver.answer(default=200)
    second = Harness(tmp_path / "state", baselines, receiver, clock)
    try:
        assert second.pending() == 1  # the trigger survived in the outbox
        assert second.monitor.tracker.state(MODEL).episode_id == ident
        clock.advance(INITIAL_BACKOFF + 0.001)
        second.deliver()
        after = receiver.snapshot()[len(before) :]
        assert [(h.type, h.answered) for h in after] == [("drift.detected", 200)]
        assert after[0].webhook_id == before[0].webhook_id and after[0].raw == before[0].raw

        # More drifted windows (later event time): the incident is still the same one.
        second.feed(windows[len(PLAN) :])
        second.deliver(rounds=3)
        hits = receiver.snapshot()
        assert_all_verified(hits)
        assert [h.type for h in hits].count("drift.detected") == 2  # one 503 + one 200
        assert len(receiver.delivered("drift.detected")) == 1
        assert {h.body["id"] for h in hits} == {ident}
        assert second.monitor.tracker.state(MODEL).episode_id == ident
        assert second.pending() == 0
        state = json.loads((tmp_path / "state" / "episodes.json").read_text())
        assert state["models"][MODEL]["episode_id"] == ident
    finally:
        second.close()
        if first.monitor.outbox is not None:
            first.monitor.outbox.close()
