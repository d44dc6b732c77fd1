"""End to end over real HTTP: Dispatcher + HttpTransport -> a receiver on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.demo.receiver import Reply, WebhookReceiver
from drift_monitor.webhooks import (
    DeliveryStats,
    Dispatcher,
    HttpTransport,
    Outbox,
    SignatureError,
    TransportError,
    WebhookSettings,
    verify,
)
from tests.services.ports import free_port
from tests.unit.webhooks.factories import (
    BEARER,
    NEXT_SECRET,
    SECRET,
    START,
    make_trigger,
    spec_body,
)

ROOT = Path(__file__).resolve().parents[3]
TOLERANCE = 300.0


def webhook_settings(url: str, **target: Any) -> WebhookSettings:
    return WebhookSettings.model_validate(
        {
            "allow_networks": ["127.0.0.0/8"],  # the receiver is on loopback
            "targets": [
                {
                    "name": "retrain",
                    "url": url,
                    "secret": {"env": "HOOK_SECRET"},
                    "timeout_seconds": 0.5,
                    **target,
                }
            ],
            "signature_tolerance_seconds": TOLERANCE,
        }
    )


def make_dispatcher(
    path: Path, settings: WebhookSettings, clock: ManualClock, environ: dict[str, str]
) -> Dispatcher:
    return Dispatcher(
        Outbox(path, history_size=settings.history_size),
        settings,
        HttpTransport(),
        clock,
        random.Random(42),
        environ=environ,
    )


def drain(d: Dispatcher, path: Path, clock: ManualClock, max_runs: int = 20) -> None:
    """Jump the manual clock to each next retry and deliver, until the outbox is empty."""
    for _ in range(max_runs):
        with Outbox(path) as view:
            pending = view.pending()
        if not pending:
            return
        clock.set(max(clock.now(), min(r.next_attempt_at for r in pending)))
        d.deliver_due()
    raise AssertionError("deliveries still pending")


def assert_all_verify(receiver: WebhookReceiver, secret: str = SECRET) -> None:
    for request in receiver.snapshot():
        verify(secret, request.headers, request.raw, TOLERANCE, now=request.received_at)


def test_delivered_once_after_three_failures_every_attempt_signed(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    receiver.answer(
        503,
        Reply(500, headers={"Retry-After": "30"}),
        Reply(delay=5),  # stalls past the 0.5 s timeout
        200,
    )
    d = make_dispatcher(outbox_path, webhook_settings(receiver.url), clock, environ)
    d.submit(make_trigger())
    drain(d, outbox_path, clock)

    requests = receiver.snapshot()
    assert len(requests) == 4
    assert [r.answered for r in requests] == [503, 500, None, 200]
    assert_all_verify(receiver)
    assert {r.headers["webhook-id"] for r in requests} == {"drift.detected:fraud-20261126T100000Z"}
    assert len({r.raw for r in requests}) == 1
    assert json.loads(requests[-1].raw) == spec_body()
    assert requests[2].received_at - requests[1].received_at >= 30  # Retry-After honoured
    assert d.counts() == {("fraud", "retried"): 3, ("fraud", "delivered"): 1}
    assert d.pending() == 0


def test_received_requests_reject_tampering_and_replay(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    d = make_dispatcher(outbox_path, webhook_settings(receiver.url), clock, environ)
    d.submit(make_trigger())
    d.deliver_due()
    [request] = receiver.snapshot()
    verify(SECRET, request.headers, request.raw, now=request.received_at)
    tampered = request.raw.replace(b'"severity":"alert"', b'"severity":"warning"')
    assert tampered != request.raw
    with pytest.raises(SignatureError):
        verify(SECRET, request.headers, tampered, now=request.received_at)
    with pytest.raises(SignatureError, match="old"):
        verify(SECRET, request.headers, request.raw, now=request.received_at + TOLERANCE + 1)


def test_key_rotation_verifies_with_either_secret(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = webhook_settings(receiver.url, additional_secrets=[{"env": "NEXT_HOOK_SECRET"}])
    d = make_dispatcher(outbox_path, settings, clock, environ)
    d.submit(make_trigger())
    d.deliver_due()
    assert len(receiver.snapshot()[0].headers["webhook-signature"].split()) == 2
    assert_all_verify(receiver, SECRET)
    assert_all_verify(receiver, NEXT_SECRET)


def test_connection_refused_then_receiver_comes_up(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    port = free_port()
    d = make_dispatcher(
        outbox_path, webhook_settings(f"http://127.0.0.1:{port}/hook"), clock, environ
    )
    d.submit(make_trigger())
    assert d.deliver_due() == DeliveryStats(attempted=1, retried=1)
    with Outbox(outbox_path) as view:
        assert view.pending()[0].last_error == "connection refused"
    late = WebhookReceiver(now=clock.now, port=port, path="/hook").start()
    try:
        drain(d, outbox_path, clock)
    finally:
        late.stop()
    assert [r.answered for r in late.snapshot()] == [200]
    assert_all_verify(late)
    assert d.counts() == {("fraud", "retried"): 1, ("fraud", "delivered"): 1}


def test_connection_closed_without_response_is_retried(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    receiver.answer(Reply(drop=True), 200)
    d = make_dispatcher(outbox_path, webhook_settings(receiver.url), clock, environ)
    d.submit(make_trigger())
    drain(d, outbox_path, clock)
    assert d.counts() == {("fraud", "retried"): 1, ("fraud", "delivered"): 1}


def test_400_is_dead_after_exactly_one_attempt(
    receiver: WebhookReceiver,
    outbox_path: Path,
    clock: ManualClock,
    environ: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.answer(400)
    d = make_dispatcher(outbox_path, webhook_settings(receiver.url), clock, environ)
    d.submit(make_trigger())
    with caplog.at_level(logging.WARNING, logger="drift_monitor.webhooks"):
        assert d.deliver_due() == DeliveryStats(attempted=1, dead=1)
        clock.advance(86_400)
        assert d.deliver_due() == DeliveryStats()
    assert len(receiver.snapshot()) == 1
    assert d.counts() == {("fraud", "dead"): 1}
    [warning] = caplog.records
    assert "HTTP 400 Bad Request" in warning.getMessage()


def test_302_is_dead_and_not_followed(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    receiver.answer(Reply(302, headers={"Location": receiver.url_for("/elsewhere")}))
    d = make_dispatcher(outbox_path, webhook_settings(receiver.url), clock, environ)
    d.submit(make_trigger())
    assert d.deliver_due() == DeliveryStats(attempted=1, dead=1)
    assert [r.path for r in receiver.snapshot()] == ["/hook"]
    assert d.counts() == {("fraud", "dead"): 1}


def test_outbox_discarded_without_closing_is_delivered_by_a_new_dispatcher(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = webhook_settings(receiver.url)
    first = make_dispatcher(outbox_path, settings, clock, environ)
    first.submit(make_trigger())
    del first  # "crash": nothing closed, nothing sent
    assert receiver.snapshot() == []
    second = make_dispatcher(outbox_path, settings, clock, environ)
    assert second.pending() == 1
    assert second.deliver_due().delivered == 1
    assert len(receiver.snapshot()) == 1
    assert_all_verify(receiver)


def test_a_trigger_survives_kill_9_right_after_enqueue(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = webhook_settings(receiver.url)
    child = textwrap.dedent(
        """
        import os, signal, sys
        from drift_monitor.webhooks import Outbox, WebhookSettings
        from tests.unit.webhooks.factories import make_trigger
        settings = WebhookSettings.model_validate_json(sys.argv[2])
        Outbox(sys.argv[1]).enqueue(make_trigger(), settings.targets, float(sys.argv[3]))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", child, str(outbox_path), settings.model_dump_json(), str(START)],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    d = make_dispatcher(outbox_path, settings, clock, environ)
    assert d.deliver_due().delivered == 1
    assert_all_verify(receiver)


