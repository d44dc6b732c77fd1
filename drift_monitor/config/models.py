"""The daemon's configuration, as pydantic models (the YAML file's schema).

``drift-monitor config schema`` prints this as JSON Schema and docs/CONFIG.md is
generated from it, so the reference cannot drift from the code. Every model forbids
unknown fields so that a misspelled field is an error, not a silent default.
Per-model ``window``, ``detection`` and ``episodes`` are merged over ``defaults``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from drift_monitor.decode.settings import DecodeSettings
from drift_monitor.evaluation.settings import DetectionSettings, EpisodeSettings
from drift_monitor.labels.config import LabelSettings
from drift_monitor.settings import StrictModel
from drift_monitor.source.settings import KafkaSettings, SaslSettings, SslSettings
from drift_monitor.webhooks.config import WebhookSettings
from drift_monitor.windows.settings import WindowSettings

# The stage-owned settings this file composes (re-exported: one definition each, in its
# stage's package).
__all__ = [
    "AppConfig",
    "BaselineSettings",
    "DecodeSettings",
    "Defaults",
    "DetectionSettings",
    "EpisodeSettings",
    "HttpSettings",
    "KafkaSettings",
    "LabelSettings",
    "LoggingSettings",
    "ModelSettings",
    "SaslSettings",
    "SslSettings",
    "StateSettings",
    "WebhookSettings",
    "WindowSettings",
]


class BaselineSettings(StrictModel):
    """Where baselines live. A model's file is ``<dir>/<model>.dmb`` unless it names one."""

    dir: Path = Field(default=Path("baselines"), description="Directory of .dmb files.")
    reload_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often changed baseline files are reloaded."
    )


class StateSettings(StrictModel):
    """Local durable state (webhook outbox, drift episodes, window audit log)."""

    dir: Path = Field(default=Path("state"), description="Directory for durable state.")
    audit_windows: bool = Field(
        default=False,
        description="Append every closed window (the per-window record: model, baseline "
        "version, window bounds in ms, events, status, every column's tests; plus bounds "
        "in epoch seconds and the event ids) to <dir>/windows-audit.jsonl, fsynced before "
        "the commit; for verification, backfills and `drift-monitor report --from`.",
    )


class HttpSettings(StrictModel):
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
    status_windows: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="/status lists this many of each model's latest evaluated windows "
        "(newest first, bounds in epoch ms).",
    )


def _number_as_text(value: Any) -> Any:
    """A YAML number (``tier: 1``) as its text; anything else unchanged (bool stays bool)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ModelSettings(StrictModel):
    """One monitored model."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    baseline: Path | None = Field(
        default=None,
        description="Baseline file; default <baselines.dir>/<name>.dmb. A relative path is "
        "relative to baselines.dir (not to the config file).",
    )
    window: WindowSettings = Field(default_factory=WindowSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    episodes: EpisodeSettings = Field(default_factory=EpisodeSettings)
    # Routing labels of drift_monitor_model_info (Alertmanager routes on them; the
    # alert rules map tier to severity). Bounded: one value each per configured model.
    owner: str = Field(default="", max_length=128, description="Who is paged for this model.")
    team: str = Field(default="", max_length=128, description="Team that owns the model.")
    # `tier: 1` in YAML is an int: taken as "1".
    tier: Annotated[str, BeforeValidator(_number_as_text)] = Field(
        default="",
        max_length=32,
        description="Criticality tier; the shipped alert rules page (critical) for tier 1, "
        "warn for tier 2 and inform for tier 3; empty or other values page.",
    )
    # Model quality (issue 15): the label join and degradation decision; absent: off.
    labels: LabelSettings | None = None


class Defaults(StrictModel):
    """Defaults merged under every model's own settings."""

    window: dict[str, Any] = Field(default_factory=dict)
    detection: dict[str, Any] = Field(default_factory=dict)
    episodes: dict[str, Any] = Field(default_factory=dict)


class LoggingSettings(StrictModel):
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


class AppConfig(StrictModel):
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
