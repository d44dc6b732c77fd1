"""Secrets, times and SPEC bodies shared by the webhook tests."""

from __future__ import annotations

import base64
from typing import Any

from drift_monitor.webhooks import Trigger

# Distinctive so a leak into logs, reprs or errors is unmistakable.
KEY_BYTES = b"drift-monitor-test-signing-key-32"
SECRET = "whsec_" + base64.b64encode(KEY_BYTES).decode()
NEXT_SECRET = "whsec_" + base64.b64encode(b"the-next-key-after-rotation-0001").decode()
BEARER = "tok-SUPERSECRET-bearer-9f8e7d"
START = 1_790_000_000.0  # 2026-09-21, seconds since the epoch


def spec_body(
    trigger_id: str = "fraud-20261126T100000Z",
    type_: str = "drift.detected",
    model: str = "fraud",
) -> dict[str, Any]:
    """A complete SPEC body, as the drift decision would build it."""
    return {
        "type": type_,
        "id": trigger_id,
        "model": model,
        "baseline_version": "2026-11-01",
        "severity": "alert",
        "window": {"start": "2026-11-26T09:00:00Z", "end": "2026-11-26T10:00:00Z", "events": 5120},
        "drifted_features": [
            {
                "name": "amount",
                "kind": "numeric",
                "test": "psi",
                "statistic": 0.31,
                "p_value": None,
                "threshold": 0.25,
                "status": "alert",
            }
        ],
        "drift_share": 0.25,
        "detected_at": "2026-11-26T10:00:01Z",
    }


def make_trigger(
    trigger_id: str = "fraud-20261126T100000Z",
    type_: str = "drift.detected",
    model: str = "fraud",
) -> Trigger:
    return Trigger(
        id=trigger_id,
        type=type_,  # type: ignore[arg-type]
        model=model,
        body=spec_body(trigger_id, type_, model),
    )
