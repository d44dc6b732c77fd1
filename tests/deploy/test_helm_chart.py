"""The Helm chart deploy/helm/drift-monitor: `helm lint`, `helm template`, and every
rendered object plus the raw manifests of deploy/kubernetes validated with
`kubeconform -strict` against the offline schemas in tests/deploy/schemas.

helm and kubeconform are built by scripts/install-services into
$DRIFT_MONITOR_CACHE/bin (default ~/.cache/drift-monitor/bin). Missing: a skip
locally, a failure under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.test_alert_rules import render
from tests.services.required import unavailable

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "drift-monitor"
K8S = ROOT / "deploy" / "kubernetes"
SCHEMAS = Path(__file__).parent / "schemas"
CONFIG = ROOT / "deploy" / "config" / "drift-monitor.yaml"


def tool(name: str) -> str:
    """Path of ``name`` from the project's tool cache or PATH; fail on CI, else skip."""
    cache = Path(os.environ.get("DRIFT_MONITOR_CACHE", Path.home() / ".cache" / "drift-monitor"))
    candidate = cache / "bin" / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed: run scripts/install-services (go install into {cache}/bin)"
    unavailable(message)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)


def template(*sets: str, namespace: str = "ml") -> list[dict[str, Any]]:
    """`helm template` of the chart as release "dm" with ``--set`` values."""
    args = [tool("helm"), "template", "dm", str(CHART), "--namespace", namespace]
    for value in sets:
        args += ["--set", value]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], []).append(doc)
    return out


