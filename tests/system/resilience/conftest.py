"""Fixtures of the resilience tests that run the daemon as a subprocess against a real
broker (the session's, or one of their own): daemon processes killed at teardown, with
their log tails printed when the test failed (the shared fixtures of
tests/services/daemons.py, re-exported here), and the baselines of their small model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.services.daemons import daemons, pytest_runtest_makereport, topic_daemon, unique
from tests.system.resilience.kafka_support import write_baselines


@pytest.fixture
def name_prefix() -> str:
    """Prefix of the ``unique`` names of the resilience tests."""
    return "res"


@pytest.fixture
def daemon_defaults() -> dict[str, Any]:
    """Nothing: each test names the broker (the session's, or one of its own) with
    ``daemons(name, bootstrap=...)``."""
    return {}


@pytest.fixture
def baselines_dir(tmp_path: Path) -> Callable[..., Path]:
    """``write(*models)`` saves the resilience tests' small model's baseline
    (:func:`kafka_support.write_baselines`) for each model into ``tmp_path/baselines``
    and returns that directory."""
    return lambda *models: write_baselines(tmp_path / "baselines", models)


__all__ = ["daemons", "pytest_runtest_makereport", "topic_daemon", "unique"]
