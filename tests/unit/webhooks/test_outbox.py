from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.errors import WebhookError
from drift_monitor.webhooks import DeliveryKey, Outbox, WebhookTarget
from drift_monitor.webhooks.payload import render_body
from tests.unit.webhooks.factories import START, make_trigger


def target(name: str, **extra: Any) -> WebhookTarget:
    return WebhookTarget.model_validate(
        {"name": name, "url": f"https://example.com/{name}", "secret": {"env": "S"}, **extra}
    )


A, B = target("a"), target("b", preset="airflow_dag_run")


def test_enqueue_writes_one_row_per_target_with_the_rendered_body(outbox_path: Path) -> None:
    trigger = make_trigger()
    with Outbox(outbox_path) as outbox:
        assert outbox.enqueue(trigger, [A, B], START) == 2
        rows = outbox.pending()
    assert [r.key for r in rows] == [
        DeliveryKey(trigger.id, "drift.detected", "a"),
        DeliveryKey(trigger.id, "drift.detected", "b"),
    ]
    assert rows[0].body == render_body(trigger, A) and rows[1].body == render_body(trigger, B)
    assert all(r.attempts == 0 and r.first_enqueued_at == START == r.next_attempt_at for r in rows)
    assert rows[0].message_id == trigger.message_id and rows[0].model == "fraud"


def test_file_is_wal_with_synchronous_full(outbox_path: Path) -> None:
    with Outbox(outbox_path) as outbox:
        assert outbox._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert Outbox.in_state_dir(outbox_path.parent).path == outbox_path


def test_enqueue_is_idempotent_per_trigger_type_and_target(outbox_path: Path) -> None:
    with Outbox(outbox_path) as outbox:
        assert outbox.enqueue(make_trigger(), [A], START) == 1
        assert outbox.enqueue(make_trigger(), [A], START + 5) == 0
        assert outbox.enqueue(make_trigger(), [A, B], START + 5) == 1
        # The same incident resolving is a different delivery.
        assert outbox.enqueue(make_trigger(type_="drift.resolved"), [A], START + 6) == 1
        assert outbox.pending_count() == 3
        assert outbox.pending()[0].first_enqueued_at == START


def test_a_finished_delivery_is_not_enqueued_again(outbox_path: Path) -> None:
    trigger = make_trigger()
    with Outbox(outbox_path) as outbox:
        outbox.enqueue(trigger, [A, B], START)
        key_a, key_b = (r.key for r in outbox.pending())
        outbox.mark_delivered(key_a, START + 1)
        outbox.mark_dead(key_b, START + 1, "HTTP 400")
        assert outbox.enqueue(trigger, [A, B], START + 2) == 0
        assert outbox.pending_count() == 0


def test_targets_that_do_not_serve_the_model_are_skipped(outbox_path: Path) -> None:
    churn_only = target("churn", models=["churn"])
    with Outbox(outbox_path) as outbox:
        assert outbox.enqueue(make_trigger(), [A, churn_only], START) == 1
        assert outbox.enqueue(make_trigger(), [churn_only], START) == 0


def test_mark_retry_counts_attempts_and_reschedules(outbox_path: Path) -> None:
    with Outbox(outbox_path) as outbox:
        outbox.enqueue(make_trigger(), [A], START)
        [row] = outbox.due(START, 10)
        assert outbox.mark_retry(row.key, START + 30, "HTTP 503 Service Unavailable")
        assert outbox.due(START + 29.9, 10) == []
        [again] = outbox.due(START + 30, 10)
        assert again.attempts == 1 and again.last_error == "HTTP 503 Service Unavailable"
        outbox.mark_retry(row.key, START + 40, "x" * 10_000)
        assert len(outbox.pending()[0].last_error or "") == 500


def test_finishing_moves_rows_to_a_capped_history(outbox_path: Path) -> None:
    with Outbox(outbox_path, history_size=3) as outbox:
        for i in range(5):
            outbox.enqueue(make_trigger(trigger_id=f"inc-{i}"), [A], START + i)
        for i, row in enumerate(outbox.pending()):
            outbox.mark_retry(row.key, START, "boom")
            if i % 2:
                outbox.mark_dead(row.key, START + 10 + i, "HTTP 404 Not Found")
            else:
                outbox.mark_delivered(row.key, START + 10 + i)
        assert outbox.pending_count() == 0
        history = outbox.history()
    assert [h.key.trigger_id for h in history] == ["inc-4", "inc-3", "inc-2"]
    assert [h.outcome for h in history] == ["delivered", "dead", "delivered"]
    assert history[1].last_error == "HTTP 404 Not Found" and history[0].last_error is None
    assert all(h.attempts == 2 for h in history)


def test_marking_an_unknown_key_is_a_no_op(outbox_path: Path) -> None:
    key = DeliveryKey("nope", "drift.detected", "a")
    with Outbox(outbox_path) as outbox:
        assert not outbox.mark_delivered(key, START)
        assert not outbox.mark_dead(key, START, "x")
        assert not outbox.mark_retry(key, START, "x")


def test_due_keeps_enqueue_order_per_model_and_target(outbox_path: Path) -> None:
    detected = make_trigger()
    resolved = make_trigger(type_="drift.resolved")
    other_model = make_trigger(trigger_id="churn-1", model="churn")
    with Outbox(outbox_path) as outbox:
        outbox.enqueue(detected, [A, B], START)
        outbox.enqueue(resolved, [A], START + 1)
        outbox.enqueue(other_model, [A], START + 2)
        due = outbox.due(START + 10, 10)
        # resolved waits behind detected for target a; churn is independent.
        assert [(r.key.trigger_id, r.key.type, r.key.target) for r in due] == [
            (detected.id, "drift.detected", "a"),
            (detected.id, "drift.detected", "b"),
            ("churn-1", "drift.detected", "a"),
        ]
        outbox.mark_retry(due[0].key, START + 100, "HTTP 503")
        assert resolved.type not in {r.key.type for r in outbox.due(START + 50, 10)}
        outbox.mark_delivered(due[0].key, START + 100)
        assert "drift.resolved" in {r.key.type for r in outbox.due(START + 100, 10)}
        assert outbox.due(START, 0) == []
        assert len(outbox.due(START + 100, 1)) == 1


def test_reopening_the_file_returns_pending_rows(outbox_path: Path) -> None:
    first = Outbox(outbox_path)
    first.enqueue(make_trigger(), [A, B], START)
    first.mark_retry(first.pending()[0].key, START + 7, "HTTP 500")
    # No close(): the next process just opens the file.
    second = Outbox(outbox_path)
    rows = second.pending()
    assert second.pending_count() == 2
    assert rows[0].attempts == 1 and rows[0].next_attempt_at == START + 7
    first.close()
    second.close()


def test_a_file_that_is_not_an_outbox_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WebhookError, match=r"garbage\.sqlite3.*move it aside"):
        Outbox(path)


def test_a_newer_schema_is_refused(outbox_path: Path) -> None:
    Outbox(outbox_path).close()
    db = sqlite3.connect(outbox_path)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    with pytest.raises(WebhookError, match="newer"):
        Outbox(outbox_path)
