"""The daemon's configuration: pydantic models and the YAML loader."""

from drift_monitor.config.loader import (
    apply_env_overrides,
    check_secrets,
    load_config,
    validate_config,
)
from drift_monitor.config.models import (
    AppConfig,
    DecodeSettings,
    EpisodeSettings,
    KafkaSettings,
    ModelSettings,
    WindowSettings,
)

__all__ = [
    "AppConfig",
    "DecodeSettings",
    "EpisodeSettings",
    "KafkaSettings",
    "ModelSettings",
    "WindowSettings",
    "apply_env_overrides",
    "check_secrets",
    "load_config",
    "validate_config",
]
