"""Fixtures of the integration tests: baselines, unique names, daemon subprocesses
(killed at teardown, their log tails printed when the test failed; those are the
shared fixtures of tests/services/daemons.py, re-exported here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.baseline import Baseline, save_baseline
from tests.services import streams
from tests.services.daemons import daemons, pytest_runtest_makereport, topic_daemon, unique
from tests.services.kafka import KafkaBroker

BASELINE_VERSION = "it-train-20000-seed7"


@pytest.fixture(scope="session")
def training_baseline() -> Baseline:
    """The demo dataset's training baseline (model name ``credit``)."""
    return streams.training_baseline(BASELINE_VERSION)


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
def name_prefix() -> str:
    """Prefix of the ``unique`` names of the integration tests."""
    return "it"


@pytest.fixture
def daemon_defaults(kafka_broker: KafkaBroker) -> dict[str, Any]:
    """Every integration daemon consumes from the session broker."""
    return {"bootstrap": kafka_broker.bootstrap}


__all__ = ["daemons", "pytest_runtest_makereport", "topic_daemon", "unique"]