def test_max_age_exceeded_is_dead(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    receiver.answer(*[503] * 50)
    settings = webhook_settings(receiver.url).model_copy(update={"max_age_seconds": 60.0})
    d = make_dispatcher(outbox_path, settings, clock, environ)
    d.submit(make_trigger())
    drain(d, outbox_path, clock, max_runs=50)
    assert clock.now() == START + 60
    counts = d.counts()
    assert counts[("fraud", "dead")] == 1
    assert counts[("fraud", "retried")] == len(receiver.snapshot()) - 1
    assert all(r.answered == 503 for r in receiver.snapshot())


def test_github_preset_over_http(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = webhook_settings(
        receiver.url_for("/repos/acme/models/dispatches"),
        preset="github_repository_dispatch",
        event_type="retrain-model",
        headers={"Authorization": {"env": "HOOK_TOKEN", "prefix": "Bearer "}},
    )
    receiver.answer(204)
    d = make_dispatcher(outbox_path, settings, clock, environ)
    d.submit(make_trigger())
    assert d.deliver_due().delivered == 1
    [request] = receiver.snapshot()
    assert json.loads(request.raw) == {
        "event_type": "retrain-model",
        "client_payload": spec_body(),
    }
    assert request.headers["authorization"] == f"Bearer {BEARER}"
    assert request.headers["accept"] == "application/vnd.github+json"
    assert request.headers["content-type"] == "application/json"
    assert_all_verify(receiver)


def test_airflow_preset_over_http(
    receiver: WebhookReceiver, outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = webhook_settings(
        receiver.url_for("/api/v1/dags/retrain_fraud/dagRuns"), preset="airflow_dag_run"
    )
    d = make_dispatcher(outbox_path, settings, clock, environ)
    d.submit(make_trigger())
    assert d.deliver_due().delivered == 1
    [request] = receiver.snapshot()
    assert request.path == "/api/v1/dags/retrain_fraud/dagRuns"
    assert json.loads(request.raw) == {
        "dag_run_id": "drift-monitor__detected__fraud-20261126T100000Z",
        "conf": spec_body(),
    }


def test_secrets_never_reach_logs_reprs_or_errors(
    receiver: WebhookReceiver,
    outbox_path: Path,
    clock: ManualClock,
    environ: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = webhook_settings(
        receiver.url,
        headers={"Authorization": {"env": "HOOK_TOKEN", "prefix": "Bearer "}},
        additional_secrets=[{"value": NEXT_SECRET}],
    )
    receiver.answer(503, Reply(delay=5), 401)
    d = make_dispatcher(outbox_path, settings, clock, environ)
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        d.submit(make_trigger())
        drain(d, outbox_path, clock)
        # And a delivery whose secret cannot be resolved.
        broken = make_dispatcher(outbox_path, settings, clock, {"HOOK_TOKEN": BEARER})
        broken.submit(make_trigger(trigger_id="other"))
        broken.deliver_due()
        try:
            settings.check_secrets({"HOOK_SECRET": "whsec_!!" + SECRET})
        except Exception as exc:
            errors.append(str(exc))
    with Outbox(outbox_path) as view:
        stored = [h.last_error or "" for h in view.history()] + [
            p.last_error or "" for p in view.pending()
        ]
    signatures = [r.headers["webhook-signature"] for r in receiver.snapshot()]
    assert signatures and errors
    texts = [caplog.text, repr(settings), str(settings), repr(d), *errors, *stored]
    for text in texts:
        for secret in (SECRET, SECRET.removeprefix("whsec_"), NEXT_SECRET, BEARER, *signatures):
            assert secret not in text
    assert "webhook delivery dead" in caplog.text and "HOOK_SECRET" in caplog.text


def test_http_transport_deadline_is_hard(receiver: WebhookReceiver) -> None:
    receiver.answer(Reply(delay=5))
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out"):
        HttpTransport().post(receiver.url, {}, b"{}", timeout=0.3)
    assert time.monotonic() - started < 2
