"""The optional drift-report topic: every incident's webhook body and every evaluated
window's record, keyed by model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from drift_monitor.clock import ManualClock
from drift_monitor.config import AppConfig
from drift_monitor.config.models import KafkaSettings
from drift_monitor.daemon import Monitor
from drift_monitor.source.kafka import KafkaReports
from drift_monitor.source.memory import MemoryReports, MemorySource
from tests.service.daemon.support import T0, run, stream
from tests.services.kafka import KafkaBroker


def test_incidents_are_published_to_the_report_sink(setup: tuple[AppConfig, Path]) -> None:
    cfg, _ = setup
    src, reports = MemorySource(), MemoryReports()
    for v in stream(6000, drift_from=2400):
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(T0 + 3600), reports=reports, serve_http=False)
    run(mon)
    incidents = [
        (k, json.loads(b))
        for k, b in reports.messages
        if json.loads(b)["type"] != "window.evaluated"
    ]
    assert len(incidents) == 1
    key, doc = incidents[0]
    assert key == "m"
    assert doc["type"] == "drift.detected" and doc["model"] == "m"
    assert [f["name"] for f in doc["drifted_features"]] == ["x", "x"]  # psi and ks
    assert {f["test"] for f in doc["drifted_features"]} == {"psi", "ks"}


@pytest.mark.kafka
def test_kafka_reports_reach_the_topic(kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    topic = "drift-reports-test"
    kafka_broker.create_topic(topic, 1)
    sink = KafkaReports(
        KafkaSettings(bootstrap_servers=[kafka_broker.bootstrap], topics=["unused"]), topic
    )
    sink.publish("fraud", b'{"type":"drift.detected","id":"x"}')
    sink.flush()
    sink.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=15000,
    )
    got = [(m.key, m.value) for m in consumer]
    consumer.close()
    assert got == [(b"fraud", b'{"type":"drift.detected","id":"x"}')]
