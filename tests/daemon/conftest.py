"""Fixtures of the in-memory daemon tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.daemon.support import make_setup


@pytest.fixture
def setup(tmp_path: Path) -> Any:
    """(config, tmp_path): model ``m`` with 60 s windows, audit on, enter_after 1."""
    return make_setup(tmp_path)
