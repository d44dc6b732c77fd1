"""Signed retraining webhooks with a durable outbox.

Flow: the drift decision builds a ``Trigger`` -> ``Dispatcher.submit`` writes it to the
``Outbox`` (SQLite, before anything is sent) -> the scheduler calls
``Dispatcher.deliver_due`` -> each due row is rendered by its target's preset, signed
(Standard Webhooks), POSTed through a ``Transport`` and delivered, retried or dead.

Receivers verify requests with ``verify`` (or any Standard Webhooks library).
See docs/WEBHOOKS.md.
"""

from drift_monitor.settings import SecretRef
from drift_monitor.webhooks.config import HeaderRef, WebhookSettings, WebhookTarget
from drift_monitor.webhooks.delivery import (
    DeliveryStats,
    Dispatcher,
    backoff_seconds,
    parse_retry_after,
)
from drift_monitor.webhooks.outbox import (
    DeliveryKey,
    FinishedDelivery,
    Outbox,
    PendingDelivery,
)
from drift_monitor.webhooks.payload import (
    Trigger,
    TriggerType,
    airflow_dag_run_id,
    canonical_json,
    render_body,
)
from drift_monitor.webhooks.signing import SignatureError, sign, verify
from drift_monitor.webhooks.transport import (
    HttpTransport,
    MemoryTransport,
    RecordedRequest,
    Transport,
    TransportError,
    TransportResponse,
)

__all__ = [
    "DeliveryKey",
    "DeliveryStats",
    "Dispatcher",
    "FinishedDelivery",
    "HeaderRef",
    "HttpTransport",
    "MemoryTransport",
    "Outbox",
    "PendingDelivery",
    "RecordedRequest",
    "SecretRef",
    "SignatureError",
    "Transport",
    "TransportError",
    "TransportResponse",
    "Trigger",
    "TriggerType",
    "WebhookSettings",
    "WebhookTarget",
    "airflow_dag_run_id",
    "backoff_seconds",
    "canonical_json",
    "parse_retry_after",
    "render_body",
    "sign",
    "verify",
]
