"""Fixtures of the resilience tests that run the daemon as a subprocess against a real
broker (the session's, or one of their own): daemon processes killed at teardown, with
their log tails printed when the test failed (the shared fixtures of
tests/services/daemons.py, re-exported here)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.services.daemons import daemons, pytest_runtest_makereport, unique


@pytest.fixture
def name_prefix() -> str:
    """Prefix of the ``unique`` names of the resilience tests."""
    return "res"


@pytest.fixture
def daemon_defaults() -> dict[str, Any]:
    """Nothing: each test names the broker (the session's, or one of its own) with
    ``daemons(name, bootstrap=...)``."""
    return {}


__all__ = ["daemons", "pytest_runtest_makereport", "unique"]
