"""Decoding and validating one Kafka record value into an :class:`Event`.

The SPEC's event shape, and a configurable mapping for flat events and renamed fields
(:class:`~drift_monitor.config.models.DecodeSettings`). Every failure raises
:class:`~drift_monitor.errors.EventError` with a short, bounded ``reason`` (a metric
label and the dead-letter header) — never anything else: a bad record is counted and
routed, never fatal.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import orjson

from drift_monitor.clock import Clock, SystemClock
from drift_monitor.decode.settings import DecodeSettings
from drift_monitor.errors import EventError

#: Every reason an event can be invalid (bounded: these are metric label values).
INVALID_REASONS = (
    "too_large",
    "not_utf8",
    "bad_json",
    "not_object",
    "missing_model",
    "bad_model",
    "missing_features",
    "bad_timestamp",
    "future_timestamp",
    "timestamp_out_of_range",
    "wrong_type",
    "non_finite",
)

_MAX_MODEL_LEN = 200

#: The sane range of event time, epoch seconds: [1970-01-01T00:00:00Z, 2200-01-01T00:00:00Z).
#: Outside it an event is invalid (``timestamp_out_of_range``): a year-1 timestamp with a
#: +14:00 offset is before year 1 in UTC, which ``datetime`` cannot represent when an
#: incident opens, and window arithmetic must stay far from datetime's year-9999 limit.
MIN_EVENT_TIME = 0.0
MAX_EVENT_TIME = dt.datetime(2200, 1, 1, tzinfo=dt.UTC).timestamp()


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded event. ``timestamp`` is event time in epoch seconds; ``features`` maps
    column name to raw JSON value (None = missing); ``prediction`` is the raw JSON
    prediction (a scalar, an object of several outputs, or None)."""

    model: str
    event_id: str | None
    timestamp: float
    features: dict[str, Any]
    prediction: Any


