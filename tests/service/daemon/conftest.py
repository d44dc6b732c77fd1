"""Fixtures of the in-memory daemon tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from drift_monitor.config import AppConfig
from tests.service.daemon.support import make_setup


@pytest.fixture
def setup(tmp_path: Path) -> tuple[AppConfig, Path]:
    """(config, tmp_path): model ``m`` with 60 s windows, audit on, enter_after 1."""
    return make_setup(tmp_path)
