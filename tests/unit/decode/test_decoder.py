"""Decoding: the SPEC shape, flat events, renamed fields, every invalid reason."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from drift_monitor.config.models import DecodeSettings
from drift_monitor.decode import INVALID_REASONS, Decoder
from drift_monitor.decode.decoder import Event
from drift_monitor.errors import EventError

REC_TS = int(dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp() * 1000)


def dec(
    value: object,
    key: bytes | None = None,
    settings: DecodeSettings | None = None,
    topic_models: dict[str, str] | None = None,
) -> Event:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return Decoder(settings or DecodeSettings(), topic_models).decode(raw, key, "t", REC_TS)


def test_spec_event() -> None:
    e = dec(
        {
            "model": "fraud",
            "event_id": "x1",
            "timestamp": "2026-11-26T10:00:00.123Z",
            "features": {"amount": 12.5, "country": "IN", "age": None},
            "prediction": 0.87,
            "label": None,
        }
    )
    assert e.model == "fraud"
    assert e.event_id == "x1"
    assert e.timestamp == pytest.approx(REC_TS / 1000 + 0.123)
    assert e.features == {"amount": 12.5, "country": "IN", "age": None}
    assert e.prediction == 0.87


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (1764151200, 1764151200.0),  # epoch seconds
        (1764151200123, 1764151200.123),  # epoch milliseconds
        ("2026-11-26T10:00:00+01:00", REC_TS / 1000 - 3600),
        ("2026-11-26T10:00:00", REC_TS / 1000),  # naive = UTC
    ],
)
def test_timestamp_forms(ts: object, expected: float) -> None:
    assert dec({"model": "m", "timestamp": ts, "features": {}}).timestamp == pytest.approx(expected)


def test_missing_timestamp_uses_record_time_and_model_from_key_or_topic() -> None:
    e = dec({"features": {"a": 1}}, key=b"churn")
    assert e.model == "churn" and e.timestamp == REC_TS / 1000
    e2 = dec(
        {"features": {"a": 1}},
        topic_models={"t": "pricing"},
        settings=DecodeSettings(model_from_key=False),
    )
    assert e2.model == "pricing"


def test_flat_layout_with_renamed_fields() -> None:
    s = DecodeSettings(
        layout="flat",
        model_field="svc",
        timestamp_field="ts",
        prediction_field="eta",
        event_id_field="id",
    )
    e = dec(
        {"svc": "pricing", "ts": 1764151200000, "id": 7, "distance": 3.2, "zone": "N", "eta": 14.5},
        settings=s,
    )
    assert e.model == "pricing" and e.event_id == "7" and e.prediction == 14.5
    assert e.features == {"distance": 3.2, "zone": "N"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "bad_json"),
        (b"\xff\xfe{}", "not_utf8"),
        (b"[1, 2]", "not_object"),
        (b'{"features": {}}', "missing_model"),
        (b'{"model": 5, "features": {}}', "bad_model"),
        (b'{"model": "m"}', "missing_features"),
        (b'{"model": "m", "features": [1]}', "wrong_type"),
        (b'{"model": "m", "features": {}, "timestamp": "yesterday"}', "bad_timestamp"),
        (b'{"model": "m", "features": {}, "timestamp": true}', "bad_timestamp"),
        (
            b'{"model": "m", "features": {}, "timestamp": "2099-01-01T00:00:00Z"}',
            "future_timestamp",
        ),
        (b'{"model": "m", "features": {}, "event_id": {"a": 1}}', "wrong_type"),
        (b'{"model": "m", "features": {"x": NaN}}', "bad_json"),
    ],
)
def test_invalid_reasons(raw: bytes, reason: str) -> None:
    with pytest.raises(EventError) as err:
        dec(raw, settings=DecodeSettings(model_from_key=False))
    assert err.value.reason == reason
    assert reason in INVALID_REASONS


def test_too_large_and_tombstone() -> None:
    d = Decoder(DecodeSettings(max_event_bytes=64))
    with pytest.raises(EventError) as err:
        d.decode(b'{"model": "m", "features": {"x": "' + b"a" * 100 + b'"}}', None, "t", REC_TS)
    assert err.value.reason == "too_large"
    with pytest.raises(EventError) as err:
        d.decode(None, None, "t", REC_TS)
    assert err.value.reason == "not_object"
