"""Suite-wide pytest glue: the Kafka broker fixtures, and one marker per test layer.

The layer of a test is its folder (README, "Testing"): ``tests/unit`` -> ``unit``,
``tests/service`` -> ``service``, ``tests/system`` -> ``system``, ``tests/deploy`` ->
``deploy``, ``tests/bench`` -> ``bench``, ``tests/demo`` -> ``demo``. Every test that
uses a real broker (the ``kafka_broker`` or ``own_broker`` fixture) is also marked
``kafka``, so ``-m "not kafka"`` never starts one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from tests.services.backends import kafka_client, pytest_generate_tests
from tests.services.kafka import kafka_broker, own_broker

__all__ = ["kafka_broker", "kafka_client", "own_broker", "pytest_generate_tests"]

TESTS = Path(__file__).resolve().parent
LAYERS = ("unit", "service", "system", "deploy", "bench", "demo", "packaging")
BROKER_FIXTURES = frozenset({"kafka_broker", "own_broker"})


def layer_of(path: Path) -> str | None:
    """The layer of the test file at ``path`` (None outside the layer folders)."""
    try:
        top = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return top if top in LAYERS else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its layer (and ``kafka`` when it uses a broker)."""
    strays: set[Path] = set()
    for item in items:
        layer = layer_of(item.path)
        if layer is None:
            strays.add(item.path)
        else:
            item.add_marker(getattr(pytest.mark, layer))
        if BROKER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)
    for path in sorted(strays):
        warnings.warn(
            f"{path.relative_to(TESTS.parent)} is outside the layer folders "
            f"({', '.join(f'tests/{layer}' for layer in LAYERS)}): move it (README, Testing)",
            pytest.PytestWarning,
            stacklevel=1,
        )
