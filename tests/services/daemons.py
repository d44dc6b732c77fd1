"""Fixtures shared by the test packages that run the daemon as a subprocess against a
real broker (tests/system/pipeline, tests/system/resilience), re-exported by their conftests:

- ``daemons``: ``daemons(name, **DaemonConfig fields)`` -> a (not yet started) daemon
  whose state lives in ``tmp_path/<name>/state``; every daemon is killed at teardown
  and, when the test failed, the tail of each one's log is printed. Each conftest sets
  the fields every daemon gets by default with a ``daemon_defaults`` fixture (e.g. the
  session broker's ``bootstrap``);
  Every daemon uses the ``kafka_client`` of tests/services/backends.py;
- ``topic_daemon``: ``topic_daemon(name, topic, models, **DaemonConfig fields)`` ->
  ``daemons(name, ...)`` consuming ``topic`` in the group ``unique(f"{name}-group")``
  with the baselines of ``models`` (from the conftest's ``baselines_dir`` fixture,
  ``baselines_dir(*models)`` -> the directory it wrote them to);
- ``unique``: ``unique("topic")`` -> a topic or group name no other test uses, prefixed
  with the conftest's ``name_prefix`` fixture;
- the ``pytest_runtest_makereport`` hook that records each phase's report on the item
  (``rep_call`` tells ``daemons`` whether the test failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.services.daemon import DaemonConfig, DaemonProcess


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def unique(name_prefix: str) -> Callable[[str], str]:
    """``unique("topic")`` -> a name no other test uses (topics, groups)."""
    tag = uuid.uuid4().hex[:8]
    return lambda prefix: f"{name_prefix}-{prefix}-{tag}"


@pytest.fixture
def daemons(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    daemon_defaults: dict[str, Any],
    kafka_client: str,
) -> Iterator[Callable[..., DaemonProcess]]:
    """See the module docstring."""
    made: list[DaemonProcess] = []

    def make(name: str = "d", **fields: Any) -> DaemonProcess:
        workdir = tmp_path / name
        fields.setdefault("state_dir", workdir / "state")
        fields.setdefault("kafka_client", kafka_client)  # tests/services/backends.py
        d = DaemonProcess(name, DaemonConfig(**{**daemon_defaults, **fields}), workdir)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        for d in made:
            print(f"\n{d.log_tail(80)}")


@pytest.fixture
def topic_daemon(
    daemons: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    baselines_dir: Callable[..., Path],
) -> Callable[..., DaemonProcess]:
    """``topic_daemon(name, topic, models, **fields)`` -> ``daemons(name, ...)`` (not yet
    started) consuming ``topic`` in the group ``unique(f"{name}-group")`` (unless
    ``fields`` names a ``group_id``), with the baselines ``baselines_dir(*models)``
    writes (unless ``fields`` names a ``baselines_dir``); ``fields`` are further
    ``DaemonConfig`` fields (``bootstrap`` where the conftest gives no default)."""

    def make(name: str, topic: str, models: list[str], **fields: Any) -> DaemonProcess:
        fields.setdefault("group_id", unique(f"{name}-group"))
        if "baselines_dir" not in fields:
            fields["baselines_dir"] = baselines_dir(*models)
        return daemons(name, topics=[topic], models=list(models), **fields)

    return make
