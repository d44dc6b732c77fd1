"""Issue 16 parts 2, 3 and 6 on the unit level: model_info from config, the process /
platform / GC collectors on the injected registry, /metrics content negotiation and gzip,
consumer_lag's unit, window.offset_seconds validation, kafka-python log noise."""

from __future__ import annotations

import gzip
import logging
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from drift_monitor.config import validate_config
from drift_monitor.errors import ConfigError
from drift_monitor.http.server import MonitorHttpServer
from drift_monitor.logs import _KafkaNoise
from drift_monitor.sinks.cgroup import CgroupMemoryCollector, memory_limit_bytes
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.status.state import MonitorState

BASE = {"kafka": {"bootstrap_servers": ["k:9092"], "topics": ["t"]}}


def _state() -> MonitorState:
    return MonitorState(["fraud", "churn"], {"fraud": 60.0, "churn": 60.0})


def _registry() -> CollectorRegistry:
    return build_registry(_state(), None, {"fraud": ("ana", "risk", "1")})


# ------------------------------------------------------------------ config


def test_model_routing_labels_and_window_offset_from_config() -> None:
    cfg = validate_config(
        {
            **BASE,
            "models": [
                {
                    "name": "fraud",
                    "owner": "ana",
                    "team": "risk",
                    "tier": "1",
                    "window": {"size_seconds": 86400, "offset_seconds": 7200},
                },
                {"name": "churn"},
            ],
        }
    )
    fraud, churn = cfg.models
    assert (fraud.owner, fraud.team, fraud.tier) == ("ana", "risk", "1")
    assert (churn.owner, churn.team, churn.tier) == ("", "", "")
    assert fraud.window.offset_seconds == 7200
    assert churn.window.offset_seconds == 0


def test_a_numeric_tier_in_yaml_is_taken_as_text() -> None:
    cfg = validate_config({**BASE, "models": [{"name": "m", "tier": 1}]})
    assert cfg.models[0].tier == "1"
    with pytest.raises(ConfigError, match=r"models\.0\.tier"):
        validate_config({**BASE, "models": [{"name": "m", "tier": True}]})


def test_negative_window_offset_is_a_one_line_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match=r"offset_seconds"):
        validate_config({**BASE, "models": [{"name": "m", "window": {"offset_seconds": -1}}]})


# ------------------------------------------------------------------ registry


def test_model_info_carries_routing_labels_for_every_configured_model() -> None:
    registry = _registry()
    fraud = {"model": "fraud", "owner": "ana", "team": "risk", "tier": "1"}
    churn = {"model": "churn", "owner": "", "team": "", "tier": ""}
    assert registry.get_sample_value("drift_monitor_model_info", fraud) == 1
    assert registry.get_sample_value("drift_monitor_model_info", churn) == 1


def test_process_platform_and_gc_collectors_are_on_the_injected_registry() -> None:
    registry = _registry()
    assert (registry.get_sample_value("process_resident_memory_bytes") or 0) > 0
    assert (registry.get_sample_value("process_start_time_seconds") or 0) > 0
    info = [m for m in registry.collect() if m.name == "python_info"]
    assert len(info) == 1
    gc = registry.get_sample_value("python_gc_collections_total", {"generation": "0"})
    assert gc is not None and gc >= 0
    # Nothing landed on client_python's global registry.
    assert REGISTRY.get_sample_value("drift_monitor_model_info", {"model": "fraud"}) is None


def test_consumer_lag_help_states_the_unit() -> None:
    lag = next(m for m in _registry().collect() if m.name == "drift_monitor_consumer_lag")
    assert "messages" in lag.documentation


# ------------------------------------------------------------------ /metrics


@pytest.fixture
def server() -> Iterator[str]:
    http = MonitorHttpServer("127.0.0.1", 0, _registry(), _state())
    http.start()
    try:
        yield http.url
    finally:
        http.stop()


def _get(url: str, headers: dict[str, str]) -> tuple[str, str | None, bytes]:
    req = urllib.request.Request(url + "/metrics", headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["Content-Type"], resp.headers["Content-Encoding"], resp.read()


def test_metrics_default_is_prometheus_text(server: str) -> None:
    ctype, encoding, body = _get(server, {})
    assert ctype.startswith("text/plain; version=0.0.4")
    assert encoding is None
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert {"drift_monitor_model_info", "process_resident_memory_bytes"} <= names


def test_metrics_openmetrics_when_asked(server: str) -> None:
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    ctype, _, body = _get(server, {"Accept": accept})
    assert ctype.startswith("application/openmetrics-text; version=1.0.0")
    text = body.decode()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in parse_openmetrics(text)}  # type: ignore[no-untyped-call]
    assert families["drift_monitor_events"].type == "counter"
    assert "drift_monitor_model_info" in families


def test_metrics_gzip_when_accepted(server: str) -> None:
    _, plain_encoding, plain = _get(server, {})
    ctype, encoding, body = _get(server, {"Accept-Encoding": "gzip, deflate"})
    assert plain_encoding is None
    assert encoding == "gzip"
    assert ctype.startswith("text/plain")
    text = gzip.decompress(body).decode()
    assert "drift_monitor_model_info" in text
    assert len(body) < len(plain)


# ------------------------------------------------------------------ logs


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_auto_create_topic_not_found_is_demoted_and_other_kafka_errors_stay() -> None:
    noise = _KafkaNoise()
    kafka_cluster = logging.getLogger("kafka.cluster")
    old = kafka_cluster.level
    try:
        kafka_cluster.setLevel(logging.WARNING)
        record = _record("kafka.cluster", "Topic %s not found in cluster metadata", "reports")
        assert noise.filter(record) is False
        assert record.levelno == logging.DEBUG
        kafka_cluster.setLevel(logging.DEBUG)
        record = _record("kafka.cluster", "Topic %s not found in cluster metadata", "reports")
        assert noise.filter(record) is True
    finally:
        kafka_cluster.setLevel(old)
    authz = _record("kafka.cluster", "Topic %s is not authorized for this client", "t")
    assert noise.filter(authz) is True
    assert authz.levelno == logging.ERROR
    assert noise.filter(_record("kafka.cluster", "Cancelled: metadata request")) is False
    assert (
        noise.filter(_record("drift_monitor.x", "Topic %s not found in cluster metadata")) is True
    )


# ------------------------------------------------------------------ cgroup limit


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"memory.max": "536870912\n"}, 536870912),
        ({"memory.max": "max\n"}, None),
        ({"memory/memory.limit_in_bytes": "268435456\n"}, 268435456),
        ({"memory/memory.limit_in_bytes": "9223372036854771712\n"}, None),
        ({}, None),
        ({"memory.max": "garbage"}, None),
    ],
)
def test_cgroup_memory_limit(tmp_path: Path, files: dict[str, str], expected: int | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert memory_limit_bytes(tmp_path) == expected
    registry = CollectorRegistry()
    registry.register(CgroupMemoryCollector(tmp_path))
    assert registry.get_sample_value("drift_monitor_memory_limit_bytes") == expected
