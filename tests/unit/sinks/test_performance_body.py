"""The webhook body of a performance incident: the SPEC fields plus ``performance``."""

from __future__ import annotations

import math

from drift_monitor.evaluation.episodes import Transition
from drift_monitor.labels.decision import MetricVerdict, PerformanceStatus, PerformanceVerdict
from drift_monitor.labels.tracker import WindowPerformance
from drift_monitor.sinks.incidents import performance_body
from drift_monitor.stats.performance import Performance
from drift_monitor.webhooks.payload import BODY_FIELDS, Trigger, airflow_dag_run_id

END = 1_795_000_080.0


def _window() -> WindowPerformance:
    auc = MetricVerdict("roc_auc", 0.71, 0.88, 0.17, 0.021, 0.03, True, True)
    brier = MetricVerdict("brier", 0.30, 0.20, 0.10, 0.01, 0.02, False, False)
    verdict = PerformanceVerdict(PerformanceStatus.DEGRADED, 380, (auc, brier))
    perf = Performance("binary", 380, {"roc_auc": 0.71, "brier": 0.30})
    return WindowPerformance("m", 123, END, 400, 380, perf, verdict, 150.0, 179.5, True)


def test_body_has_the_spec_fields_and_the_verdict() -> None:
    t = Transition("performance.degraded", "performance-m-x", "m", None)
    body = performance_body(t, _window(), END - 60, "v1", END + 5)
    assert list(BODY_FIELDS) == [k for k in body if k in BODY_FIELDS]
    assert body["severity"] == "alert"
    assert body["window"] == {
        "start": "2026-11-18T11:07:00.000Z",
        "end": "2026-11-18T11:08:00.000Z",
        "events": 400,
    }
    (entry,) = body["drifted_features"]
    assert entry["name"] == "roc_auc" and entry["kind"] == "performance"
    assert math.isclose(entry["threshold"], 0.88 - 0.03)  # baseline - max(tol, minimum)
    assert body["drift_share"] == 1.0
    assert body["performance"]["labels"] == 380
    assert [m["metric"] for m in body["performance"]["metrics"]] == ["roc_auc", "brier"]
    trigger = Trigger("performance-m-x", "performance.degraded", "m", body)
    assert trigger.message_id == "performance.degraded:performance-m-x"
    assert airflow_dag_run_id(trigger) == "drift-monitor__performance_degraded__performance-m-x"


def test_a_loss_threshold_is_above_the_baseline() -> None:
    brier = MetricVerdict("brier", 0.30, 0.20, 0.10, 0.01, 0.02, True, True)
    verdict = PerformanceVerdict(PerformanceStatus.DEGRADED, 380, (brier,))
    w = _window()
    w = WindowPerformance("m", 1, END, 400, 380, w.performance, verdict, 1.0, 2.0, True)
    t = Transition("performance.degraded", "performance-m-x", "m", None)
    (entry,) = performance_body(t, w, END - 60, "v1", END)["drifted_features"]
    assert math.isclose(entry["threshold"], 0.22)  # baseline + max(tol, minimum)
