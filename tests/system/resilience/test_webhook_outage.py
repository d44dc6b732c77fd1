"""The retraining webhook's receiver is down, then failing, then back: every trigger is
delivered exactly once, signed, and nothing is given up on.

Two models stream windows that alternate drifted and clean (``episodes: {enter_after:
1, resolve_after: 1}``), so each opens and resolves several incidents. The receiver
(drift_monitor/demo/receiver.py: a real HTTP server that verifies every signature) is

1. not listening (connection refused) while the first windows close,
2. answering 503 while more windows close,
3. answering 200.

During 1 and 2, ``drift_monitor_webhook_outbox_pending`` holds every trigger so far and
``drift_monitor_webhook_deliveries_total{outcome="retried"}`` grows (the outbox sends
one model's triggers in order, so only the oldest of each model is attempted while the
receiver fails). After 3 every (incident id, type) has been accepted exactly once, in
order per model, every request's signature verified, no delivery is dead and the
outbox is empty.
"""

from __future__ import annotations

import base64
import random
import time
from collections import Counter
from collections.abc import Callable

import pytest

from drift_monitor.demo.receiver import WebhookReceiver
from tests.services.daemon import DaemonProcess, Metrics, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import produce
from tests.services.webhooks import loopback_webhooks
from tests.system.resilience.kafka_support import (
    AuditTail,
    aligned_past,
    event,
    models_on_distinct_partitions,
    report,
    scaled,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET_ENV = "DRIFT_MONITOR_RESILIENCE_WEBHOOK_SECRET"
SECRET = "whsec_" + base64.b64encode(b"resilience-webhook-outage-secret").decode()
WINDOW_S = 10.0
PER_WINDOW = 500
SHIFT = 1.5  # standard deviations of x in a drifted window
#: One letter per window: d drifted, c clean. Phase 1 (refused) then phase 2 (503).
PLAN_REFUSED: str = scaled("dcd", "dcdcd")
PLAN_FAILING: str = scaled("cdc", "cdcdc")
DEADLINE_S = 60.0


def _windows(model: str, plan: str, first: int, t0: float, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for k, kind in enumerate(plan):
        start = t0 + (first + k) * WINDOW_S
        for j in range(PER_WINDOW):
            ts = start + (j + 0.5) * WINDOW_S / PER_WINDOW
            shift = SHIFT if kind == "d" else 0.0
            out.append(event(rng, model, f"{model}-{first + k}-{j}", ts, shift=shift))
    return out


def _transitions(plan: str) -> int:
    """Incidents opened + resolved by ``plan`` with enter_after = resolve_after = 1."""
    n, open_ = 0, False
    for kind in plan:
        if (kind == "d") != open_:
            open_ = not open_
            n += 1
    return n


def _produce_plan(
    bootstrap: str, topic: str, models: list[str], plan: str, first: int, t0: float
) -> None:
    # Interleave the models window by window, in event-time order.
    per_model = {
        m: _windows(m, plan, first, t0, seed=first * 100 + i) for i, m in enumerate(models)
    }
    values, keys = [], []
    for k in range(len(plan) * PER_WINDOW):
        for m in models:
            values.append(per_model[m][k])
            keys.append(m.encode())
    produce(bootstrap, topic, values, keys)


def test_webhook_outage_every_trigger_delivered_once(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    t_begin = time.monotonic()
    monkeypatch.setenv(SECRET_ENV, SECRET)
    receiver = WebhookReceiver(SECRET).start()
    receiver.stop()  # the port is known; nothing listens on it: connection refused
    models = models_on_distinct_partitions(2, 2, "hook")
    topic = unique("hooks")
    kafka_broker.create_topic(topic, partitions=2)
    d = topic_daemon(
        "hooks",
        topic,
        models,
        bootstrap=kafka_broker.bootstrap,
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=0.5,
        idle_timeout_seconds=2.0,
        audit_windows=True,
        overrides={
            "defaults": {"episodes": {"enter_after": 1, "resolve_after": 1}},
            "webhooks": loopback_webhooks(receiver.url, SECRET_ENV, max_backoff_seconds=1.0),
        },
    ).start()
    audit = AuditTail(d.audit_path)
    t0 = aligned_past(WINDOW_S)
    per_model = _transitions(PLAN_REFUSED + PLAN_FAILING)
    expected = per_model * len(models)

    def retried(m: Metrics) -> float:
        return m.total("drift_monitor_webhook_deliveries_total", outcome="retried")

    def delivered(m: Metrics) -> float:
        return m.total("drift_monitor_webhook_deliveries_total", outcome="delivered")

    def pending(m: Metrics) -> float:
        return m.value("drift_monitor_webhook_outbox_pending")

    def scrape_when(ok: Callable[[Metrics], bool]) -> Callable[[], Metrics | None]:
        def probe() -> Metrics | None:
            m = d.metrics()
            return m if ok(m) else None

        return probe

    # -- 1. the receiver refuses connections -------------------------------------------
    _produce_plan(kafka_broker.bootstrap, topic, models, PLAN_REFUSED, 0, t0)
    n1 = _transitions(PLAN_REFUSED) * len(models)
    m1 = wait_for(
        scrape_when(lambda m: pending(m) == n1 and retried(m) >= n1),
        DEADLINE_S,
        f"{n1} triggers pending, each retried at least once (receiver refusing)",
        on_timeout=d.log_tail,
    )
    assert delivered(m1) == 0
    assert not receiver.snapshot()
    retried_refused = retried(m1)

    # -- 2. the receiver answers 503 -----------------------------------------------------
    receiver.answer(default=503)
    receiver.start()
    _produce_plan(kafka_broker.bootstrap, topic, models, PLAN_FAILING, len(PLAN_REFUSED), t0)
    m2 = wait_for(
        scrape_when(
            lambda m: (
                pending(m) == expected
                and retried(m) >= retried_refused + 2 * len(models)
                and {h.body.get("model") for h in receiver.snapshot()} == set(models)
            )
        ),
        DEADLINE_S,
        f"{expected} triggers pending and retried against 503s",
        on_timeout=d.log_tail,
    )
    assert all(h.answered == 503 for h in receiver.snapshot())
    retried_total = retried(m2)

    # -- 3. the receiver is back ---------------------------------------------------------
    t_back = time.monotonic()
    receiver.answer(default=200)
    m3 = wait_for(
        scrape_when(lambda m: pending(m) == 0 and delivered(m) == expected),
        DEADLINE_S,
        "every trigger delivered",
        on_timeout=d.log_tail,
    )
    t_drained = time.monotonic()
    audit.update()
    d.sigterm()

    hits = receiver.snapshot()
    ok = receiver.delivered()
    accepted = Counter((h.body["id"], h.type) for h in ok)
    statuses = Counter(h.answered for h in hits)
    summary = {
        "models": len(models),
        "windows": len(audit.windows),
        "triggers": expected,
        "retried_while_refused": int(retried_refused),
        "retried_total": int(retried_total),
        "requests_received": len(hits),
        "answered": dict(statuses),
        "delivered": len(ok),
        "dead": int(m3.total("drift_monitor_webhook_deliveries_total", outcome="dead")),
        "delivered_after_back_s": round(t_drained - t_back, 1),
        "total_s": round(time.monotonic() - t_begin, 1),
    }
    record_property("webhook_outage", report("webhook_outage", summary))

    # The stream did what the plan says: drifted windows alert, clean ones do not.
    plan = PLAN_REFUSED + PLAN_FAILING
    for w in audit.windows:
        k = round((w["start"] - t0) / WINDOW_S)
        assert (w["status"] == "alert") == (plan[k] == "d"), (w["model"], k, w["status"])
    # Exactly once each, signed, nothing dead.
    assert len(accepted) == expected and set(accepted.values()) == {1}, accepted
    assert all(h.verified for h in hits), [h.error for h in hits if not h.verified]
    assert summary["dead"] == 0
    for m in models:
        mine = [h for h in ok if h.body["model"] == m]
        assert len(mine) == per_model
        # In order per receiver: detected, resolved (same id), detected, resolved ...
        assert [h.type for h in mine] == ["drift.detected", "drift.resolved"] * (per_model // 2)
        assert all(a.body["id"] == b.body["id"] for a, b in zip(mine[::2], mine[1::2], strict=True))
        assert len({h.body["id"] for h in mine}) == per_model // 2
    # The same webhook-id on every attempt of a trigger, a different one per trigger.
    per_message: dict[tuple[str, str], set[str]] = {}
    for h in hits:
        per_message.setdefault((h.body["id"], h.type), set()).add(h.webhook_id)
    assert all(len(v) == 1 for v in per_message.values()), per_message
    assert len({next(iter(v)) for v in per_message.values()}) == expected
