"""The Kafka client a test's daemons use (``kafka.client`` in their config): the one
place where broker tests are run on both backends.

``kafka_client`` is a fixture the ``daemons`` fixture (tests/services/daemons.py)
passes into every config it writes. :func:`pytest_generate_tests` (registered by
tests/conftest.py) parametrises it:

- the modules named in :data:`BOTH` (end to end, crash recovery, crash loop, broker
  outage, hostile records, invalid events, the retention gap) run on both clients;
- every other test runs on :data:`DEFAULT` (the product default) only, so the suite's
  time does not double;
- ``DRIFT_MONITOR_TEST_CLIENTS=all`` runs every test on both, and
  ``DRIFT_MONITOR_TEST_CLIENTS=confluent`` (or ``kafka-python``) every test on that one.
"""

from __future__ import annotations

import os

import pytest

from drift_monitor.source.settings import KafkaSettings

CLIENTS = ("kafka-python", "confluent")
#: The product default of ``kafka.client``.
DEFAULT: str = KafkaSettings.model_fields["client"].default

#: Test modules (file names, so that moving a file between folders keeps it here) run
#: on both clients.
BOTH = frozenset(
    {
        "test_drift_end_to_end",
        "test_crash_recovery",
        "test_crash_loop",
        "test_broker_outage",
        "test_hostile_kafka",
        "test_invalid_events",
        "test_retention_gap",
        "test_rdkafka_source",
        "test_rebalance",
    }
)


def clients_for(module: str) -> list[str]:
    """The clients a test of ``module`` (its file name without ``.py``) runs on."""
    wanted = os.environ.get("DRIFT_MONITOR_TEST_CLIENTS", "")
    if wanted == "all":
        return list(CLIENTS)
    if wanted in CLIENTS:
        return [wanted]
    return list(CLIENTS) if module in BOTH else [DEFAULT]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``kafka_client`` wherever a test uses it (directly or through
    ``daemons``)."""
    if "kafka_client" in metafunc.fixturenames:
        module = metafunc.module.__name__.rpartition(".")[2]
        metafunc.parametrize("kafka_client", clients_for(module))


@pytest.fixture
def kafka_client() -> str:
    """The client (overridden by :func:`pytest_generate_tests`)."""
    return DEFAULT
