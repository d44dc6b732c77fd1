"""deploy/alertmanager/alertmanager.yml on a real Alertmanager: while a model's
DriftMonitorLabelsStopped fires, its DriftMonitorLabelCoverageLow is inhibited (no labels
at all explains the coverage), and no other model's is."""

from __future__ import annotations

import time

import pytest

from tests.deploy.test_alertmanager_inhibit import (  # the fixture and helpers
    _alert,
    _inhibited,
    _post,
    alertmanager,  # noqa: F401
)

pytestmark = pytest.mark.prometheus


def test_coverage_alert_is_inhibited_while_labels_stopped(alertmanager: str) -> None:  # noqa: F811
    _post(
        alertmanager,
        [
            _alert("DriftMonitorLabelCoverageLow", "warning", model="fraud"),
            _alert("DriftMonitorLabelCoverageLow", "warning", model="churn"),
        ],
    )
    assert _inhibited(alertmanager) == {
        ("DriftMonitorLabelCoverageLow", "fraud", ""): False,
        ("DriftMonitorLabelCoverageLow", "churn", ""): False,
    }
    _post(alertmanager, [_alert("DriftMonitorLabelsStopped", "warning", model="fraud")])
    deadline = time.monotonic() + 10
    while True:
        state = _inhibited(alertmanager)
        if state.get(("DriftMonitorLabelCoverageLow", "fraud", "")) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert state == {
        ("DriftMonitorLabelsStopped", "fraud", ""): False,
        ("DriftMonitorLabelCoverageLow", "fraud", ""): True,
        ("DriftMonitorLabelCoverageLow", "churn", ""): False,
    }
