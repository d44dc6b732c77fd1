"""Daemon configs of the benchmarks, as mappings (validated for an in-process
:class:`~drift_monitor.daemon.Monitor`, or rendered for a daemon subprocess with
``tests.services.daemon.DaemonConfig.of_document``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drift_monitor.config import AppConfig, validate_config


def window_config(size_seconds: float = 300.0, **extra: Any) -> dict[str, Any]:
    """The benchmarks' window: tumbling, 5 minutes, 30 s allowed lateness."""
    return {
        "type": "tumbling",
        "size_seconds": size_seconds,
        "allowed_lateness_seconds": 30.0,
        "idle_timeout_seconds": 60.0,
        **extra,
    }


def app_config(
    workdir: Path,
    models: Sequence[str],
    *,
    bootstrap: str = "in-memory:0",
    topic: str = "predictions",
    group: str = "drift-monitor-bench",
    http_port: int = 0,
    window: dict[str, Any] | None = None,
    episodes: dict[str, Any] | None = None,
    webhooks: dict[str, Any] | None = None,
    log_level: str = "WARNING",
    baselines_dir: Path | None = None,
) -> dict[str, Any]:
    """A daemon config (as a mapping, ready to validate or dump as YAML); baselines in
    ``baselines_dir`` (default ``workdir/baselines``), state in ``workdir/state``."""
    cfg: dict[str, Any] = {
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "topics": [topic],
            "group_id": group,
            "poll_timeout_ms": 200,
        },
        "baselines": {
            "dir": str(baselines_dir or workdir / "baselines"),
            "reload_interval_seconds": 30,
        },
        "state": {"dir": str(workdir / "state")},
        "http": {"host": "127.0.0.1", "port": http_port},
        "defaults": {"window": window or window_config(), "episodes": episodes or {}},
        "models": [{"name": m} for m in models],
        "logging": {"level": log_level},
    }
    if webhooks:
        cfg["webhooks"] = webhooks
    return cfg


def validated(cfg: dict[str, Any]) -> AppConfig:
    """The config mapping validated."""
    return validate_config(cfg, "bench config")
