"""The Grafana dashboard deploy/grafana/drift-monitor.json: structure, metric names, queries.

The helper a live test (against the real daemon) uses is re-exported here:
``from tests.deploy.test_dashboard import dashboard_queries``.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.dashboard import (
    DASHBOARD,
    annotation_queries,
    dashboard_queries,
    iter_panels,
    load_dashboard,
    metric_names,
    substitute,
    variable_queries,
)
from tests.deploy.test_alert_rules import load_alert_rules, render, runbook_anchors
from tests.services.prometheus import PrometheusServer, require_binary

__all__ = ["dashboard_queries"]

ROOT = Path(__file__).resolve().parents[2]
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"
FIXTURE = Path(__file__).parent / "fixtures" / "spec_metrics.prom"

# SPEC.md "Prometheus metrics", prefix drift_monitor_.
SPEC_METRICS = {
    "events_total",
    "window_events",
    "feature_psi",
    "feature_ks_statistic",
    "feature_wasserstein",
    "feature_jensen_shannon",
    "feature_chi2_statistic",
    "feature_ks_p_value",
    "feature_chi2_p_value",
    "feature_status",
    "feature_unseen_ratio",
    "feature_missing_ratio",
    "model_status",
    "drifted_features",
    "last_evaluation_timestamp_seconds",
    "evaluation_duration_seconds",
    "baseline_info",
    "consumer_lag",
    "kafka_connected",
    "webhook_deliveries_total",
    "webhook_outbox_pending",
    "build_info",
    # wave 2, issue 15
    "model_performance",
    "model_performance_baseline",
    "label_coverage_ratio",
    "label_delay_seconds",
}
ALLOWED_METRICS = (
    {f"drift_monitor_{name}" for name in SPEC_METRICS}
    | {"drift_monitor_window_duration_seconds", "up"}
    # issue 16: memory against the limit, the outbox's oldest entry
    | {"process_resident_memory_bytes", "drift_monitor_webhook_outbox_oldest_pending_age_seconds"}
    # issue 16 part 5: per-segment drift (families of their own, see README)
    | {"drift_monitor_segment_status"}
    | {f"drift_monitor_evaluation_duration_seconds_{s}" for s in ("bucket", "sum", "count")}
    # issue 15: the verdict, the join's sample rate and counters, the delay histogram
    | {"drift_monitor_model_performance_status", "drift_monitor_label_sample_rate"}
    | {"drift_monitor_label_delay_seconds_bucket"}
    | {
        f"drift_monitor_labels_{k}_total"
        for k in ("joined", "expired", "orphaned", "evicted", "duplicates", "late")
    }
)
ROWS = [
    "Overview",
    "Per-feature statistics",
    "Model quality",
    "Data quality",
    "Pipeline",
    "Webhooks",
]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


def test_dashboard_metadata(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "drift-monitor"
    assert dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_rows_in_order(dashboard: dict[str, Any]) -> None:
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == ROWS


def test_template_variables(dashboard: dict[str, Any]) -> None:
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("namespace", "model", "feature"):
        var = variables[name]
        assert var["type"] == "query"
        assert var["datasource"]["uid"] == "${datasource}"
        assert var["multi"] and var["includeAll"] and var["allValue"] == ".*"
    # No "All" for the job: `up` would otherwise show every target Prometheus has.
    assert variables["job"]["multi"] and not variables["job"]["includeAll"]
    scope = 'job=~"$job", namespace=~"$namespace"'
    assert variable_queries(dashboard) == {
        "job": "count by (job) (drift_monitor_build_info)",
        "namespace": 'count by (namespace) (drift_monitor_build_info{job=~"$job"})',
        "model": f"count by (model) (drift_monitor_model_status{{{scope}}})",
        "feature": f'count by (feature) (drift_monitor_feature_status{{{scope}, model=~"$model"}})',
    }


def test_every_panel_queries_prometheus_through_the_variable(dashboard: dict[str, Any]) -> None:
    panels = list(iter_panels(dashboard))
    assert len(panels) >= 20
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        exprs = [t.get("expr") for t in panel.get("targets", []) if t.get("expr")]
        assert exprs, f"panel {panel['title']!r} has no target with an expr"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel.get("description"), f"panel {panel['title']!r} has no description"


def test_every_metric_name_is_in_the_spec(dashboard: dict[str, Any]) -> None:
    used: set[str] = set()
    for panel in iter_panels(dashboard):
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names <= ALLOWED_METRICS, f"{panel['title']}: {names - ALLOWED_METRICS}"
            used |= names
    # Every SPEC metric that is worth a panel has one (build_info is shown in /status).
    missing = {f"drift_monitor_{name}" for name in SPEC_METRICS - {"build_info"}} - {
        name.removesuffix("_bucket") for name in used
    }
    assert missing == set()


def test_per_feature_panels_filter_on_model_and_feature(dashboard: dict[str, Any]) -> None:
    for panel in iter_panels(dashboard):
        for target in panel["targets"]:
            expr = target["expr"]
            if "drift_monitor_feature_" in expr:
                assert 'model=~"$model"' in expr and 'feature=~"$feature"' in expr, expr
            elif "model_status" in expr or "events_total" in expr:
                assert 'model=~"$model"' in expr, expr


def test_dashboard_queries_substitutes_every_variable() -> None:
    queries = dashboard_queries(model="fraud", feature="amount", rate_interval="10s")
    titles = {title for title, _ in queries}
    assert {"PSI", "KS p-value", "Consumer lag", "Evaluation duration p50 / p95"} <= titles
    for title, expr in queries:
        assert "$" not in expr, (title, expr)
    assert (
        "PSI",
        "max by (model, feature) (drift_monitor_feature_psi"
        '{job=~".*", namespace=~".*", model=~"fraud", feature=~"amount"})',
    ) in queries
    assert any("[10s]" in expr for _, expr in queries)
    with_vars = dashboard_queries(include_variables=True)
    assert [title for title, _ in with_vars[:4]] == [
        "variable $job",
        "variable $namespace",
        "variable $model",
        "variable $feature",
    ]


def test_metric_names_parser() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (model, le) (rate(foo_bucket{model=~"a|b"}[5m]))) '
        "/ on (model) group_left bar offset 5m > 1e3 and time() - baz"
    )
    assert metric_names(expr) == {"foo_bucket", "bar", "baz"}
    assert substitute(
        'x{m=~"${model}"}[$__rate_interval]', {"model": "a", "__rate_interval": "1m"}
    ) == ('x{m=~"a"}[1m]')


def test_grafana_provisioning() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())
    (ds,) = datasources["datasources"]
    assert ds["type"] == "prometheus"
    assert ds["url"] == "http://prometheus:9090"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "drift-monitor.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    # compose.yaml mounts the dashboard JSON into this directory.
    compose = (ROOT / "deploy" / "compose" / "compose.yaml").read_text()
    assert f"{provider['options']['path']}/{DASHBOARD.name}" in compose


# ------------------------------------------------ against a real Prometheus


@pytest.mark.prometheus
def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query (as a recording rule), with no server needed."""
    promtool = require_binary("promtool")
    queries = dashboard_queries(include_variables=True)
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _fixture_exposition(scrape: int) -> bytes:
    """The SPEC fixture with counters and histograms multiplied by the scrape number."""
    lines = []
    for line in FIXTURE.read_text().splitlines():
        match = re.fullmatch(r"(\S+?(?:_total|_bucket|_sum|_count)(?:\{.*\})?) (\S+)", line)
        if match and not line.startswith("#"):
            lines.append(f"{match.group(1)} {float(match.group(2)) * scrape}")
        else:
            lines.append(line)
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def fixture_exporter() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving the SPEC metrics fixture on /metrics."""
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scrapes[0] += 1
            body = _fixture_exposition(scrapes[0])
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.prometheus
def test_every_query_returns_data_from_spec_shaped_metrics(fixture_exporter: str) -> None:
    with PrometheusServer(targets=[fixture_exporter]) as prom:
        # rate() over 10s needs two scrapes of each counter inside the range.
        prom.wait_for(
            "rate(drift_monitor_events_total[10s])",
            until=lambda result: len(result) == 4 and all(s["value"][1] != "0" for s in result),
        )
        empty = []
        for title, expr in dashboard_queries(
            model="fraud", feature=".*", rate_interval="10s", include_variables=True
        ):
            if not prom.query(expr):
                empty.append((title, expr))
        assert empty == []


def test_panels_do_not_overlap(dashboard: dict[str, Any]) -> None:
    boxes: list[tuple[str, dict[str, int]]] = []
    for panel in dashboard["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, panel["title"]
        for other_title, o in boxes:
            overlap_x = g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"]
            overlap_y = g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]
            assert not (overlap_x and overlap_y), (panel["title"], other_title)
        boxes.append((panel["title"], g))


# ------------------------------------------ issue 16: scope, annotations, runbook links


def test_every_query_is_scoped_to_the_job_and_namespace(dashboard: dict[str, Any]) -> None:
    for panel in iter_panels(dashboard):
        for target in panel.get("targets", []):
            for match in re.finditer(r"\b(\w+)\{([^}]*)\}", target["expr"]):
                assert match.group(2).startswith('job=~"$job", namespace=~"$namespace"'), (
                    panel["title"],
                    match.group(0),
                )
            assert metric_names(target["expr"]) <= {
                m.group(1) for m in re.finditer(r"\b(\w+)\{", target["expr"])
            }, panel["title"]


def test_incident_and_baseline_annotations(dashboard: dict[str, Any]) -> None:
    annotations = {a["name"]: a for a in dashboard["annotations"]["list"]}
    incidents = annotations["Drift incidents"]
    assert incidents["datasource"]["uid"] == "${datasource}"
    assert 'alertstate="firing"' in incidents["expr"]
    assert 'model=~"$model"' in incidents["expr"]
    alerts = {rule["alert"] for rule in load_alert_rules()}
    named = set(re.findall(r"DriftMonitor\w+", incidents["expr"].replace("(Alert|Warning)", "")))
    assert {"DriftMonitorModelDrift", "DriftMonitorFeatureDrift"} <= named
    assert {"DriftMonitorModelDriftAlert", "DriftMonitorModelDriftWarning"} <= alerts
    assert "drift_monitor_baseline_info" in annotations["Baseline changes"]["expr"]


@pytest.mark.prometheus
def test_annotation_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    queries = annotation_queries()
    assert len(queries) == 2
    rules = {
        "groups": [
            {
                "name": "annotations",
                "rules": [
                    {"record": f"dashboard:annotation_{i}", "expr": expr}
                    for i, (_, expr) in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runbook_links_point_at_existing_sections(dashboard: dict[str, Any]) -> None:
    variables = {var["name"]: var for var in dashboard["templating"]["list"]}
    runbook = variables["runbook_url"]
    assert runbook["type"] == "constant" and runbook["hide"] == 2
    assert runbook["query"] == render.DEFAULT_RUNBOOK_BASE_URL
    assert dashboard["links"][0]["url"] == "${runbook_url}"
    anchors = runbook_anchors()
    alerts = {rule["alert"].lower() for rule in load_alert_rules()}
    linked: set[str] = set()
    for panel in iter_panels(dashboard):
        for link in panel.get("links", []):
            base, _, anchor = link["url"].partition("#")
            assert base == "${runbook_url}", link
            assert anchor in anchors and anchor in alerts, (panel["title"], anchor)
            linked.add(anchor)
    # Every alert is one click away from a panel showing its metric.
    assert linked == alerts
