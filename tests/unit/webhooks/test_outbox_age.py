"""The oldest pending outbox entry's age, behind webhook_outbox_oldest_pending_age_seconds."""

from __future__ import annotations

import random
from pathlib import Path

from drift_monitor.clock import ManualClock
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.status.state import MonitorState
from drift_monitor.webhooks import Dispatcher, MemoryTransport, Outbox, WebhookSettings
from tests.unit.webhooks.factories import make_trigger

GAUGE = "drift_monitor_webhook_outbox_oldest_pending_age_seconds"


def test_age_of_the_oldest_pending_delivery_grows_and_drops_to_zero(
    outbox_path: Path, clock: ManualClock, environ: dict[str, str]
) -> None:
    settings = WebhookSettings.model_validate(
        {"targets": [{"name": "h", "url": "https://h.example/x", "secret": {"env": "HOOK_SECRET"}}]}
    )
    transport = MemoryTransport([503, 503], default_status=204)
    d = Dispatcher(
        Outbox(outbox_path), settings, transport, clock, random.Random(1), environ=environ
    )
    registry = build_registry(MonitorState([], {}), outbox_age=d.oldest_pending_age)
    assert d.oldest_pending_age() == 0.0
    assert registry.get_sample_value(GAUGE) == 0.0

    d.submit(make_trigger("a"))
    clock.advance(30)
    d.submit(make_trigger("b", model="churn"))
    clock.advance(15)
    # The oldest (a) is 45 s old, not the newest (b, 15 s).
    assert d.oldest_pending_age() == 45.0
    assert registry.get_sample_value(GAUGE) == 45.0
    d.deliver_due()  # both fail with 503: still pending, the age keeps growing
    clock.advance(600)
    assert d.oldest_pending_age() == 645.0
    for _ in range(20):
        d.deliver_due()
        clock.advance(600)
        if d.pending() == 0:
            break
    assert d.pending() == 0
    assert registry.get_sample_value(GAUGE) == 0.0


def test_without_webhooks_the_gauge_is_zero() -> None:
    registry = build_registry(MonitorState([], {}))
    assert registry.get_sample_value(GAUGE) == 0.0
