"""Static checks of deploy/: YAML, Kubernetes objects, compose, Dockerfile, config.

No Docker engine or cluster is needed: Kubernetes objects are validated against the
official (strict) JSON Schemas of Kubernetes v1.30 and compose.yaml against the
Compose Specification schema, both vendored in tests/deploy/schemas/ (see its README).
"""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
CONFIG = DEPLOY / "config" / "drift-monitor.yaml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
SCHEMAS = Path(__file__).parent / "schemas"


# ------------------------------------------------------------------- helpers


def load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


@cache
def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> object, over every manifest in deploy/kubernetes but kustomization."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"{key} defined twice"
            objects[key] = doc
    return objects


def k8s(kind: str, name: str = "drift-monitor") -> dict[str, Any]:
    return k8s_objects()[(kind, name)]


@cache
def k8s_schema_bundle() -> dict[str, Any]:
    bundle: dict[str, Any] = json.loads((SCHEMAS / "kubernetes-strict.json").read_text())
    return bundle


def k8s_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    bundle = k8s_schema_bundle()
    key = bundle["kinds"][f"{api_version}/{kind}"]
    schema = {"$defs": bundle["$defs"], "$ref": f"#/$defs/{key}"}
    return jsonschema.Draft202012Validator(schema)


def k8s_errors(obj: dict[str, Any]) -> list[str]:
    validator = k8s_validator(obj["apiVersion"], obj["kind"])
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator.iter_errors(obj)
    ]


def deployment_pod() -> dict[str, Any]:
    pod: dict[str, Any] = k8s("Deployment")["spec"]["template"]
    return pod


def main_container() -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment_pod()["spec"]["containers"]
    (container,) = containers
    return container


def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return doc


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    assert not pending, "Dockerfile ends with a line continuation"
    return instructions


# ------------------------------------------------------------ every file parses


def test_every_yaml_and_json_file_parses() -> None:
    # Helm templates are Go templates, not YAML: tests/deploy/test_helm_chart.py renders them.
    yaml_files = [
        p
        for p in [*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")]
        if "templates" not in p.relative_to(DEPLOY).parts
    ]
    assert len(yaml_files) >= 15
    for path in yaml_files:
        assert load_all(path), f"{path} is empty"
    for path in DEPLOY.rglob("*.json"):
        json.loads(path.read_text())


def test_rendered_manifests_are_current() -> None:
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "render.py"), "--check"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------- Kubernetes


def test_core_objects_validate_against_the_kubernetes_schemas() -> None:
    validated = set()
    for (kind, name), obj in k8s_objects().items():
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue
        assert f"{obj['apiVersion']}/{kind}" in k8s_schema_bundle()["kinds"], (kind, name)
        assert k8s_errors(obj) == [], f"{kind}/{name}"
        validated.add(kind)
    assert validated == {"Deployment", "Service", "ConfigMap", "Secret", "PersistentVolumeClaim"}


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("spec", "template", "spec", "containers", 0, "livenessprobe"), {}, "livenessprobe"),
        (("spec", "replicas"), "one", "'one'"),
        (("spec", "template", "spec", "containers", 0, "ports", 0, "containerPort"), "x", "'x'"),
    ],
)
def test_the_kubernetes_schemas_reject_mistakes(
    path: tuple[str | int, ...], value: Any, expected: str
) -> None:
    obj = json.loads(json.dumps(k8s("Deployment")))
    node = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    errors = k8s_errors(obj)
    assert errors and any(expected in e for e in errors), errors


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    resources = kustomization["resources"]
    assert sorted(resources) == sorted(
        p.name
        for p in K8S.glob("*.yaml")
        if p.name not in ("kustomization.yaml", "secret.example.yaml")
    )
    images = {c["image"] for c in deployment_pod()["spec"]["containers"]} | {
        c["image"] for c in deployment_pod()["spec"].get("initContainers", [])
    }
    assert images == {image["name"] for image in kustomization["images"]}