class Decoder:
    """Turns record values into events according to :class:`DecodeSettings`.

    ``topic_models`` gives the model of a topic whose events name none (and have no key).
    ``clock`` is processing time (the daemon's injected clock; the system clock when
    None): an event time more than ``max_future_seconds`` ahead of it is invalid.
    """

    def __init__(
        self,
        settings: DecodeSettings,
        topic_models: dict[str, str] | None = None,
        clock: Clock | None = None,
    ):
        self._s = settings
        self._topic_models = topic_models or {}
        self._clock = clock or SystemClock()
        self._reserved = {
            settings.model_field,
            settings.event_id_field,
            settings.timestamp_field,
            settings.prediction_field,
            settings.label_field,
        }

    def decode(
        self, value: bytes | None, key: bytes | None, topic: str, record_timestamp_ms: int
    ) -> Event:
        """Decode one record. Raises :class:`EventError` (never anything else) with a
        reason from :data:`INVALID_REASONS`."""
        return self.decode_object(self.parse(value), key, topic, record_timestamp_ms)

    def parse(self, value: bytes | None) -> dict[str, Any]:
        """The first half of :meth:`decode`: the record value as a JSON object (size,
        UTF-8, JSON and object checks). Raises :class:`EventError` as :meth:`decode`.
        Lets a caller that may read the object another way (a label-only event) parse
        it once."""
        s = self._s
        if value is None:
            raise EventError("not_object", "record has no value (tombstone)")
        if len(value) > s.max_event_bytes:
            raise EventError(
                "too_large", f"{len(value)} bytes > decode.max_event_bytes {s.max_event_bytes}"
            )
        try:
            obj = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            msg = str(exc)
            if "not valid utf-8" in msg.lower():
                raise EventError("not_utf8", "value is not valid UTF-8") from None
            if "infinity" in msg.lower():
                # Valid JSON (e.g. 1e400) whose number overflows a double: non-finite.
                raise EventError("non_finite", msg[:200]) from None
            raise EventError("bad_json", msg[:200]) from None
        if not isinstance(obj, dict):
            raise EventError("not_object", f"value is a JSON {type(obj).__name__}, not an object")
        return obj

    def decode_object(
        self, obj: dict[str, Any], key: bytes | None, topic: str, record_timestamp_ms: int
    ) -> Event:
        """The second half of :meth:`decode`: the event from a parsed JSON object (from
        :meth:`parse`). Raises :class:`EventError` as :meth:`decode`."""
        s = self._s
        model = obj.get(s.model_field)
        if model is None:
            if s.model_from_key and key:
                try:
                    model = key.decode("utf-8")
                except UnicodeDecodeError:
                    raise EventError("bad_model", "record key is not valid UTF-8") from None
            else:
                model = self._topic_models.get(topic)
            if model is None:
                raise EventError(
                    "missing_model",
                    f"no {s.model_field!r} field, no record key and no kafka.topic_models "
                    f"entry for topic {topic!r}",
                )
        if not isinstance(model, str) or not model or len(model) > _MAX_MODEL_LEN:
            raise EventError("bad_model", f"{s.model_field!r} must be a non-empty short string")

        if s.layout == "nested":
            features = obj.get(s.features_field)
            if features is None:
                raise EventError("missing_features", f"no {s.features_field!r} object")
            if not isinstance(features, dict):
                raise EventError("wrong_type", f"{s.features_field!r} must be an object")
        else:
            features = {k: v for k, v in obj.items() if k not in self._reserved}

        ts = self.timestamp(obj.get(s.timestamp_field), record_timestamp_ms)
        event_id = obj.get(s.event_id_field)
        if event_id is not None and not isinstance(event_id, str | int):
            raise EventError("wrong_type", f"{s.event_id_field!r} must be a string")
        return Event(
            model=model,
            event_id=None if event_id is None else str(event_id),
            timestamp=ts,
            features=features,
            prediction=obj.get(s.prediction_field),
        )

    @property
    def settings(self) -> DecodeSettings:
        """The field mapping and validation bounds."""
        return self._s

    def timestamp(self, raw: Any, record_timestamp_ms: int, now: float | None = None) -> float:
        """Event time (epoch s) of the raw ``timestamp`` field (None: the record's
        timestamp, ms; -1 = none), checked against processing time ``now`` (epoch s; the
        decoder's clock when None). Raises :class:`EventError` as :meth:`decode` does."""
        record_ts = record_timestamp_ms / 1000.0
        if raw is None:
            if record_timestamp_ms < 0:
                raise EventError("bad_timestamp", "no timestamp field and no record timestamp")
            ts = record_ts
        elif isinstance(raw, bool):
            raise EventError("bad_timestamp", "timestamp is a boolean")
        elif isinstance(raw, int | float):
            ts = float(raw)
            if not math.isfinite(ts) or ts < 0:
                raise EventError("bad_timestamp", f"timestamp {raw!r} is not a valid epoch time")
            # Epoch milliseconds are > 1e11 (1973 in ms, year 5138 in seconds).
            if ts > 1e11:
                ts /= 1000.0
        elif isinstance(raw, str):
            ts = parse_rfc3339(raw)
        else:
            raise EventError("bad_timestamp", "timestamp must be an RFC 3339 string or a number")
        if ts < MIN_EVENT_TIME:
            raise _out_of_range(ts)
        limit = self._s.max_future_seconds
        if record_timestamp_ms >= 0 and ts - record_ts > limit:
            raise EventError(
                "future_timestamp",
                f"timestamp is {ts - record_ts:.0f}s ahead of the record timestamp "
                f"(decode.max_future_seconds {limit:.0f})",
            )
        # The record timestamp is the producer's claim too (and the event time when the
        # event has none): only processing time bounds how far the watermark can jump.
        ahead = ts - (self._clock.now() if now is None else now)
        if ahead > limit:
            raise EventError(
                "future_timestamp",
                f"timestamp is {ahead:.0f}s ahead of the wall clock "
                f"(decode.max_future_seconds {limit:.0f})",
            )
        if not ts < MAX_EVENT_TIME:
            raise _out_of_range(ts)
        return ts


def _out_of_range(ts: float) -> EventError:
    return EventError(
        "timestamp_out_of_range",
        f"timestamp {ts:.0f} is outside 1970-01-01..2200-01-01 UTC (epoch seconds)",
    )


def parse_rfc3339(raw: str) -> float:
    """Epoch seconds of an RFC 3339 string (a naive one is UTC); raises EventError
    (``bad_timestamp``)."""
    if len(raw) > 64:
        raise EventError("bad_timestamp", "timestamp string too long")
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise EventError("bad_timestamp", f"not an RFC 3339 timestamp: {raw[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)  # a naive timestamp is taken as UTC
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        raise EventError("bad_timestamp", f"timestamp out of range: {raw[:40]!r}") from None
