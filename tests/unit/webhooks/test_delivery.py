"""Dispatcher policy with the in-memory transport; the real-HTTP path is in test_http.py."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.webhooks import (
    DeliveryStats,
    Dispatcher,
    FinishedDelivery,
    MemoryTransport,
    Outbox,
    PendingDelivery,
    TransportError,
    TransportResponse,
    WebhookSettings,
    backoff_seconds,
    parse_retry_after,
    verify,
)
from tests.unit.webhooks.factories import SECRET, START, make_trigger

URL = "https://hooks.example.com/drift"


def settings(**overrides: Any) -> WebhookSettings:
    target = {"name": "hook", "url": URL, "secret": {"env": "HOOK_SECRET"}}
    target.update(overrides.pop("target", {}))
    return WebhookSettings.model_validate({"targets": [target], **overrides})


def dispatcher(
    path: Path,
    clock: ManualClock,
    transport: MemoryTransport,
    environ: dict[str, str],
    **overrides: Any,
) -> Dispatcher:
    return Dispatcher(
        Outbox(path),
        settings(**overrides),
        transport,
        clock,
        random.Random(7),
        environ=environ,
    )


def pending_rows(path: Path) -> list[PendingDelivery]:
    with Outbox(path) as view:
        return view.pending()


def history_rows(path: Path) -> list[FinishedDelivery]:
    with Outbox(path) as view:
        return view.history()


def run_until_done(d: Dispatcher, outbox_path: Path, clock: ManualClock, limit: int = 50) -> None:
    """Advance the manual clock to each next retry and deliver, until nothing is pending."""
    for _ in range(limit):
        pending = pending_rows(outbox_path)
        if not pending:
            return
        clock.set(max(clock.now(), min(r.next_attempt_at for r in pending)))
        d.deliver_due()
    raise AssertionError("still pending")


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    rng = random.Random(1)
    for attempts, cap in [(0, 2), (1, 4), (3, 16), (8, 600), (10_000, 600)]:
        draws = [backoff_seconds(attempts, 2, 600, rng) for _ in range(500)]
        assert all(0 <= d <= cap for d in draws)
        assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("120", START) == 120
    date = email.utils.formatdate(START + 90, usegmt=True)
    assert parse_retry_after(date, START) == pytest.approx(90)
    assert parse_retry_after(email.utils.formatdate(START - 90, usegmt=True), START) == 0
    for junk in (None, "", "soon", "-5", "1.5"):
        assert parse_retry_after(junk, START) is None


def test_2xx_is_delivered_and_signed(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([204])
    d = dispatcher(outbox_path, clock, transport, environ)
    assert d.submit(make_trigger()) == 1
    assert d.pending() == 1
    assert d.deliver_due() == DeliveryStats(attempted=1, delivered=1)
    [request] = transport.requests
    assert request.url == URL and request.timeout == 10
    verify(SECRET, request.headers, request.body, now=clock.now())
    assert request.headers["webhook-id"] == "drift.detected:fraud-20261126T100000Z"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("drift-monitor")
    assert d.pending() == 0 and d.counts() == {("fraud", "delivered"): 1}
    assert d.deliver_due() == DeliveryStats()


def test_retries_back_off_and_then_deliver(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([503, 429, TransportError("connection refused"), 408, 200])
    d = dispatcher(outbox_path, clock, transport, environ)
    d.submit(make_trigger())
    delays = []
    for attempt in range(4):
        d.deliver_due()
        [row] = pending_rows(outbox_path)
        assert row.attempts == attempt + 1
        delays.append(row.next_attempt_at - clock.now())
        assert 0 <= delays[-1] <= 2 * 2**attempt
        if row.next_attempt_at > clock.now():
            assert d.deliver_due() == DeliveryStats(), "nothing is due before next_attempt_at"
        clock.set(row.next_attempt_at)
    assert d.deliver_due().delivered == 1
    assert d.counts() == {("fraud", "retried"): 4, ("fraud", "delivered"): 1}
    ids = {r.headers["webhook-id"] for r in transport.requests}
    timestamps = [int(r.headers["webhook-timestamp"]) for r in transport.requests]
    assert len(ids) == 1 and timestamps == sorted(timestamps)
    assert len({r.body for r in transport.requests}) == 1


def test_retry_after_is_honoured_when_longer(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([TransportResponse(503, {"retry-after": "120"})])
    d = dispatcher(outbox_path, clock, transport, environ)
    d.submit(make_trigger())
    d.deliver_due()
    assert pending_rows(outbox_path)[0].next_attempt_at == START + 120


def test_retry_after_never_pushes_past_max_age(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([TransportResponse(429, {"retry-after": "999999"}), 503])
    d = dispatcher(outbox_path, clock, transport, environ, max_age_seconds=3600)
    d.submit(make_trigger())
    d.deliver_due()
    [row] = pending_rows(outbox_path)
    assert row.next_attempt_at == START + 3600
    clock.set(row.next_attempt_at)
    assert d.deliver_due().dead == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 301, 302, 307])
def test_non_retryable_statuses_are_dead_after_one_attempt(
    status: int,
    outbox_path: Path,
    clock: ManualClock,
    environ: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = MemoryTransport([status])
    d = dispatcher(outbox_path, clock, transport, environ)
    d.submit(make_trigger())
    with caplog.at_level(logging.WARNING, logger="drift_monitor.webhooks"):
        assert d.deliver_due() == DeliveryStats(attempted=1, dead=1)
    assert d.counts() == {("fraud", "dead"): 1} and d.pending() == 0
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert "model=fraud" in message and "target=hook" in message
    assert "fraud-20261126T100000Z" in message and f"HTTP {status}" in message
    clock.advance(10_000)
    d.deliver_due()
    assert len(transport.requests) == 1
    [finished] = history_rows(outbox_path)
    assert finished.outcome == "dead" and f"HTTP {status}" in (finished.last_error or "")


def test_airflow_409_means_the_run_already_exists(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([409])
    d = dispatcher(outbox_path, clock, transport, environ, target={"preset": "airflow_dag_run"})
    d.submit(make_trigger())
    assert d.deliver_due().delivered == 1


def test_max_age_exceeded_makes_it_dead(
    outbox_path: Path,
    clock: ManualClock,
    environ: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    transport = MemoryTransport(default_status=503)
    d = dispatcher(outbox_path, clock, transport, environ, max_age_seconds=600)
    d.submit(make_trigger())
    with caplog.at_level(logging.INFO, logger="drift_monitor.webhooks"):
        run_until_done(d, outbox_path, clock)
    assert clock.now() == START + 600
    retried = d.counts()[("fraud", "retried")]
    assert d.counts()[("fraud", "dead")] == 1 and retried == len(transport.requests) - 1
    assert "gave up after" in caplog.text
    assert history_rows(outbox_path)[0].outcome == "dead"


def test_a_restart_after_max_age_still_makes_one_attempt(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    d = dispatcher(outbox_path, clock, MemoryTransport(), environ)
    d.submit(make_trigger())
    clock.advance(3 * 86_400)  # the daemon was down for three days
    assert d.deliver_due().delivered == 1


def test_timeouts_and_connection_errors_skip_the_targets_other_rows(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    transport = MemoryTransport([TransportError("timed out after 10 s")])
    d = dispatcher(outbox_path, clock, transport, environ)
    for i in range(5):
        d.submit(make_trigger(trigger_id=f"m{i}", model=f"m{i}"))
    assert d.deliver_due() == DeliveryStats(attempted=1, retried=1)
    assert d.deliver_due().delivered == 4


def test_a_removed_target_makes_its_rows_dead(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    dispatcher(outbox_path, clock, MemoryTransport(), environ).submit(make_trigger())
    renamed = dispatcher(outbox_path, clock, MemoryTransport(), environ, target={"name": "new"})
    assert renamed.deliver_due().dead == 1
    assert "no longer configured" in (history_rows(outbox_path)[0].last_error or "")


def test_a_missing_secret_is_retried_and_logged_without_raising(
    outbox_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    transport = MemoryTransport()
    d = dispatcher(outbox_path, clock, transport, {})
    d.submit(make_trigger())
    with caplog.at_level(logging.INFO, logger="drift_monitor.webhooks"):
        assert d.deliver_due().retried == 1
    assert transport.requests == []
    assert "HOOK_SECRET is unset" in caplog.text


def test_a_misbehaving_transport_does_not_escape(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    class Broken:
        def post(self, *args: object, **kwargs: object) -> TransportResponse:
            raise RuntimeError("bug")

    d = Dispatcher(
        Outbox(outbox_path), settings(), Broken(), clock, random.Random(), environ=environ
    )
    d.submit(make_trigger())
    assert d.deliver_due().retried == 1


def test_models_filter_and_multiple_targets(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    s = WebhookSettings.model_validate(
        {
            "targets": [
                {"name": "all", "url": URL, "secret": {"env": "HOOK_SECRET"}},
                {
                    "name": "churn",
                    "url": URL + "/c",
                    "secret": {"value": "raw"},
                    "models": ["churn"],
                },
            ]
        }
    )
    transport = MemoryTransport()
    d = Dispatcher(Outbox(outbox_path), s, transport, clock, random.Random(), environ=environ)
    assert d.submit(make_trigger()) == 1
    assert d.submit(make_trigger(trigger_id="c1", model="churn")) == 2
    assert d.deliver_due().delivered == 3
    assert sorted(r.url for r in transport.requests) == [URL, URL, URL + "/c"]
    assert d.counts() == {("fraud", "delivered"): 1, ("churn", "delivered"): 2}


def test_concurrent_calls_do_not_send_twice(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    entered, release = threading.Event(), threading.Event()

    class Slow(MemoryTransport):
        def post(self, *args: Any, **kwargs: Any) -> TransportResponse:
            entered.set()
            release.wait(5)
            return super().post(*args, **kwargs)

    transport = Slow()
    d = Dispatcher(
        Outbox(outbox_path), settings(), transport, clock, random.Random(), environ=environ
    )
    d.submit(make_trigger())
    worker = threading.Thread(target=d.deliver_due)
    worker.start()
    assert entered.wait(5)
    assert d.deliver_due() == DeliveryStats()  # the running call owns the rows
    release.set()
    worker.join(5)
    assert len(transport.requests) == 1