def test_prometheusrule_carries_exactly_the_alert_groups() -> None:
    rule = k8s("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == {"groups": yaml.safe_load(ALERTS.read_text())["groups"]}


def test_configmap_embeds_the_config_file() -> None:
    embedded = k8s("ConfigMap", "drift-monitor-config")["data"]["config.yaml"]
    assert embedded == CONFIG.read_text()
    assert yaml.safe_load(embedded) == yaml.safe_load(CONFIG.read_text())


def test_deployment_security_and_resources() -> None:
    pod = deployment_pod()["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod.get("initContainers", []):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True, container["name"]
        assert security["allowPrivilegeEscalation"] is False, container["name"]
        assert security["capabilities"]["drop"] == ["ALL"], container["name"]
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, container["name"]
    # Everything the daemon writes is on a volume, not the read-only root.
    mounts = {m["mountPath"]: m["name"] for m in main_container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" in volumes[mounts["/var/lib/drift-monitor"]]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    claim = volumes[mounts["/var/lib/drift-monitor"]]["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in k8s_objects()
    # A RWO volume cannot be shared by the old and new pod during a rollout.
    assert k8s("Deployment")["spec"]["strategy"]["type"] == "Recreate"


def test_deployment_probes_and_port_match_the_config() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    container = main_container()
    (port,) = container["ports"]
    assert port["containerPort"] == config["http"]["port"] == 9108
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port["name"]}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port["name"]}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["args"] == ["run", "--config", "/etc/drift-monitor/config.yaml"]


def test_deployment_mounts_the_configmap_and_the_webhook_secret() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    container = main_container()
    volumes = {v["name"]: v for v in deployment_pod()["spec"]["volumes"]}
    (config_mount,) = [
        m for m in container["volumeMounts"] if m["mountPath"] == "/etc/drift-monitor"
    ]
    config_map = volumes[config_mount["name"]]["configMap"]
    assert ("ConfigMap", config_map["name"]) in k8s_objects()
    assert config_map["items"] == [{"key": "config.yaml", "path": "config.yaml"}]
    # The secret comes from a Secret by reference, under the env name the config names.
    env = {e["name"]: e for e in container["env"]}
    for target in config["webhooks"]["targets"]:
        ref = env[target["secret"]["env"]]["valueFrom"]["secretKeyRef"]
        secret = k8s("Secret", ref["name"])
        assert ref["key"] in secret["stringData"]
    assert all("value" not in e or "SECRET" not in e["name"] for e in container["env"])


def test_config_hash_annotation_matches_the_config() -> None:
    annotations = deployment_pod()["metadata"]["annotations"]
    expected = hashlib.sha256(CONFIG.read_bytes()).hexdigest()
    assert annotations["drift-monitor/config-sha256"] == expected


def test_service_and_servicemonitor_select_the_daemon() -> None:
    service = k8s("Service")
    pod_labels = deployment_pod()["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert k8s("Deployment")["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] == main_container()["ports"][0]["name"]
    monitor = k8s("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port["name"]
    assert endpoint["path"] == "/metrics"
    # The Operator names the job after the Service; the alerts match job="drift-monitor".
    assert service["metadata"]["name"] == "drift-monitor"
    assert 'up{job="drift-monitor"}' in ALERTS.read_text()


def test_config_is_valid_for_the_daemon() -> None:
    loader = pytest.importorskip("drift_monitor.config.loader")
    config = loader.load_config(CONFIG, environ={})
    assert config.http.port == 9108
    assert str(config.baselines.dir) == "/var/lib/drift-monitor/baselines"


# ------------------------------------------------------------------- compose


def test_compose_validates_against_the_compose_spec() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose())
    ]
    assert errors == []


def test_the_compose_schema_rejects_mistakes() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    doc = compose()
    doc["services"]["grafana"]["enviroment"] = {}
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
    assert any("enviroment" in m for m in messages), messages


