"""``models[].labels`` config and the model-quality Prometheus families."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import ValidationError

from drift_monitor.config.models import ModelSettings
from drift_monitor.labels.config import LabelSettings, field_value
from drift_monitor.labels.metrics import DelayHistogram, ModelQuality, QualityCollector
from drift_monitor.labels.store import JoinCounters


def test_labels_section_defaults_and_decision_settings() -> None:
    m = ModelSettings.model_validate({"name": "fraud", "labels": {"topic": "fraud-labels"}})
    assert m.labels is not None
    s = m.labels
    assert (s.topic, s.max_delay_seconds, s.sample_rate) == ("fraud-labels", 7 * 86_400.0, 1.0)
    d = LabelSettings(minimums={"roc_auc": 0.05}, min_labels=500).degradation()
    assert d.minimums["roc_auc"] == 0.05 and d.minimums["accuracy"] == 0.03
    assert d.min_labels == 500
    assert ModelSettings.model_validate({"name": "x"}).labels is None


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"metrics": ["auc"]}, "unknown metric 'auc'"),
        ({"minimums": {"roc_auc": -1}}, "minimums.roc_auc"),
        ({"max_delay": 5}, "max_delay"),  # misspelled: extra fields are errors
        ({"level": 0.9}, "level"),
    ],
)
def test_bad_labels_section(section: dict[str, object], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        ModelSettings.model_validate({"name": "m", "labels": section})


def test_field_value_reads_flat_and_nested() -> None:
    event = {"event_id": "a", "outcome": {"value": 1}, "x.y": 2}
    assert field_value(event, "event_id") == "a"
    assert field_value(event, "outcome.value") == 1
    assert field_value(event, "x.y") == 2
    assert field_value(event, "outcome.missing") is None


def test_quality_families_render() -> None:
    delays = DelayHistogram()
    delays.observe([30.0, 600.0, 7200.0, 10 * 86_400.0, float("nan")])
    counters = JoinCounters(joined=7, expired=2, orphaned=1, evicted=3)
    q = ModelQuality(
        performance={"roc_auc": 0.81, "log_loss": float("nan")},
        baseline={"roc_auc": 0.85},
        coverage=0.4,
        delays=delays,
        counters=counters,
        sample_rate=0.1,
        status="degraded",
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QualityCollector(lambda: {"fraud": q}))
    get = registry.get_sample_value
    assert get("drift_monitor_model_performance", {"model": "fraud", "metric": "roc_auc"}) == 0.81
    assert get("drift_monitor_model_performance", {"model": "fraud", "metric": "log_loss"}) is None
    assert (
        get("drift_monitor_model_performance_baseline", {"model": "fraud", "metric": "roc_auc"})
        == 0.85
    )
    assert get("drift_monitor_label_coverage_ratio", {"model": "fraud"}) == 0.4
    assert get("drift_monitor_label_sample_rate", {"model": "fraud"}) == 0.1
    assert get("drift_monitor_model_performance_status", {"model": "fraud"}) == 1
    assert get("drift_monitor_labels_joined_total", {"model": "fraud"}) == 7
    assert get("drift_monitor_labels_expired_total", {"model": "fraud"}) == 2
    assert get("drift_monitor_labels_orphaned_total", {"model": "fraud"}) == 1
    assert get("drift_monitor_labels_evicted_total", {"model": "fraud"}) == 3
    assert get("drift_monitor_label_delay_seconds_count", {"model": "fraud"}) == 4
    assert get("drift_monitor_label_delay_seconds_bucket", {"model": "fraud", "le": "60.0"}) == 1
    assert get("drift_monitor_label_delay_seconds_bucket", {"model": "fraud", "le": "3600.0"}) == 2
    assert get("drift_monitor_label_delay_seconds_bucket", {"model": "fraud", "le": "+Inf"}) == 4
    assert get("drift_monitor_label_delay_seconds_sum", {"model": "fraud"}) == pytest.approx(
        30 + 600 + 7200 + 864_000
    )
    assert b"drift_monitor_label_delay_seconds_bucket" in generate_latest(registry)
