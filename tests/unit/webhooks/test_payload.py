from __future__ import annotations

import json
from typing import Any

import pytest

from drift_monitor.webhooks import (
    Trigger,
    WebhookTarget,
    airflow_dag_run_id,
    canonical_json,
    render_body,
)
from drift_monitor.webhooks.payload import github_client_payload
from tests.unit.webhooks.factories import make_trigger, spec_body


def target(preset: str, **extra: Any) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {
            "name": preset,
            "url": "https://example.com/x",
            "secret": {"env": "S"},
            "preset": preset,
            **extra,
        }
    )


def test_standard_preset_is_the_spec_body_in_canonical_json() -> None:
    trigger = make_trigger()
    body = render_body(trigger, target("standard"))
    assert json.loads(body) == spec_body()
    assert body == canonical_json(spec_body())
    assert b" " not in body and body.isascii()
    keys = list(json.loads(body))
    assert keys == sorted(keys)


def test_github_repository_dispatch_preset() -> None:
    trigger = make_trigger()
    body = json.loads(render_body(trigger, target("github_repository_dispatch")))
    assert body == {"event_type": "drift-monitor", "client_payload": spec_body()}
    custom = target("github_repository_dispatch", event_type="retrain-fraud")
    assert json.loads(render_body(trigger, custom))["event_type"] == "retrain-fraud"


def test_github_client_payload_fits_githubs_ten_key_limit() -> None:
    assert len(spec_body()) <= 10
    bigger = {**spec_body(), **{f"extra_{i}": i for i in range(3)}}
    nested = github_client_payload(bigger)
    assert len(nested) <= 10
    assert nested == {
        "type": "drift.detected",
        "id": bigger["id"],
        "model": "fraud",
        "body": bigger,
    }


def test_airflow_dag_run_preset() -> None:
    trigger = make_trigger()
    body = json.loads(render_body(trigger, target("airflow_dag_run")))
    assert body == {
        "dag_run_id": "drift-monitor__detected__fraud-20261126T100000Z",
        "conf": spec_body(),
    }
    resolved = make_trigger(type_="drift.resolved")
    assert airflow_dag_run_id(resolved) == "drift-monitor__resolved__fraud-20261126T100000Z"


def test_airflow_run_id_is_sanitised_stable_and_collision_free() -> None:
    a = airflow_dag_run_id(make_trigger(trigger_id="fraud/eu@2026"))
    b = airflow_dag_run_id(make_trigger(trigger_id="fraud_eu_2026"))
    c = airflow_dag_run_id(make_trigger(trigger_id="fraud@eu/2026"))
    assert a.startswith("drift-monitor__detected__fraud_eu_2026__")
    assert len({a, b, c}) == 3
    assert a == airflow_dag_run_id(make_trigger(trigger_id="fraud/eu@2026"))
    long = airflow_dag_run_id(make_trigger(trigger_id="x" * 199 + "/"))
    assert len(long) <= 250


def test_rendering_is_deterministic_whatever_the_key_order() -> None:
    body = spec_body()
    reordered = dict(reversed(list(body.items())))
    t1 = Trigger(id=body["id"], type="drift.detected", model="fraud", body=body)
    t2 = Trigger(id=body["id"], type="drift.detected", model="fraud", body=reordered)
    for preset in ("standard", "github_repository_dispatch", "airflow_dag_run"):
        assert render_body(t1, target(preset)) == render_body(t2, target(preset))


def test_trigger_body_is_frozen_and_copied() -> None:
    body = spec_body()
    trigger = Trigger(id=body["id"], type="drift.detected", model="fraud", body=body)
    body["severity"] = "changed"
    assert trigger.body["severity"] == "alert"
    with pytest.raises(TypeError):
        trigger.body["severity"] = "x"  # type: ignore[index]
    assert hash(trigger) == hash(make_trigger())


def test_message_id_distinguishes_detected_from_resolved() -> None:
    assert make_trigger().message_id == "drift.detected:fraud-20261126T100000Z"
    assert make_trigger(type_="drift.resolved").message_id.startswith("drift.resolved:")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("id", "", "visible ASCII"),
        ("id", "has space", "visible ASCII"),
        ("id", "x" * 201, "visible ASCII"),
        ("type", "drift.started", "type must be"),
    ],
)
def test_trigger_rejects_bad_identity(field: str, value: str, match: str) -> None:
    fields: dict[str, Any] = {"id": "i", "type": "drift.detected", "model": "fraud"}
    fields[field] = value
    with pytest.raises(ValueError, match=match):
        Trigger(**fields, body=spec_body(fields["id"], fields["type"], "fraud"))


def test_trigger_body_must_match_and_be_complete_json() -> None:
    with pytest.raises(ValueError, match="'model'"):
        Trigger(id="i", type="drift.detected", model="churn", body=spec_body("i"))
    incomplete = spec_body("i")
    del incomplete["drift_share"]
    with pytest.raises(ValueError, match="drift_share"):
        Trigger(id="i", type="drift.detected", model="fraud", body=incomplete)
    with pytest.raises(ValueError, match="JSON"):
        Trigger(
            id="i",
            type="drift.detected",
            model="fraud",
            body={**spec_body("i"), "drift_share": float("nan")},
        )