def test_compose_references_only_existing_files() -> None:
    doc = compose()
    base = COMPOSE.parent
    declared_volumes = set(doc.get("volumes") or {})
    for name, service in doc["services"].items():
        build = service.get("build")
        if build is not None:
            context = (base / build["context"]).resolve()
            assert context == ROOT, name
            assert (context / build["dockerfile"]).resolve() == DOCKERFILE, name
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                source = volume.split(":")[0]
                kind = "bind" if source.startswith((".", "/")) else "volume"
            else:
                source, kind = volume["source"], volume["type"]
            if kind == "bind":
                assert (base / source).exists(), f"{name}: bind source {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        for dependency in service.get("depends_on", []):
            assert dependency in doc["services"], f"{name} depends on unknown {dependency}"


def _binds(service: dict[str, Any]) -> dict[str, Path]:
    """target -> resolved host path of a service's bind mounts."""
    binds = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict) and volume["type"] == "bind":
            binds[volume["target"]] = (COMPOSE.parent / volume["source"]).resolve()
    return binds


def test_compose_wires_the_stack_together() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    daemon = services["drift-monitor"]
    assert _binds(daemon)["/etc/drift-monitor/config.yaml"] == CONFIG
    assert daemon["command"] == ["run", "--config", "/etc/drift-monitor/config.yaml"]
    assert "DRIFT_MONITOR_WEBHOOK_SECRET" in daemon["environment"]
    image = daemon["image"]
    assert services["drift-monitor-build"]["image"] == image
    producer = services["demo-producer"]
    assert producer["image"] == image
    assert shlex.join(producer["command"]) == (
        "replay --input /data/events.jsonl --topic predictions "
        "--bootstrap-servers kafka:9092 --rate 200"
    )
    prometheus = _binds(services["prometheus"])
    assert prometheus["/etc/prometheus/prometheus.yml"] == DEPLOY / "prometheus" / "prometheus.yml"
    assert prometheus["/etc/prometheus/alerts.yml"] == ALERTS
    alertmanager = _binds(services["alertmanager"])
    assert alertmanager["/etc/alertmanager/alertmanager.yml"] == (
        DEPLOY / "alertmanager" / "alertmanager.yml"
    )
    grafana = _binds(services["grafana"])
    assert grafana["/etc/grafana/provisioning"] == DEPLOY / "grafana" / "provisioning"
    assert DEPLOY / "grafana" / "drift-monitor.json" in grafana.values()
    # Prometheus scrapes the daemon by its service name and port.
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in scrape["scrape_configs"] if j["job_name"] == "drift-monitor"]
    assert job["static_configs"][0]["targets"] == ["drift-monitor:9108"]
    # The config's broker and webhook URL are the compose services.
    config = yaml.safe_load(CONFIG.read_text())
    assert config["kafka"]["bootstrap_servers"] == ["kafka:9092"]
    assert "retrainer" in services


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    instructions = dockerfile_instructions()
    args = [rest for word, rest in instructions if word == "ARG"]
    assert "PYTHON_IMAGE=python:3.11-slim" in args
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    runs = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "pip wheel" in runs
    assert "from=build" in runs and "--no-index" in runs


def test_dockerfile_runtime_contract() -> None:
    instructions = dockerfile_instructions()
    final = instructions[max(i for i, (w, _) in enumerate(instructions) if w == "FROM") :]
    words = [word for word, _ in final]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert ("EXPOSE", "9108") in final
    (healthcheck,) = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "urllib" in healthcheck and "curl" not in healthcheck
    (entrypoint,) = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    (cmd,) = [json.loads(rest) for word, rest in final if word == "CMD"]
    assert entrypoint == ["drift-monitor"]
    assert cmd == ["run", "--config", "/etc/drift-monitor/config.yaml"]


def test_dockerfile_adds_nothing_remote_and_copies_only_existing_allowed_files() -> None:
    instructions = dockerfile_instructions()
    for word, rest in instructions:
        assert not (word == "ADD" and "http" in rest), "ADD of a URL: use a pinned COPY"
    allowed = [
        line[1:].rstrip("/")
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.startswith("!")
    ]
    assert DOCKERIGNORE.read_text().splitlines()[0:1], "empty Dockerfile.dockerignore"
    for word, rest in instructions:
        if word != "COPY" or "--from" in rest:
            continue
        *sources, _target = rest.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by {DOCKERIGNORE.name}"
