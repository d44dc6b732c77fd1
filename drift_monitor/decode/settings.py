"""Settings of event decoding: the field mapping and the validation bounds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from drift_monitor.settings import StrictModel


class DecodeSettings(StrictModel):
    """How a Kafka record value maps to an event.

    ``nested`` (default): features under the ``features`` key (renamed with
    ``features_field``). ``flat``: every top-level
    key that is not one of the other fields is a feature.
    """

    layout: Literal["nested", "flat"] = "nested"
    model_field: str = "model"
    event_id_field: str = "event_id"
    timestamp_field: str = "timestamp"
    features_field: str = "features"
    prediction_field: str = "prediction"
    label_field: str = "label"
    model_from_key: bool = Field(
        default=True, description="Take the model from the record key when the event has none."
    )
    max_event_bytes: int = Field(
        default=1_048_576, ge=64, description="Larger record values are invalid (too_large)."
    )
    max_future_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Event timestamps further ahead of the wall clock (or of the record "
        "timestamp) are invalid (future_timestamp): one such event would otherwise advance "
        "the watermark and close windows early. Allow for producer clock skew. Event times "
        "outside 1970-01-01..2200-01-01 UTC are invalid too (timestamp_out_of_range).",
    )
