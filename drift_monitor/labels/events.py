"""Decoding one label event (a record of a labels topic, or a label-only event on the
prediction topic) with a model's :class:`~drift_monitor.labels.config.LabelFields`.

Every failure raises :class:`~drift_monitor.errors.EventError` with a bounded reason
from :data:`LABEL_INVALID_REASONS` (a metric label and the dead-letter header): a bad
label event is counted and routed like a bad prediction event, never fatal.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import orjson

from drift_monitor.errors import EventError
from drift_monitor.labels.config import LabelFields, field_value

#: Every reason a label event can be invalid (bounded: metric label values).
LABEL_INVALID_REASONS = (
    "label_too_large",
    "label_bad_json",
    "label_not_object",
    "label_missing_event_id",
    "label_missing_label",
    "label_missing_model",
    "label_bad_timestamp",
    "label_future_timestamp",
    "label_bad_label",
    "label_unknown_model",
)
#: Epoch milliseconds are > 1e11 (1973 in ms, year 5138 in seconds): as the decoder.
_MS_ABOVE = 1e11


@dataclass(frozen=True, slots=True)
class LabelEvent:
    """A decoded label event: ``value`` is the raw JSON label (encoded later against
    the model's baseline), ``timestamp`` the label's event time in epoch seconds."""

    model: str
    event_id: str
    value: object
    timestamp: float


def decode_label_event(
    value: bytes | None,
    key: bytes | None,
    record_timestamp_ms: int,
    fields: LabelFields,
    *,
    default_model: str | None,
    max_bytes: int,
    now: float | None = None,
    max_future: float = math.inf,
) -> LabelEvent:
    """Decode one label record. The model is the event's ``fields.model`` field, else
    the record key, else ``default_model`` (the one model reading this topic). The
    time is ``fields.timestamp`` (RFC 3339 or epoch s/ms), else the record timestamp.
    Raises :class:`EventError` (reason ``label_*``) when it is not a usable label event;
    ``label_missing_label`` when it has no label (on the prediction topic: not a label
    event at all); ``label_future_timestamp`` when its time is more than ``max_future``
    seconds ahead of the wall clock ``now`` (epoch s), as for predictions."""
    if value is None:
        raise EventError("label_not_object", "record has no value (tombstone)")
    if len(value) > max_bytes:
        raise EventError(
            "label_too_large", f"{len(value)} bytes > decode.max_event_bytes {max_bytes}"
        )
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise EventError("label_bad_json", str(exc)[:200]) from None
    if not isinstance(obj, dict):
        raise EventError("label_not_object", f"value is a JSON {type(obj).__name__}")
    return decode_label_object(
        obj,
        key,
        record_timestamp_ms,
        fields,
        default_model=default_model,
        now=now,
        max_future=max_future,
    )


def decode_label_object(
    obj: dict[str, Any],
    key: bytes | None,
    record_timestamp_ms: int,
    fields: LabelFields,
    *,
    default_model: str | None,
    now: float | None = None,
    max_future: float = math.inf,
) -> LabelEvent:
    """:func:`decode_label_event` from the record value already parsed into a JSON
    object (size and JSON checks done by the caller): for a label-only event on the
    prediction topic, which the event decoder parsed first. Same errors otherwise."""
    label = field_value(obj, fields.label)
    if label is None:
        raise EventError("label_missing_label", f"no {fields.label!r} field (or it is null)")
    eid = field_value(obj, fields.event_id)
    if isinstance(eid, bool) or not isinstance(eid, str | int) or eid == "":
        raise EventError(
            "label_missing_event_id", f"{fields.event_id!r} must be a non-empty string"
        )
    model = field_value(obj, fields.model) if fields.model else None
    if model is None and key:
        try:
            model = key.decode("utf-8")
        except UnicodeDecodeError:
            model = None
    if model is None:
        model = default_model
    if not isinstance(model, str) or not model:
        raise EventError(
            "label_missing_model",
            f"no {fields.model!r} field, no record key, and several models read this topic",
        )
    raw_ts = field_value(obj, fields.timestamp) if fields.timestamp else None
    ts = _timestamp(raw_ts, record_timestamp_ms)
    if now is not None and ts - now > max_future:
        raise EventError(
            "label_future_timestamp",
            f"timestamp is {ts - now:.0f}s ahead of the wall clock "
            f"(decode.max_future_seconds {max_future:.0f})",
        )
    return LabelEvent(model, str(eid), label, ts)


def decode_label_flat(
    obj: dict[str, Any],
    fields: LabelFields,
    now: float | None = None,
    max_future: float = math.inf,
) -> LabelEvent | None:
    """:func:`decode_label_object`'s common case, cheaply: every field of ``fields`` a
    top-level key, a non-empty string event id and model, an int or float label, and a
    numeric timestamp (epoch s or ms) at most ``max_future`` seconds ahead of ``now``.
    Returns the same :class:`LabelEvent` :func:`decode_label_object` returns for ``obj``
    (whatever the record key and timestamp), or None when ``obj`` is anything else: the
    caller then decodes it with :func:`decode_label_object` (which gives the exact
    error). Never raises."""
    model_field, ts_field = fields.model, fields.timestamp
    if not model_field or not ts_field:  # the record key or timestamp may decide
        return None
    label = obj.get(fields.label)
    eid = obj.get(fields.event_id)
    model = obj.get(model_field)
    raw = obj.get(ts_field)
    tl, tr = type(label), type(raw)
    if (
        (tl is not int and tl is not float)
        or type(eid) is not str
        or not eid
        or type(model) is not str
        or not model
        or (tr is not int and tr is not float)
    ):
        return None
    if tr is int and not 0 <= raw < 2**63:  # type: ignore[operator]
        return None
    ts = float(raw)  # type: ignore[arg-type]
    if not ts >= 0.0 or ts == math.inf:  # NaN, negative, infinite: the slow path says
        return None
    if ts > _MS_ABOVE:
        ts /= 1000.0
    if now is not None and ts - now > max_future:
        return None
    return LabelEvent(model, eid, label, ts)


def _timestamp(raw: object, record_timestamp_ms: int) -> float:
    if raw is None:
        if record_timestamp_ms < 0:
            raise EventError("label_bad_timestamp", "no timestamp field and no record timestamp")
        return record_timestamp_ms / 1000.0
    if isinstance(raw, bool):
        raise EventError("label_bad_timestamp", "timestamp is a boolean")
    if isinstance(raw, int | float):
        ts = float(raw)
        if not math.isfinite(ts) or ts < 0:
            raise EventError("label_bad_timestamp", f"timestamp {raw!r} is not an epoch time")
        return ts / 1000.0 if ts > _MS_ABOVE else ts
    if isinstance(raw, str) and len(raw) <= 64:
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise EventError("label_bad_timestamp", f"not RFC 3339: {raw[:40]!r}") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)  # naive = UTC, as for predictions
        return parsed.timestamp()
    raise EventError("label_bad_timestamp", "timestamp must be an RFC 3339 string or a number")
