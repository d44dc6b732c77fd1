"""The alert rules in deploy/prometheus/alerts.yml: promtool, coverage, runbook links."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.services.prometheus import require_binary

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERTS_TEST = ROOT / "tests" / "deploy" / "alerts_test.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
SEVERITIES = {"critical", "warning", "info"}


def _render_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_render", ROOT / "deploy" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("deploy_render", module)
    spec.loader.exec_module(module)
    return module


render = _render_module()
#: A severity may follow the model's tier: a Go template over $labels.tier that
#: yields only known severities.
TIER_TEMPLATE = re.compile(r"^\{\{ if eq \$labels\.tier .*\{\{ end \}\}$")


def load_alert_rules(path: Path = ALERTS) -> list[dict[str, Any]]:
    """Every alerting rule (not recording rules) of a Prometheus rule file."""
    doc = yaml.safe_load(path.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading (lowercase, punctuation dropped)."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def runbook_anchors(path: Path = RUNBOOK) -> set[str]:
    anchors: set[str] = set()
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        match = None if in_code else re.match(r"#{1,6}\s+(.*)", line)
        if match:
            anchors.add(github_anchor(match.group(1)))
    return anchors


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------ promtool


@pytest.mark.prometheus
def test_promtool_check_rules() -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
def test_promtool_test_rules() -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.prometheus
def test_promtool_check_config() -> None:
    promtool = require_binary("promtool")
    result = run(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
def test_alertmanager_config() -> None:
    # amtool comes with Debian's prometheus-alertmanager (scripts/install-services).
    amtool = require_binary("amtool")
    result = run(amtool, "check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ the YAML


def test_every_alert_has_a_firing_and_a_silent_case() -> None:
    doc = yaml.safe_load(ALERTS_TEST.read_text())
    assert [(ALERTS_TEST.parent / f).resolve() for f in doc["rule_files"]] == [ALERTS]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    names = {rule["alert"] for rule in load_alert_rules()}
    assert names - firing == set(), "alerts without a FIRING test case"
    assert names - silent == set(), "alerts without a NOT-FIRING test case"
    assert (firing | silent) - names == set(), "test cases for alerts that do not exist"


def test_alerts_have_unique_names_severity_and_annotations() -> None:
    rules = load_alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"DriftMonitor[A-Z][A-Za-z]+", name), name
        severity = rule["labels"]["severity"]
        if TIER_TEMPLATE.match(severity):
            outcomes = set(re.findall(r"\}\}(\w+)\{\{", severity))
            assert outcomes and outcomes <= SEVERITIES, name
        else:
            assert severity in SEVERITIES, name
        annotations = rule["annotations"]
        assert set(annotations) >= {"summary", "description", "runbook_url"}, name
        # On-call learns "since when" from the text: it states the for: duration.
        if "for" in rule:
            assert f"for more than {rule['for']}" in annotations["description"], name
        # ... and "how bad": the value is in the text.
        text = annotations["summary"] + annotations["description"]
        if not rule["expr"].startswith("absent("):
            assert "$value" in text, name


def test_every_runbook_url_points_to_an_existing_runbook_section() -> None:
    anchors = runbook_anchors()
    for rule in load_alert_rules():
        url = rule["annotations"]["runbook_url"]
        base, _, anchor = url.partition("#")
        # Absolute: Alertmanager, Slack and PagerDuty cannot follow a relative link.
        assert base == render.DEFAULT_RUNBOOK_BASE_URL, url
        assert base.startswith("https://") and base.endswith("/docs/RUNBOOK.md"), url
        assert anchor in anchors, (
            f"{rule['alert']}: no heading with anchor #{anchor} in docs/RUNBOOK.md"
        )
        # One section per alert, named after it.
        assert anchor == github_anchor(rule["alert"]), url


def test_github_anchor() -> None:
    assert github_anchor("DriftMonitorDown") == "driftmonitordown"
    assert github_anchor("Model drift: what to do (v2)") == "model-drift-what-to-do-v2"


# ------------------------------------------------------------------ rendering (mixin)


def test_default_rendering_selects_the_job_in_every_series() -> None:
    text = ALERTS.read_text()
    exprs = [rule["expr"] for rule in load_alert_rules()]
    for expr in exprs:
        for metric in re.findall(r"\b((?:drift_monitor|process|up)\w*)\b(\{[^}]*\})?", expr):
            name, matchers = metric
            assert matchers.startswith('{job="drift-monitor"'), f"{name} in {expr!r}"
    assert not re.search(r"@[a-z_]+@", text), "a placeholder was left unrendered"


def test_rendering_with_another_selector_and_runbook() -> None:
    url = "https://wiki.example.com/sre/drift-monitor/RUNBOOK.md"
    text = render.alerts('job="dm",namespace="ml"', url)
    assert 'job="drift-monitor"' not in text
    assert 'drift_monitor_model_status{job="dm",namespace="ml"}' in text
    # Inside Go template strings the quotes are escaped.
    assert 'drift_monitor_baseline_info{job=\\"dm\\",namespace=\\"ml\\",model=%q}' in text
    doc = yaml.safe_load(text)
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert all(r["annotations"]["runbook_url"].startswith(url + "#") for r in rules)
    assert 'up{job="dm",namespace="ml"}' in text


def test_rendering_with_an_empty_selector_leaves_valid_matchers() -> None:
    text = render.alerts("", render.DEFAULT_RUNBOOK_BASE_URL)
    assert "{," not in text and "{}" not in text and "@" not in text.split("groups:")[1]
    assert "absent(up)" in text
    assert 'drift_monitor_events_total{outcome="invalid"}' in text


@pytest.mark.prometheus
def test_promtool_accepts_other_renderings(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    for selector in ("", 'job="dm",namespace=~"ml-.*"'):
        out = tmp_path / "alerts.yml"
        out.write_text(render.alerts(selector, "https://runbooks.example/RUNBOOK.md"))
        result = run(promtool, "check", "rules", str(out))
        assert result.returncode == 0, selector + result.stdout + result.stderr


@pytest.mark.parametrize(
    ("selector", "url", "message"),
    [
        ("job=drift-monitor", render.DEFAULT_RUNBOOK_BASE_URL, "--selector"),
        ('job="a"}', render.DEFAULT_RUNBOOK_BASE_URL, "--selector"),
        ('job="a"', "docs/RUNBOOK.md", "--runbook-base-url"),
        ('job="a"', "https://x.example/RUNBOOK.md#top", "--runbook-base-url"),
    ],
)
def test_rendering_rejects_bad_values_with_one_line(selector: str, url: str, message: str) -> None:
    with pytest.raises(SystemExit, match=message):
        render.alerts(selector, url)


def test_render_cli_prints_the_rules() -> None:
    result = run(
        sys.executable,
        "deploy/render.py",
        "--alerts",
        "--selector",
        'job="dm"',
        "--runbook-base-url",
        "https://r.example/RUNBOOK.md",
    )
    assert result.returncode == 0, result.stderr
    assert 'up{job="dm"}' in result.stdout
    assert yaml.safe_load(result.stdout)["groups"]


def test_alertmanager_inhibits_feature_alerts_while_the_model_alert_fires() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    rules = {rule["alert"]: rule for rule in load_alert_rules()}
    inhibit = [
        r
        for r in config["inhibit_rules"]
        if r["source_matchers"] == ['alertname="DriftMonitorModelDriftAlert"']
        and r["target_matchers"] == ['alertname="DriftMonitorFeatureDrift"']
    ]
    assert len(inhibit) == 1
    assert inhibit[0]["equal"] == ["model"]
    # Both alerts carry the label the inhibition matches on.
    for name in ("DriftMonitorModelDriftAlert", "DriftMonitorFeatureDrift"):
        assert "by (model" in rules[name]["expr"], name
