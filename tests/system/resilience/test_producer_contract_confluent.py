"""The producer contract tests of test_producer_contract.py, run again on the
confluent-kafka producers: the same test functions, with the module's producer classes
replaced by their librdkafka twins for the duration of each test."""

from __future__ import annotations

import pytest

from drift_monitor.source.rdkafka_producer import RdkafkaDeadLetters, RdkafkaReports
from tests.system.resilience import test_producer_contract as contract
from tests.system.resilience.test_producer_contract import (  # noqa: F401  (collected here again)
    test_an_oversized_invalid_record_is_dead_lettered_truncated,
    test_broker_gone_flush_raises_then_delivers_once_it_is_back,
    test_missing_topic_is_bounded_raises_sinkerror_and_heals,
    test_past_the_buffer_bound_every_flush_fails,
    test_unknown_report_topic_without_check_fails_the_flush_not_the_publish,
    test_watch_reports_a_missing_topic_at_start_up,
)

pytestmark = pytest.mark.kafka


@pytest.fixture(autouse=True)
def _confluent_producers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contract, "KafkaDeadLetters", RdkafkaDeadLetters)
    monkeypatch.setattr(contract, "KafkaReports", RdkafkaReports)
