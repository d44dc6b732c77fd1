"""Fixtures of the integration tests: baselines, unique names, daemon subprocesses
(killed at teardown, their log tails printed when the test failed)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.baseline import Baseline, build_baseline, save_baseline
from drift_monitor.demo.dataset import SCORE, training_frame
from tests.integration.daemon import DaemonConfig, DaemonProcess
from tests.services.kafka import KafkaBroker

BASELINE_VERSION = "it-train-20000-seed7"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def training_baseline() -> Baseline:
    """The demo dataset's training baseline (model name ``credit``)."""
    return build_baseline(
        training_frame(20_000, seed=7),
        "credit",
        prediction=[SCORE],
        version=BASELINE_VERSION,
        source="drift_monitor.demo.dataset.training_frame(20000, seed=7)",
    )


@pytest.fixture
def baselines_dir(tmp_path: Path, training_baseline: Baseline) -> Callable[..., Path]:
    """``write(*models)`` saves the training baseline as ``<model>.dmb`` for each model
    into ``tmp_path/baselines`` and returns that directory."""

    def write(*models: str) -> Path:
        d = tmp_path / "baselines"
        d.mkdir(exist_ok=True)
        for m in models:
            save_baseline(dataclasses.replace(training_baseline, model=m), d / f"{m}.dmb")
        return d

    return write


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("topic")`` -> a name no other test uses (topics, groups)."""
    tag = uuid.uuid4().hex[:8]
    return lambda prefix: f"it-{prefix}-{tag}"


@pytest.fixture
def daemons(
    request: pytest.FixtureRequest, tmp_path: Path, kafka_broker: KafkaBroker
) -> Iterator[Callable[..., DaemonProcess]]:
    """``daemons(name, **DaemonConfig fields)`` -> a (not yet started) daemon whose
    state lives in ``tmp_path/<name>``. Every daemon is killed at teardown; when the
    test failed, the tail of each one's log is printed."""
    made: list[DaemonProcess] = []

    def make(name: str = "d", **fields: Any) -> DaemonProcess:
        workdir = tmp_path / name
        fields.setdefault("state_dir", workdir / "state")
        cfg = DaemonConfig(bootstrap=kafka_broker.bootstrap, **fields)
        d = DaemonProcess(name, cfg, workdir)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()
    rep = getattr(request.node, "rep_call", None)
    if rep is None or rep.failed:
        for d in made:
            print(f"\n{d.log_tail(80)}")
