"""Fixtures of the webhook tests (a manual clock, the secrets' environment, a recording
receiver, the outbox path), imported by the conftests of tests/unit/webhooks and
tests/service/webhooks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.demo.receiver import WebhookReceiver
from tests.unit.webhooks.factories import BEARER, NEXT_SECRET, SECRET, START


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def rng() -> random.Random:
    return random.Random(1234)


@pytest.fixture
def environ() -> dict[str, str]:
    """The environment the config's ``env`` references are resolved against."""
    return {"HOOK_SECRET": SECRET, "NEXT_HOOK_SECRET": NEXT_SECRET, "HOOK_TOKEN": BEARER}


@pytest.fixture
def receiver(clock: ManualClock) -> Iterator[WebhookReceiver]:
    """A receiver that records (does not verify) what arrives at ``/hook``."""
    r = WebhookReceiver(now=clock.now, path="/hook").start()
    yield r
    r.stop()


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "webhook-outbox.sqlite3"
