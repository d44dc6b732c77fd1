"""The alert rules in deploy/prometheus/alerts.yml: promtool, coverage, runbook links."""

from __future__ import annotations

import re
import shutil
import subprocess
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
    # amtool comes with Debian's prometheus-alertmanager, which the test
    # services do not install by default: skip without it, even on CI.
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool not installed (apt-get install prometheus-alertmanager)")
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
        assert rule["labels"]["severity"] in SEVERITIES, name
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
        path, _, anchor = url.partition("#")
        assert path == "docs/RUNBOOK.md", url
        assert (ROOT / path).is_file()
        assert anchor in anchors, f"{rule['alert']}: no heading with anchor #{anchor} in {path}"
        # One section per alert, named after it.
        assert anchor == github_anchor(rule["alert"]), url


def test_github_anchor() -> None:
    assert github_anchor("DriftMonitorDown") == "driftmonitordown"
    assert github_anchor("Model drift: what to do (v2)") == "model-drift-what-to-do-v2"