@pytest.fixture(scope="module")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubeconform's layout (<kind><-group>-<version>.json), one self-contained file per
    kind, split from the vendored strict Kubernetes bundle, plus the CRD schemas."""
    out = tmp_path_factory.mktemp("schemas")
    bundle = json.loads((SCHEMAS / "kubernetes-strict.json").read_text())
    for api_kind, key in bundle["kinds"].items():
        api_version, kind = api_kind.rsplit("/", 1)
        group, _, version = api_version.rpartition("/")
        suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
        doc = {"$schema": bundle["$schema"], "$ref": f"#/$defs/{key}", "$defs": bundle["$defs"]}
        (out / f"{kind.lower()}{suffix}.json").write_text(json.dumps(doc))
    for crd in ("servicemonitor-monitoring-v1.json", "prometheusrule-monitoring-v1.json"):
        shutil.copy(SCHEMAS / crd, out / crd)
    return out


def kubeconform(schema_dir: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return run(
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-output",
        "text",
        "-schema-location",
        str(schema_dir / "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
        *map(str, files),
    )


# ------------------------------------------------------------------ helm lint


def test_helm_lint() -> None:
    result = run(tool("helm"), "lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_helm_lint_with_everything_switched() -> None:
    result = run(
        tool("helm"),
        "lint",
        "--strict",
        str(CHART),
        "--set",
        "replicaCount=3,kafka.groupId=dm-prod,serviceMonitor.enabled=false",
        "--set",
        "prometheusRule.enabled=false,webhookSecret.create=true,webhookSecret.value=whsec_x",
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ kubeconform


def test_chart_and_raw_manifests_validate_with_kubeconform(
    schema_dir: Path, tmp_path: Path
) -> None:
    files = []
    for i, sets in enumerate(
        [
            (),
            ("replicaCount=3", "webhookSecret.create=true", "webhookSecret.value=whsec_x"),
            ("serviceMonitor.enabled=false", "prometheusRule.enabled=false"),
        ]
    ):
        out = tmp_path / f"chart-{i}.yaml"
        out.write_text(yaml.safe_dump_all(template(*sets)))
        files.append(out)
    raw = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert {p.name for p in raw} >= {
        "deployment.yaml",
        "servicemonitor.yaml",
        "prometheusrule.yaml",
    }
    result = kubeconform(schema_dir, *files, *raw)
    assert result.returncode == 0, result.stdout + result.stderr
    # Nothing skipped for want of a schema: every kind was checked.
    assert "Skipped: 0" in result.stdout, result.stdout
    assert "Invalid: 0, Errors: 0" in result.stdout, result.stdout


@pytest.mark.parametrize(
    ("kind", "path", "bad"),
    [
        ("StatefulSet", ["spec", "template", "spec", "containers", 0], {"livenessProbes": {}}),
        ("ServiceMonitor", ["spec", "endpoints", 0], {"intervall": "30s"}),
        ("ServiceMonitor", ["spec", "endpoints", 0], {"interval": "thirty seconds"}),
        ("PrometheusRule", ["spec", "groups", 0, "rules", 0], {"for": "5 minutes"}),
        ("PrometheusRule", ["spec", "groups", 0], {"rulez": []}),
        ("Service", ["spec"], {"selectr": {}}),
    ],
)
def test_kubeconform_rejects_mistakes(
    schema_dir: Path, tmp_path: Path, kind: str, path: list[Any], bad: dict[str, Any]
) -> None:
    (doc,) = by_kind(template())[kind][:1]
    node: Any = doc
    for key in path:
        node = node[key]
    node.update(bad)
    out = tmp_path / "bad.yaml"
    out.write_text(yaml.safe_dump(doc))
    result = kubeconform(schema_dir, out)
    assert result.returncode != 0, f"{kind} with {bad} was accepted"
    # Rejected by the schema, not for want of one.
    assert "Invalid: 1, Errors: 0" in result.stdout, result.stdout


# ------------------------------------------------------------------ what it renders


def test_default_release() -> None:
    kinds = by_kind(template())
    assert sorted(kinds) == [
        "ConfigMap",
        "PrometheusRule",
        "Service",
        "ServiceMonitor",
        "StatefulSet",
    ]
    (sts,) = kinds["StatefulSet"]
    assert sts["metadata"]["name"] == "dm-drift-monitor"
    assert sts["spec"]["replicas"] == 1
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "drift-monitor:0.1.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"]["memory"] == "1Gi"
    env = {e["name"]: e for e in container["env"]}
    assert env["DRIFT_MONITOR_WEBHOOK_SECRET"]["valueFrom"]["secretKeyRef"] == {
        "name": "dm-drift-monitor-webhook",
        "key": "secret",
    }
    assert "DRIFT_MONITOR__KAFKA__GROUP_ID" not in env
    # The config is the one shipped config file, and the pods roll when it changes.
    (cm,) = kinds["ConfigMap"]
    assert yaml.safe_load(cm["data"]["config.yaml"]) == yaml.safe_load(CONFIG.read_text())
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    # job="drift-monitor" whatever the release name: the rules and dashboard select on it.
    (sm,) = kinds["ServiceMonitor"]
    assert sm["spec"]["jobLabel"] == "app.kubernetes.io/name"
    services = {s["metadata"]["name"]: s for s in kinds["Service"]}
    assert services["dm-drift-monitor"]["metadata"]["labels"]["app.kubernetes.io/name"] == (
        "drift-monitor"
    )
    assert sm["spec"]["selector"]["matchLabels"].items() <= (
        services["dm-drift-monitor"]["metadata"]["labels"].items()
    )


def test_replicas_consumer_group_and_servers() -> None:
    (sts,) = by_kind(
        template(
            "replicaCount=3",
            "kafka.groupId=dm-prod",
            "kafka.bootstrapServers={k-0:9092,k-1:9092}",
        )
    )["StatefulSet"]
    assert sts["spec"]["replicas"] == 3
    env = {
        e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DRIFT_MONITOR__KAFKA__GROUP_ID"] == "dm-prod"
    # Parsed by the daemon's env overrides as a YAML flow list.
    assert yaml.safe_load(env["DRIFT_MONITOR__KAFKA__BOOTSTRAP_SERVERS"]) == [
        "k-0:9092",
        "k-1:9092",
    ]


def test_secret_wiring() -> None:
    kinds = by_kind(template("webhookSecret.create=true", "webhookSecret.value=whsec_abc"))
    (secret,) = kinds["Secret"]
    assert secret["stringData"] == {"secret": "whsec_abc"}
    existing = by_kind(template("webhookSecret.existingSecret=vault-hook", "webhookSecret.key=k"))
    assert "Secret" not in existing
    ref = existing["StatefulSet"][0]["spec"]["template"]["spec"]["containers"][0]["env"][0]
    assert ref["valueFrom"]["secretKeyRef"] == {"name": "vault-hook", "key": "k"}
    missing = run(tool("helm"), "template", "dm", str(CHART), "--set", "webhookSecret.create=true")
    assert missing.returncode != 0
    assert "webhookSecret.value is required" in missing.stderr


def test_config_override_rolls_the_pods() -> None:
    default = by_kind(template())
    custom = by_kind(template("config.kafka.topics={other}", "config.models[0].name=m"))
    assert yaml.safe_load(custom["ConfigMap"][0]["data"]["config.yaml"]) == {
        "kafka": {"topics": ["other"]},
        "models": [{"name": "m"}],
    }

    def sha(kinds: dict[str, list[dict[str, Any]]]) -> str:
        meta = kinds["StatefulSet"][0]["spec"]["template"]["metadata"]
        return str(meta["annotations"]["drift-monitor/config-sha256"])

    assert sha(default) != sha(custom)


def test_toggles() -> None:
    kinds = by_kind(template("serviceMonitor.enabled=false", "prometheusRule.enabled=false"))
    assert "ServiceMonitor" not in kinds and "PrometheusRule" not in kinds


def test_prometheusrule_is_built_from_the_same_rules_file() -> None:
    url = "https://wiki.example.com/RUNBOOK.md"
    (rule,) = by_kind(template(f"prometheusRule.runbookBaseUrl={url}", namespace="ml-prod"))[
        "PrometheusRule"
    ]
    expected = yaml.safe_load(render.alerts('job="drift-monitor",namespace="ml-prod"', url))
    assert rule["spec"] == {"groups": expected["groups"]}
    custom = by_kind(template('prometheusRule.selector=job="dm"\\,env="prod"'))["PrometheusRule"]
    assert custom[0]["spec"] == {
        "groups": yaml.safe_load(render.alerts('job="dm",env="prod"'))["groups"]
    }
