"""deploy/alertmanager/alertmanager.yml on a real Alertmanager (Debian's
prometheus-alertmanager): while a model's DriftMonitorModelDriftAlert fires, that
model's DriftMonitorFeatureDrift alerts are inhibited, and no other model's are."""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.prometheus import require_binary

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"

pytestmark = pytest.mark.prometheus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = require_binary("prometheus-alertmanager")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={CONFIG}",
            f"--storage.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "alertmanager.log").open("w"),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/-/ready", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "alertmanager.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, alerts: list[dict[str, Any]]) -> None:
    req = urllib.request.Request(
        url + "/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


def _alert(name: str, severity: str, **labels: str) -> dict[str, Any]:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    return {
        "labels": {"alertname": name, "severity": severity, **labels},
        "startsAt": start.isoformat(),
        "endsAt": (start + dt.timedelta(hours=1)).isoformat(),
    }


def _inhibited(url: str) -> dict[tuple[str, str, str], bool]:
    with urllib.request.urlopen(url + "/api/v2/alerts", timeout=5) as resp:
        alerts = json.load(resp)
    return {
        (a["labels"]["alertname"], a["labels"]["model"], a["labels"].get("feature", "")): bool(
            a["status"]["inhibitedBy"]
        )
        for a in alerts
    }


def test_feature_alerts_are_inhibited_while_their_model_alert_fires(alertmanager: str) -> None:
    _post(
        alertmanager,
        [
            _alert("DriftMonitorFeatureDrift", "warning", model="fraud", feature="amount"),
            _alert("DriftMonitorFeatureDrift", "warning", model="churn", feature="tenure"),
        ],
    )
    # Before the model alert: nothing inhibited.
    assert _inhibited(alertmanager) == {
        ("DriftMonitorFeatureDrift", "fraud", "amount"): False,
        ("DriftMonitorFeatureDrift", "churn", "tenure"): False,
    }
    _post(alertmanager, [_alert("DriftMonitorModelDriftAlert", "critical", model="fraud")])
    deadline = time.monotonic() + 10
    while True:
        state = _inhibited(alertmanager)
        if (
            state.get(("DriftMonitorFeatureDrift", "fraud", "amount"))
            or time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)
    assert state == {
        ("DriftMonitorModelDriftAlert", "fraud", ""): False,
        ("DriftMonitorFeatureDrift", "fraud", "amount"): True,
        # Another model's feature alert still reaches its owner.
        ("DriftMonitorFeatureDrift", "churn", "tenure"): False,
    }
