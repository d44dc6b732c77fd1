"""Model quality's operations files against the metrics the daemon really exports: every
series the quality alerts and the "Model quality" dashboard row read is rendered by
:func:`drift_monitor.labels.metrics.quality_families`, and the row shows what on-call
needs (verdict, metric against baseline, coverage, delay, join counters)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from drift_monitor.labels.metrics import DelayHistogram, ModelQuality, QualityCollector
from drift_monitor.labels.store import JoinCounters
from tests.deploy.dashboard import load_dashboard, metric_names
from tests.deploy.test_alert_rules import load_alert_rules

QUALITY_ALERTS = {
    "DriftMonitorModelPerformanceDegraded",
    "DriftMonitorLabelsStopped",
    "DriftMonitorLabelCoverageLow",
    "DriftMonitorLabelsOrphanedHigh",
    "DriftMonitorLabelStoreEvicting",
}
#: Not quality series, but joined by the quality rules (routing, traffic).
OTHER = {"drift_monitor_model_info", "drift_monitor_events_total"}


def _exported() -> set[str]:
    """Sample names of one model's quality families, as /metrics shows them."""
    h = DelayHistogram()
    h.observe([30.0, 4000.0])
    q = ModelQuality({"roc_auc": 0.8}, {"roc_auc": 0.85}, 0.5, h, JoinCounters(), 1.0, "ok")
    registry = CollectorRegistry()
    registry.register(QualityCollector(lambda: {"m": q}))
    text = generate_latest(registry).decode()
    return {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}


def _quality_row(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = dashboard["panels"]
    start = next(i for i, p in enumerate(panels) if p["title"] == "Model quality")
    end = next(i for i, p in enumerate(panels) if i > start and p["type"] == "row")
    return panels[start + 1 : end]


def test_quality_alerts_read_only_exported_series() -> None:
    rules = {r["alert"]: r for r in load_alert_rules()}
    assert set(rules) >= QUALITY_ALERTS
    exported = _exported()
    for name in QUALITY_ALERTS:
        used = metric_names(rules[name]["expr"]) - OTHER
        assert used and used <= exported, (name, used - exported)


def test_the_degraded_alert_rides_on_the_daemons_verdict() -> None:
    (rule,) = [
        r for r in load_alert_rules() if r["alert"] == "DriftMonitorModelPerformanceDegraded"
    ]
    assert "drift_monitor_model_performance_status" in rule["expr"] and "== 1" in rule["expr"]


def test_the_quality_row_reads_exported_series_and_links_every_quality_alert() -> None:
    dashboard = load_dashboard()
    row = _quality_row(dashboard)
    exported = _exported()
    used: set[str] = set()
    linked: set[str] = set()
    for panel in row:
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names <= exported, (panel["title"], names - exported)
            assert 'model=~"$model"' in target["expr"], panel["title"]
            used |= names
        linked |= {link["url"].partition("#")[2] for link in panel.get("links", [])}
    assert {
        "drift_monitor_model_performance_status",
        "drift_monitor_model_performance",
        "drift_monitor_model_performance_baseline",
        "drift_monitor_label_coverage_ratio",
        "drift_monitor_label_delay_seconds_bucket",
        "drift_monitor_labels_joined_total",
        "drift_monitor_labels_expired_total",
        "drift_monitor_labels_orphaned_total",
        "drift_monitor_labels_evicted_total",
    } <= used
    assert linked == {a.lower() for a in QUALITY_ALERTS}
    # The baseline is drawn dashed beside the window's metric, on the same panel.
    (perf,) = [p for p in row if p["title"] == "Performance vs baseline"]
    refs = {t["refId"]: t["expr"] for t in perf["targets"]}
    assert "model_performance_baseline" in refs["B"] and "model_performance{" in refs["A"]
    (override,) = perf["fieldConfig"]["overrides"]
    assert override["matcher"] == {"id": "byFrameRefID", "options": "B"}
    assert {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}} in override[
        "properties"
    ]
