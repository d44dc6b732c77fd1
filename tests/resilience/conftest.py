"""Fixtures of the resilience tests that run the daemon as a subprocess against a real
broker (the session's, or one of their own): daemon processes killed at teardown, with
their log tails printed when the test failed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.daemon import DaemonProcess
from tests.resilience.kafka_support import ResilienceConfig


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("topic")`` -> a topic or group name no other test uses."""
    tag = uuid.uuid4().hex[:8]
    return lambda prefix: f"res-{prefix}-{tag}"


@pytest.fixture
def daemons(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., DaemonProcess]]:
    """``daemons(name, bootstrap=..., **ResilienceConfig fields)`` -> a daemon (not yet
    started) whose state lives in ``tmp_path/<name>/state``. Killed at teardown; the
    tail of its log is printed when the test failed."""
    made: list[DaemonProcess] = []

    def make(name: str, **fields: Any) -> DaemonProcess:
        workdir = tmp_path / name
        fields.setdefault("state_dir", workdir / "state")
        d = DaemonProcess(name, ResilienceConfig(**fields), workdir)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        for d in made:
            print(f"\n{d.log_tail(80)}")
