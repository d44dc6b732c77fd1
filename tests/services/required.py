"""What the test contract requires under ``CI=true``: a missing service or capability
(the Kafka broker, promtool, a tmpfs mount) is a failure there, never a skip; on a
developer's machine the test is skipped with the reason and how to get it."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """True when ``CI`` is set to ``true``, ``1`` or ``yes`` (any case)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def unavailable(ci_message: str, skip_message: str | None = None) -> NoReturn:
    """Fail with ``ci_message`` under CI=true, else skip with ``skip_message`` (default:
    the same text)."""
    if in_ci():
        pytest.fail(ci_message, pytrace=False)
    pytest.skip(skip_message if skip_message is not None else ci_message)
