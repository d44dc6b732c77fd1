"""The Grafana dashboard against the real thing: the daemon as a subprocess consuming
from the real Kafka broker, a real Prometheus scraping it, and every panel query of
deploy/grafana/drift-monitor.json (variables included) run against that Prometheus.

The stream has clean windows, then windows drifted by DEFAULT_DRIFT (a drift incident
opens after one alerting window and its webhook is delivered to a local receiver), and
invalid records (copied to the dead-letter topic). Per-feature panels are queried for
one drifted numeric and one drifted categorical feature, as a Grafana multi-select
would (``(a|b)``), so the numeric-only (KS, Wasserstein) and categorical-only
(chi-squared, unseen ratio) panels all have a series to show. The model has labels
(issue 15): label-only events for the first two windows' predictions follow the stream,
so a prediction window becomes final and the "Model quality" row has data.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.demo.dataset import DEFAULT_DRIFT, LABEL, SCORE, training_frame
from drift_monitor.demo.receiver import WebhookReceiver
from drift_monitor.webhooks.signing import verify
from tests.deploy.dashboard import dashboard_queries
from tests.services.daemon import DaemonConfig, DaemonProcess, running_daemon, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.prometheus import PrometheusServer, require_binary
from tests.services.streams import (
    DRIFTED_CATEGORICAL,
    DRIFTED_NUMERIC,
    MODEL,
    TRAINING_SOURCE,
    TRAINING_VERSION,
    encode,
    iso,
    read_topic,
    window_events,
    window_start,
)
from tests.services.webhooks import loopback_webhooks

pytestmark = [pytest.mark.kafka, pytest.mark.prometheus]

WINDOW_S = 10.0
PER_WINDOW = 300
CLEAN_WINDOWS = 2
#: The first windows whose predictions get their label (one window later).
LABELLED_WINDOWS = 2
DRIFTED_WINDOWS = 3
#: The segment column of the baseline and the model (the demo model's channel).
SEGMENT_BY = "channel"
FEATURES = f"({DRIFTED_NUMERIC}|{DRIFTED_CATEGORICAL})"
WEBHOOK_SECRET = "whsec_c3JlLXRlc3Qtd2ViaG9vay1zZWNyZXQtMDEyMzQ1"
SECRET_ENV = "SRE_TEST_WEBHOOK_SECRET"


def invalid_records(start: float) -> list[bytes]:
    """Records the daemon must count as invalid and dead-letter: two of model ``credit``
    with a feature of the wrong type (counted under the model), two undecodable."""
    ev = window_events(MODEL, start, WINDOW_S, 1, seed=5)[0]
    wrong_type = [
        orjson.dumps({**ev, "features": {**ev["features"], DRIFTED_NUMERIC: "lots"}}),
        orjson.dumps({**ev, "features": {**ev["features"], "age": [1, 2]}}),
    ]
    return [*wrong_type, b"not json at all", b'["an", "array"]']


def write_labelled_baseline(directory: Path) -> Path:
    """The training baseline of ``credit`` with its validation performance (labels)."""
    directory.mkdir(parents=True, exist_ok=True)
    baseline = build_baseline(
        training_frame(20_000, seed=7, with_label=True),
        MODEL,
        prediction=[SCORE],
        label=LABEL,
        # per-segment drift (issue 16): the "Segment status" panel has series too
        segment_by=SEGMENT_BY,
        segment_top_k=2,
        version=TRAINING_VERSION,
        source=TRAINING_SOURCE,
    )
    path = directory / f"{MODEL}.dmb"
    save_baseline(baseline, path)
    return path


def stream(start: float) -> tuple[list[bytes], int, int]:
    """(record values in order, number of invalid ones, number of label events): clean
    windows, then drifted ones with invalid records in the first drifted window, then a
    label-only event for every prediction of the first windows, a window after it."""
    values: list[bytes] = []
    labelled: list[dict[str, Any]] = []
    for w in range(CLEAN_WINDOWS):
        evs = window_events(MODEL, start + w * WINDOW_S, WINDOW_S, PER_WINDOW, seed=20 + w)
        values += encode(evs)
        if w < LABELLED_WINDOWS:
            labelled += evs
    invalid = invalid_records(start + CLEAN_WINDOWS * WINDOW_S)
    for w in range(CLEAN_WINDOWS, CLEAN_WINDOWS + DRIFTED_WINDOWS):
        drifted = encode(
            window_events(
                MODEL, start + w * WINDOW_S, WINDOW_S, PER_WINDOW, seed=20 + w, drift=DEFAULT_DRIFT
            )
        )
        if w == CLEAN_WINDOWS:
            drifted = drifted[:100] + invalid + drifted[100:]
        values += drifted
    rng = np.random.default_rng(9)
    t0 = start
    labels = []
    for i, ev in enumerate(labelled):
        # Evenly spread, as the predictions are: event i of its window, one window later.
        ts = t0 + WINDOW_S * (1 + i // PER_WINDOW) + (i % PER_WINDOW + 0.5) * WINDOW_S / PER_WINDOW
        y = int(rng.random() < float(ev["prediction"]))
        labels.append(
            {"model": MODEL, "event_id": ev["event_id"], "label": y, "timestamp": iso(ts)}
        )
    return values + encode(labels), len(invalid), len(labels)


def test_every_dashboard_panel_returns_data_from_the_live_daemon(
    kafka_broker: KafkaBroker, tmp_path: Path, kafka_client: str
) -> None:
    require_binary("prometheus")
    tag = uuid.uuid4().hex[:8]
    topic, dlq = f"sre-dash-{tag}", f"sre-dash-{tag}-dlq"
    kafka_broker.create_topic(topic)
    kafka_broker.create_topic(dlq)
    values, n_invalid, n_labels = stream(window_start(2.0, WINDOW_S))
    n_windows = CLEAN_WINDOWS + DRIFTED_WINDOWS

    with WebhookReceiver(WEBHOOK_SECRET) as receiver:
        config = DaemonConfig(
            bootstrap=kafka_broker.bootstrap,
            topics=[topic],
            group_id=f"sre-dash-{tag}",
            models=[MODEL],
            baselines_dir=write_labelled_baseline(tmp_path / "baselines").parent,
            state_dir=tmp_path / "state",
            window_seconds=WINDOW_S,
            allowed_lateness_seconds=0,
            idle_timeout_seconds=2,
            dead_letter_topic=dlq,
            kafka_client=kafka_client,  # tests/services/backends.py
            overrides={
                "defaults": {"episodes": {"enter_after": 1, "resolve_after": 3}},
                # Label-only events on the prediction topic; every label arrives, so the
                # labelled windows become final on coverage.
                "models": [
                    {
                        "name": MODEL,
                        "labels": {"topic": None, "min_labels": 100},
                        "detection": {"segment_by": SEGMENT_BY},
                    },
                ],
                "webhooks": loopback_webhooks(
                    receiver.url,
                    SECRET_ENV,
                    timeout_seconds=5,
                    initial_backoff_seconds=None,
                    max_backoff_seconds=None,
                ),
            },
        )
        daemon = DaemonProcess(
            "daemon", config, tmp_path / "daemon", env={SECRET_ENV: WEBHOOK_SECRET}
        )
        # Prometheus first: it scrapes the daemon from its first second on.
        with (
            PrometheusServer(targets=[f"127.0.0.1:{config.port}"]) as prom,
            running_daemon(daemon),
        ):
            wait_for(
                lambda: daemon.probe("/readyz") == 200, 30, "/readyz", on_timeout=daemon.log_tail
            )
            kafka_broker.produce(topic, values, keys=[MODEL.encode()] * len(values))

            # Every window evaluated (the last one by the idle timeout) and the
            # incident's webhook delivered.
            wait_for(
                lambda: (
                    daemon.metrics().total("drift_monitor_evaluation_duration_seconds_count")
                    >= n_windows
                ),
                60,
                f"{n_windows} evaluated windows",
                on_timeout=daemon.log_tail,
            )
            wait_for(
                lambda: (
                    daemon.metrics().total(
                        "drift_monitor_webhook_deliveries_total", outcome="delivered"
                    )
                    >= 1
                ),
                30,
                "a delivered webhook",
                on_timeout=daemon.log_tail,
            )
            hits = receiver.snapshot()
            assert [h.body["type"] for h in hits] == ["drift.detected"]
            verify(WEBHOOK_SECRET, hits[0].headers, hits[0].raw)  # signed
            detected = hits[0].body
            assert detected["model"] == MODEL
            assert detected["baseline_version"] == TRAINING_VERSION
            names = {f["name"] for f in detected["drifted_features"]}
            assert {DRIFTED_NUMERIC, DRIFTED_CATEGORICAL} <= names

            metrics = daemon.metrics()
            accepted = len(values) - n_invalid - n_labels
            assert metrics.total("drift_monitor_events_total", outcome="accepted") == accepted
            assert metrics.total("drift_monitor_events_total", model=MODEL, outcome="invalid") == 2
            assert metrics.total("drift_monitor_events_total", outcome="invalid") == n_invalid

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
            # Model quality: the labelled clean windows are final and ok, fully covered
            # (coverage and the sample rate both 1), every label joined once.
            assert values_of("Performance status over time") == {"": 0.0}
            assert [float(x["value"][1]) for x in by_title["Label coverage"]] == [1.0, 1.0]
            perf = by_title["Performance vs baseline"]
            names = {x["metric"]["metric"] for x in perf}
            assert "roc_auc" in names and len(perf) == 2 * len(names)  # window + baseline
            assert daemon.metrics().total("drift_monitor_labels_joined_total") == n_labels

    # Invalid records were copied to the dead-letter topic with their reason.
    dead = read_topic(kafka_broker.bootstrap, dlq, n_invalid)
    assert len(dead) == n_invalid
    reasons = sorted(dict(r.headers)["drift-monitor-reason"].decode() for r in dead)
    assert reasons == ["bad_json", "not_object", "wrong_type", "wrong_type"]
