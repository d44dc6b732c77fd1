"""The daemon's configuration, as pydantic models (the YAML file's schema).

``drift-monitor config schema`` prints this as JSON Schema and docs/CONFIG.md is
generated from it, so the reference cannot drift from the code. Every model forbids
unknown fields so that a misspelled field is an error, not a silent default.
Per-model ``window``, ``detection`` and ``episodes`` are merged over ``defaults``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drift_monitor.evaluation.settings import DetectionSettings
from drift_monitor.webhooks.config import SecretRef, WebhookSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SslSettings(_Strict):
    """TLS towards the brokers (passed to kafka-python's ``ssl_*`` options)."""

    cafile: Path | None = Field(default=None, description="CA bundle (PEM).")
    certfile: Path | None = Field(default=None, description="Client certificate (PEM).")
    keyfile: Path | None = Field(default=None, description="Client private key (PEM).")
    password: SecretRef | None = Field(default=None, description="Password of the key file.")
    check_hostname: bool = Field(default=True, description="Verify the broker's host name.")


class SaslSettings(_Strict):
    """SASL authentication (PLAIN, SCRAM-SHA-256/512)."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: str
    password: SecretRef


class KafkaSettings(_Strict):
    """Where events come from."""

    bootstrap_servers: list[str] = Field(
        min_length=1, description="Brokers as host:port, e.g. ['kafka-1:9092']."
    )
    topics: list[str] = Field(min_length=1, description="Topics of prediction events.")
    group_id: str = Field(default="drift-monitor", description="Consumer group id.")
    client_id: str = Field(default="drift-monitor", description="Kafka client id.")
    client: Literal["kafka-python", "confluent"] = Field(
        default="kafka-python",
        description="Kafka client library: `kafka-python` (pure Python) or `confluent` "
        "(confluent-kafka, librdkafka: faster, see README 'Kafka client').",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a group with no committed offset starts reading, and where an "
        "out-of-range position jumps to (its records were deleted by retention before they "
        "were read, or the topic was recreated): `earliest` loses only the deleted records, "
        "`latest` also every record up to the partition's end. Either way the records "
        "passed over are counted in drift_monitor_events_skipped_total and shown in /status.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl: SslSettings | None = None
    sasl: SaslSettings | None = None
    max_poll_records: int = Field(default=5000, ge=1, description="Records per poll batch.")
    poll_timeout_ms: int = Field(default=500, ge=1, description="Longest wait of one poll.")
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    dead_letter_topic: str | None = Field(
        default=None,
        description="Invalid events are copied here with the reason in a header.",
    )
    report_topic: str | None = Field(
        default=None, description="Drift incidents are also produced here (webhook body)."
    )
    topic_models: dict[str, str] = Field(
        default_factory=dict,
        description="topic -> model, for events that carry no model field and no key.",
    )


class BaselineSettings(_Strict):
    """Where baselines live. A model's file is ``<dir>/<model>.dmb`` unless it names one."""

    dir: Path = Field(default=Path("baselines"), description="Directory of .dmb files.")
    reload_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often changed baseline files are reloaded."
    )


class StateSettings(_Strict):
    """Local durable state (webhook outbox, drift episodes, window audit log)."""

    dir: Path = Field(default=Path("state"), description="Directory for durable state.")
    audit_windows: bool = Field(
        default=False,
        description="Append every closed window (bounds, counts, event ids) to "
        "<dir>/windows-audit.jsonl; for verification and backfills.",
    )


class HttpSettings(_Strict):
    """The single HTTP port: /metrics, /healthz, /readyz, /status."""

    host: str = Field(default="127.0.0.1", description="Bind address (0.0.0.0 in containers).")
    port: int = Field(default=9108, ge=0, le=65535, description="Port (0 = any free port).")
    liveness_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="/healthz answers 503 when the consume loop has not completed a round "
        "for this long (e.g. a Kafka client call that never returns), so a liveness probe "
        "restarts the process.",
    )


