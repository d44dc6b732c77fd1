"""The webhook message (``Trigger``) and the presets that turn it into request bytes.

Bodies are serialised canonically - sorted keys, no whitespace, ASCII-only, no NaN -
so the same trigger always gives the same bytes, on every retry and after a restart.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from drift_monitor.webhooks.config import Preset, WebhookTarget

TriggerType = Literal[
    "drift.detected", "drift.resolved", "performance.degraded", "performance.recovered"
]
TRIGGER_TYPES: tuple[TriggerType, ...] = (
    "drift.detected",
    "drift.resolved",
    "performance.degraded",
    "performance.recovered",
)

# The SPEC body's top-level fields, in the documented order.
BODY_FIELDS = (
    "type",
    "id",
    "model",
    "baseline_version",
    "severity",
    "window",
    "drifted_features",
    "drift_share",
    "detected_at",
)
GITHUB_MAX_CLIENT_PAYLOAD_KEYS = 10
MAX_ID_LENGTH = 200
_AIRFLOW_RUN_ID_SAFE = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
_AIRFLOW_UNSAFE_CHAR = re.compile(r"[^A-Za-z0-9_.~:+-]")
_AIRFLOW_RUN_ID_PREFIX = "drift-monitor"


def canonical_json(value: Any) -> bytes:
    """Compact, key-sorted, ASCII-only JSON bytes of ``value``.

    Raises ``ValueError`` for NaN/inf (not JSON) and ``TypeError`` for values JSON
    cannot represent.
    """
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


@dataclass(frozen=True)
class Trigger:
    """One webhook message: a model entered (``drift.detected``) or left (``drift.resolved``) drift.

    ``id``: the incident's stable idempotency key, shared by its detected and resolved
    messages; 1-200 visible ASCII characters. ``body``: the SPEC body (``type``, ``id``,
    ``model``, ``baseline_version``, ``severity``, ``window``, ``drifted_features``,
    ``drift_share``, ``detected_at``), JSON-ready; it is deep-copied and frozen, and its
    ``type``/``id``/``model`` must equal the trigger's. Construction raises
    ``ValueError`` for a bad id, a missing or mismatched body field, or a body that is
    not JSON (NaN, inf, objects).
    """

    id: str
    type: TriggerType
    model: str
    body: Mapping[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.id) <= MAX_ID_LENGTH or not all(
            0x21 <= ord(c) <= 0x7E for c in self.id
        ):
            raise ValueError(
                f"trigger id must be 1-{MAX_ID_LENGTH} visible ASCII characters, got {self.id!r}"
            )
        if self.type not in TRIGGER_TYPES:
            raise ValueError(f"trigger type must be one of {TRIGGER_TYPES}, got {self.type!r}")
        missing = [f for f in BODY_FIELDS if f not in self.body]
        if missing:
            raise ValueError(f"trigger body lacks field(s): {', '.join(missing)}")
        for name, expected in (("type", self.type), ("id", self.id), ("model", self.model)):
            if self.body[name] != expected:
                raise ValueError(
                    f"trigger body {name!r} is {self.body[name]!r}, the trigger's {expected!r}"
                )
        try:
            frozen = json.loads(canonical_json(dict(self.body)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"trigger body is not JSON-ready: {exc}") from None
        object.__setattr__(self, "body", MappingProxyType(frozen))

    @property
    def message_id(self) -> str:
        """The ``webhook-id``: ``"<type>:<id>"``, identical on every attempt.

        The type is part of it because an incident's detected and resolved messages
        share ``id`` and a receiver deduplicating on ``webhook-id`` must see both.
        """
        return f"{self.type}:{self.id}"


def airflow_dag_run_id(trigger: Trigger) -> str:
    """A stable Airflow ``dag_run_id``: ``drift-monitor__<detected|resolved>__<id>``.

    Airflow accepts ``[A-Za-z0-9_.~:+-]`` by default; other characters of the id are
    replaced by ``_`` and a 12-hex-digit hash of the original id is appended so that
    distinct ids never collide. At most 250 characters (Airflow's limit).
    """
    # drift.* keeps its historical run ids (detected/resolved); performance.* says so.
    kind = trigger.type.removeprefix("drift.").replace(".", "_")
    if _AIRFLOW_RUN_ID_SAFE.match(trigger.id):
        return f"{_AIRFLOW_RUN_ID_PREFIX}__{kind}__{trigger.id}"
    digest = hashlib.sha256(trigger.id.encode("utf-8")).hexdigest()[:12]
    safe = _AIRFLOW_UNSAFE_CHAR.sub("_", trigger.id)
    return f"{_AIRFLOW_RUN_ID_PREFIX}__{kind}__{safe}__{digest}"


def github_client_payload(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``client_payload`` for GitHub ``repository_dispatch``.

    GitHub rejects more than 10 top-level keys. The SPEC body has 9, so it is sent as
    it is; a body that ever grows past 10 is nested as ``{"type", "id", "model",
    "body": <whole body>}`` so workflows can still route on the first three.
    """
    if len(body) <= GITHUB_MAX_CLIENT_PAYLOAD_KEYS:
        return dict(body)
    return {"type": body["type"], "id": body["id"], "model": body["model"], "body": dict(body)}


def render_body(trigger: Trigger, target: WebhookTarget) -> bytes:
    """The request body bytes for ``trigger`` sent to ``target``, by its ``preset``.

    ``standard``: the SPEC body. ``github_repository_dispatch``:
    ``{"event_type": target.event_type, "client_payload": <body>}``. ``airflow_dag_run``:
    ``{"dag_run_id": airflow_dag_run_id(trigger), "conf": <body>}``. Canonical JSON.
    """
    body = dict(trigger.body)
    preset: Preset = target.preset
    if preset == "standard":
        return canonical_json(body)
    if preset == "github_repository_dispatch":
        return canonical_json(
            {"event_type": target.event_type, "client_payload": github_client_payload(body)}
        )
    return canonical_json({"dag_run_id": airflow_dag_run_id(trigger), "conf": body})


def preset_headers(preset: Preset) -> dict[str, str]:
    """Headers a preset's receiver expects; configured headers override them."""
    if preset == "github_repository_dispatch":
        return {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if preset == "airflow_dag_run":
        return {"Accept": "application/json"}
    return {}
