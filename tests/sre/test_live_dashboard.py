"""The Grafana dashboard against the real thing: the daemon as a subprocess consuming
from the real Kafka broker, a real Prometheus scraping it, and every panel query of
deploy/grafana/drift-monitor.json (variables included) run against that Prometheus.

The stream has clean windows, then windows drifted by DEFAULT_DRIFT (a drift incident
opens after one alerting window and its webhook is delivered to a local receiver), and
invalid records (copied to the dead-letter topic). Per-feature panels are queried for
one drifted numeric and one drifted categorical feature, as a Grafana multi-select
would (``(a|b)``), so the numeric-only (KS, Wasserstein) and categorical-only
(chi-squared, unseen ratio) panels all have a series to show.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from drift_monitor.webhooks.signing import verify
from tests.deploy.dashboard import dashboard_queries
from tests.services.kafka import KafkaBroker
from tests.services.prometheus import PrometheusServer, require_binary
from tests.sre.daemon import (
    WEBHOOK_SECRET,
    WebhookReceiver,
    daemon_config,
    free_port,
    running_daemon,
    sample_sum,
    wait_for,
)
from tests.sre.streams import (
    DRIFTED_CATEGORICAL,
    DRIFTED_NUMERIC,
    MODEL,
    TRAINING_VERSION,
    aligned_past,
    encode,
    window_events,
    write_baseline,
)

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

WINDOW_S = 10.0
PER_WINDOW = 300
CLEAN_WINDOWS = 2
DRIFTED_WINDOWS = 3
FEATURES = f"({DRIFTED_NUMERIC}|{DRIFTED_CATEGORICAL})"


def invalid_records(start: float) -> list[bytes]:
    """Records the daemon must count as invalid and dead-letter: two of model ``credit``
    with a feature of the wrong type (counted under the model), two undecodable."""
    ev = window_events(start, WINDOW_S, 1, seed=5, drifted=False)[0]
    wrong_type = [
        orjson.dumps({**ev, "features": {**ev["features"], DRIFTED_NUMERIC: "lots"}}),
        orjson.dumps({**ev, "features": {**ev["features"], "age": [1, 2]}}),
    ]
    return [*wrong_type, b"not json at all", b'["an", "array"]']


def stream(start: float) -> tuple[list[bytes], int]:
    """(record values in order, number of invalid ones): clean windows, then drifted
    ones with invalid records in the first drifted window."""
    values: list[bytes] = []
    for w in range(CLEAN_WINDOWS):
        values += encode(
            window_events(start + w * WINDOW_S, WINDOW_S, PER_WINDOW, seed=20 + w, drifted=False)
        )
    invalid = invalid_records(start + CLEAN_WINDOWS * WINDOW_S)
    for w in range(CLEAN_WINDOWS, CLEAN_WINDOWS + DRIFTED_WINDOWS):
        drifted = encode(
            window_events(start + w * WINDOW_S, WINDOW_S, PER_WINDOW, seed=20 + w, drifted=True)
        )
        if w == CLEAN_WINDOWS:
            drifted = drifted[:100] + invalid + drifted[100:]
        values += drifted
    return values, len(invalid)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=300).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()


def test_every_dashboard_panel_returns_data_from_the_live_daemon(
    kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    require_binary("prometheus")
    tag = uuid.uuid4().hex[:8]
    topic, dlq = f"sre-dash-{tag}", f"sre-dash-{tag}-dlq"
    kafka_broker.create_topic(topic)
    kafka_broker.create_topic(dlq)
    values, n_invalid = stream(aligned_past(WINDOW_S))
    n_windows = CLEAN_WINDOWS + DRIFTED_WINDOWS

    with WebhookReceiver() as receiver:
        port = free_port()
        config = daemon_config(
            bootstrap=kafka_broker.bootstrap,
            topic=topic,
            group_id=f"sre-dash-{tag}",
            baselines_dir=write_baseline(tmp_path / "baselines"),
            state_dir=tmp_path / "state",
            port=port,
            window_seconds=WINDOW_S,
            idle_timeout_seconds=2,
            enter_after=1,
            dead_letter_topic=dlq,
            webhook_url=receiver.url,
        )
        # Prometheus first: it scrapes the daemon from its first second on.
        with (
            PrometheusServer(targets=[f"127.0.0.1:{port}"]) as prom,
            running_daemon(config, tmp_path / "daemon") as daemon,
        ):
            wait_for(
                lambda: daemon.probe("/readyz") == 200, 30, "/readyz", on_timeout=daemon.log_tail
            )
            kafka_broker.produce(topic, values, keys=[MODEL.encode()] * len(values))

            # Every window evaluated (the last one by the idle timeout) and the
            # incident's webhook delivered.
            wait_for(
                lambda: (
                    sample_sum(daemon.metrics(), "drift_monitor_evaluation_duration_seconds_count")
                    >= n_windows
                ),
                60,
                f"{n_windows} evaluated windows",
                on_timeout=daemon.log_tail,
            )
            wait_for(
                lambda: (
                    sample_sum(
                        daemon.metrics(),
                        "drift_monitor_webhook_deliveries_total",
                        outcome="delivered",
                    )
                    >= 1
                ),
                30,
                "a delivered webhook",
                on_timeout=daemon.log_tail,
            )
            assert [b["type"] for b in receiver.bodies] == ["drift.detected"]
            verify(WEBHOOK_SECRET, receiver.headers[0], receiver.raw[0])  # signed
            detected = receiver.bodies[0]
            assert detected["model"] == MODEL
            assert detected["baseline_version"] == TRAINING_VERSION
            names = {f["name"] for f in detected["drifted_features"]}
            assert {DRIFTED_NUMERIC, DRIFTED_CATEGORICAL} <= names

            metrics = daemon.metrics()
            accepted = len(values) - n_invalid
            assert sample_sum(metrics, "drift_monitor_events_total", outcome="accepted") == accepted
            assert (
                sample_sum(metrics, "drift_monitor_events_total", model=MODEL, outcome="invalid")
                == 2
            )
            assert sample_sum(metrics, "drift_monitor_events_total", outcome="invalid") == n_invalid

            # Every panel (and variable) query of the dashboard returns data.
            queries = dashboard_queries(
                model=MODEL, feature=FEATURES, rate_interval="10s", include_variables=True
            )
            assert len(queries) >= 25
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}

            def all_have_data() -> bool:
                for title, expr in queries:
                    if not results.get((title, expr)):
                        results[(title, expr)] = prom.query(expr)
                return all(results.values())

            try:
                wait_for(all_have_data, 30, "every dashboard query to return data", interval=0.5)
            except AssertionError:
                empty = [(t, e) for (t, e), r in results.items() if not r]
                raise AssertionError(f"dashboard queries without data: {empty}") from None

            by_title: dict[str, list[dict[str, Any]]] = {}
            for (title, _), result in results.items():
                by_title.setdefault(title, []).extend(result)

            def values_of(title: str, label: str | None = None) -> dict[str, float]:
                return {
                    (s["metric"].get(label, "") if label else ""): float(s["value"][1])
                    for s in by_title[title]
                }

            assert values_of("Model status now") == {"": 2.0}
            assert values_of("Drifted features")[""] >= 2
            assert values_of("Events in the last evaluated window")[""] == PER_WINDOW
            assert {s["metric"]["version"] for s in by_title["Baseline version"]} == {
                TRAINING_VERSION
            }
            psi = values_of("PSI", "feature")
            assert set(psi) == {DRIFTED_NUMERIC, DRIFTED_CATEGORICAL}
            assert min(psi.values()) > 0.1  # at least SPEC's PSI warning threshold
            assert values_of("Feature status", "feature") == {
                DRIFTED_NUMERIC: 2.0,
                DRIFTED_CATEGORICAL: 2.0,
            }
            assert set(values_of("KS statistic", "feature")) == {DRIFTED_NUMERIC}
            assert set(values_of("Chi-squared statistic", "feature")) == {DRIFTED_CATEGORICAL}
            assert values_of("Unseen category ratio", "feature")[DRIFTED_CATEGORICAL] > 0.02
            assert set(values_of("Consumer lag", "topic")) == {topic}
            assert values_of("Webhook outbox pending") == {"": 0.0}
            connected = [float(s["value"][1]) for s in by_title["Kafka connected / scrape up"]]
            assert connected == [1.0, 1.0]

    # Invalid records were copied to the dead-letter topic with their reason.
    dead = read_all(kafka_broker.bootstrap, dlq, n_invalid)
    assert len(dead) == n_invalid
    reasons = sorted(dict(r.headers)["drift-monitor-reason"].decode() for r in dead)
    assert reasons == ["bad_json", "not_object", "wrong_type", "wrong_type"]