class DecodeSettings(_Strict):
    """How a Kafka record value maps to an event.

    ``nested`` (default): features under ``fields.features``. ``flat``: every top-level
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
        description="Event timestamps further ahead of the record timestamp are invalid "
        "(future_timestamp): one such event would otherwise advance the watermark and "
        "close windows early. Allow for producer clock skew.",
    )


class WindowSettings(_Strict):
    """Event-time windows of one model.

    ``tumbling``: consecutive windows of ``size_seconds``. ``sliding``: windows of
    ``size_seconds`` every ``slide_seconds`` (size a multiple of slide). ``count``:
    every ``size_events`` events. A window closes when the model's event-time
    watermark (largest timestamp seen minus ``allowed_lateness_seconds``) passes its
    end, or after ``idle_timeout_seconds`` of processing time without events.
    """

    type: Literal["tumbling", "sliding", "count"] = "tumbling"
    size_seconds: float = Field(default=300.0, gt=0)
    slide_seconds: float | None = Field(default=None, gt=0)
    size_events: int = Field(default=10_000, ge=1)
    allowed_lateness_seconds: float = Field(default=30.0, ge=0)
    idle_timeout_seconds: float = Field(default=60.0, gt=0)
    max_events: int = Field(
        default=200_000,
        ge=100,
        description="Values kept per window for statistics; beyond it a uniform reservoir "
        "sample is kept (counts stay exact). Bounds memory.",
    )
    evaluate_open_every_seconds: float | None = Field(
        default=None, gt=0, description="Also evaluate the open window periodically (gauges)."
    )

    @model_validator(mode="after")
    def _check(self) -> WindowSettings:
        if self.type == "sliding":
            if self.slide_seconds is None:
                raise ValueError("sliding windows need slide_seconds")
            ratio = self.size_seconds / self.slide_seconds
            if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
                raise ValueError("size_seconds must be a whole multiple of slide_seconds")
        return self


class EpisodeSettings(_Strict):
    """Hysteresis that turns window verdicts into drift incidents (and webhooks)."""

    enter_after: int = Field(default=2, ge=1, description="Consecutive alerting windows.")
    resolve_after: int = Field(default=3, ge=1, description="Consecutive clean windows.")
    cooldown_seconds: float = Field(
        default=0.0, ge=0, description="Minimum event time between two incidents of a model."
    )


class ModelSettings(_Strict):
    """One monitored model."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    baseline: Path | None = Field(
        default=None, description="Baseline file; default <baselines.dir>/<name>.dmb."
    )
    window: WindowSettings = Field(default_factory=WindowSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    episodes: EpisodeSettings = Field(default_factory=EpisodeSettings)


class Defaults(_Strict):
    """Defaults merged under every model's own settings."""

    window: dict[str, Any] = Field(default_factory=dict)
    detection: dict[str, Any] = Field(default_factory=dict)
    episodes: dict[str, Any] = Field(default_factory=dict)


class LoggingSettings(_Strict):
    """Logs go to stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"
    invalid_events_per_minute: int = Field(
        default=10, ge=0, description="Rate limit of the per-invalid-event log lines."
    )


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class AppConfig(_Strict):
    """The whole configuration file."""

    kafka: KafkaSettings
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)
    defaults: Defaults = Field(default_factory=Defaults)
    models: list[ModelSettings] = Field(min_length=1)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @model_validator(mode="before")
    @classmethod
    def _merge_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        models = data.get("models")
        if not isinstance(defaults, dict) or not isinstance(models, list):
            return data
        merged = []
        for raw in models:
            m = dict(raw) if isinstance(raw, dict) else raw
            if isinstance(m, dict):
                for section in ("window", "detection", "episodes"):
                    base = defaults.get(section) or {}
                    if isinstance(base, dict) and base:
                        own = m.get(section) or {}
                        if isinstance(own, dict):
                            m[section] = _deep_merge(base, own)
            merged.append(m)
        return {**data, "models": merged}

    @model_validator(mode="after")
    def _unique_models(self) -> AppConfig:
        names = [m.name for m in self.models]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"model {sorted(dup)[0]!r} is configured twice")
        return self

    def model(self, name: str) -> ModelSettings | None:
        """The settings of model ``name``, or None when it is not configured."""
        for m in self.models:
            if m.name == name:
                return m
        return None

    def detection_for(self, model: str) -> DetectionSettings:
        """Detection settings of ``model`` (the defaults' when it is not configured)."""
        m = self.model(model)
        if m is not None:
            return m.detection
        return DetectionSettings.model_validate(self.defaults.detection)

    def baseline_path(self, model: ModelSettings) -> Path:
        """The baseline file of ``model``: its own, else <baselines.dir>/<name>.dmb."""
        if model.baseline is not None:
            return (
                model.baseline
                if model.baseline.is_absolute()
                else (self.baselines.dir / model.baseline)
            )
        return self.baselines.dir / f"{model.name}.dmb"
