"""Building the daemon's Kafka source and sinks for the configured client
(``kafka.client``): the one place that chooses between kafka-python and
confluent-kafka, so that the composition root (``drift-monitor run``) only calls
:func:`build_kafka`. Client modules are imported on demand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drift_monitor.source.base import EventSource
from drift_monitor.source.gaps import GapSink
from drift_monitor.source.producer import KafkaDeadLetters, KafkaReports, SinkHealth
from drift_monitor.source.settings import KafkaSettings


class GapReportingSource(EventSource, Protocol):
    """An event source that also reports records passed over unread."""

    def report_gaps_to(self, sink: GapSink) -> None:
        """Report gaps (see :mod:`.gaps`) to ``sink`` from now on."""
        ...


class MonitorSinks(GapSink, SinkHealth, Protocol):
    """What :meth:`KafkaIO.watch` reports to (the daemon's ``MonitorState``)."""


@dataclass(frozen=True)
class KafkaIO:
    """The consumer and the optional dead-letter and report producers."""

    source: GapReportingSource
    dead_letters: KafkaDeadLetters | None
    reports: KafkaReports | None

    def watch(self, state: MonitorSinks) -> None:
        """Report gaps to ``state``, and check the sink topics now (in a thread) and
        then periodically, reporting their health to ``state``."""
        self.source.report_gaps_to(state)
        for producer in (self.dead_letters, self.reports):
            if producer is not None:
                producer.watch(state)


def build_kafka(settings: KafkaSettings) -> KafkaIO:
    """Source and sinks over ``settings.client`` (``kafka-python`` or ``confluent``);
    a sink exists only when its topic is configured. Nothing contacts a broker here."""
    dlq_topic, report_topic = settings.dead_letter_topic, settings.report_topic
    source: GapReportingSource
    dead_cls: type[KafkaDeadLetters]
    report_cls: type[KafkaReports]
    if settings.client == "confluent":
        from drift_monitor.source.rdkafka import RdkafkaEventSource  # noqa: PLC0415
        from drift_monitor.source.rdkafka_producer import (  # noqa: PLC0415
            RdkafkaDeadLetters,
            RdkafkaReports,
        )

        source, dead_cls, report_cls = (
            RdkafkaEventSource(settings),
            RdkafkaDeadLetters,
            RdkafkaReports,
        )
    else:
        from drift_monitor.source.kafka import ConnectingKafkaSource  # noqa: PLC0415

        source, dead_cls, report_cls = (
            ConnectingKafkaSource(settings),
            KafkaDeadLetters,
            KafkaReports,
        )
    return KafkaIO(
        source,
        dead_cls(settings, dlq_topic) if dlq_topic else None,
        report_cls(settings, report_topic) if report_topic else None,
    )
