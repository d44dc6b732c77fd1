"""Bad label events are counted, dead-lettered and never fatal; a missing labels topic
shows like a missing sink topic; models without labels do no label work."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor, subscribed
from drift_monitor.pipeline.labels import STORE_FILENAME
from drift_monitor.source.memory import MemoryDeadLetters, MemoryReports, MemorySource
from tests.service.labels.support import LabelDaemon, label_config
from tests.services.labels import T0, labelled_stream

TS = T0 + 100  # a valid label time


def _ev(**fields: object) -> bytes:
    return orjson.dumps(fields)


BAD = {
    b"{not json": "label_bad_json",
    b"[1, 2]": "label_not_object",
    _ev(model="m", label=1, timestamp=TS): "label_missing_event_id",
    _ev(model="m", event_id="x1", timestamp=TS): "label_missing_label",
    _ev(model="m", event_id="x2", label="maybe", timestamp=TS): "label_bad_label",
    _ev(model="other", event_id="x3", label=1, timestamp=TS): "label_unknown_model",
    _ev(model="m", event_id="x5", label=1): "label_bad_timestamp",  # no time at all
    _ev(model="m", event_id="x6", label=1, timestamp=4.1e9): "label_future_timestamp",
    _ev(model="m", event_id="x4", label=1, timestamp=True): "label_bad_timestamp",
}


def test_bad_label_events_are_counted_and_routed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = LabelDaemon(tmp_path, monkeypatch)
    dead = MemoryDeadLetters()
    d.drop()
    d.monitor = Monitor(
        d.config,
        d.source,
        clock=d.clock,
        transport=d.transport,
        dead_letters=dead,
        serve_http=False,
    )
    stream = labelled_stream(3, 100, tail_windows=0)
    d.feed_in_order(stream.items[:100])
    d.feed("labels", list(BAD))
    good = {"model": "m", "event_id": "p0-1", "label": 1, "timestamp": T0 + 100}
    d.feed("labels", [orjson.dumps(good)])
    d.drain()
    reasons = d.monitor.state.invalid_reasons
    want: dict[str, int] = {}
    for reason in BAD.values():
        want[reason] = want.get(reason, 0) + 1
    assert {r: n for r, n in reasons.items() if r.startswith("label_")} == want
    assert sorted(r for _, r, _ in dead.records) == sorted(BAD.values())
    assert d.monitor.state.events[("m", "invalid")] >= 5
    assert d.monitor.loop.checkpointer.committed[("labels", 0)].offset == len(BAD) + 1 + sum(
        1 for i in stream.items[:100] if i.topic == "labels"
    )


def test_nested_label_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {"event_id": "meta.id", "label": "outcome.value", "timestamp": "outcome.at"}
    d = LabelDaemon(tmp_path, monkeypatch, {"fields": fields})
    pred = {
        "model": "m",
        "event_id": "e1",
        "timestamp": T0 + 1,
        "features": {"x": 0.1},
        "prediction": 0.9,
    }
    label = {"meta": {"id": "e1"}, "outcome": {"value": 1, "at": T0 + 90}}
    d.feed("predictions", [orjson.dumps(pred)])
    d.feed("labels", [orjson.dumps(label)])
    d.drain()
    status = d.status()
    assert status["counters"]["joined"] == 1
    assert status["windows"][0]["delay_max_seconds"] == pytest.approx(89.0)


def test_a_missing_labels_topic_makes_the_daemon_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = LabelDaemon(tmp_path, monkeypatch)
    d.feed("predictions", labelled_stream(1, 10, tail_windows=0).values("predictions"))
    d.rounds(3)
    d.monitor.refresh_health()
    ready, reason = d.monitor.state.ready()
    assert not ready
    assert "labels topic(s) labels missing" in reason
    assert "labels_topic:labels" in d.monitor.state.warnings
    d.feed("labels", [_ev(model="m", event_id="p0-1", label=1, timestamp=TS)])
    d.rounds(3)
    d.monitor.refresh_health()
    assert d.monitor.state.sinks.get("labels_topic") is None


def test_the_labels_topic_is_subscribed_and_no_join_without_labels(tmp_path: Path) -> None:
    doc = label_config(tmp_path)
    cfg = validate_config(doc, "t")
    assert subscribed(cfg).topics == ["predictions", "labels"]
    del doc["models"][0]["labels"]
    del doc["webhooks"]
    plain = validate_config(doc, "t")
    assert subscribed(plain).topics == ["predictions"]
    mon = Monitor(plain, MemorySource(), clock=ManualClock(T0 + 86400), serve_http=False)
    assert mon.labels is None and mon.pipeline.labels is None
    assert not (tmp_path / "state" / STORE_FILENAME).exists()
    mon.shutdown()


def test_a_performance_incident_is_published_to_the_report_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = LabelDaemon(tmp_path, monkeypatch)
    reports = MemoryReports()
    d.drop()
    d.monitor = Monitor(
        d.config,
        d.source,
        clock=d.clock,
        transport=d.transport,
        reports=reports,
        serve_http=False,
    )
    stream = labelled_stream(6, 300, degraded=(3, 4, 5), tail_windows=8, seed=8)
    d.feed_in_order(stream.items)
    d.drain()
    bodies = [orjson.loads(b) for _, b in reports.acked]
    perf = [b for b in bodies if str(b.get("type", "")).startswith("performance.")]
    assert [b["type"] for b in perf] == ["performance.degraded", "performance.recovered"]
    d.webhooks()  # the outbox sends one message per (model, target) at a time
    sent = [b for b in d.webhooks() if b["type"].startswith("performance.")]
    assert sent == perf  # the same bodies as the webhooks
