"""Event sources: the protocol, Kafka (the only module importing kafka), and memory."""

from drift_monitor.source.base import (
    Commit,
    DeadLetterSink,
    EventSource,
    Record,
    RecordBatch,
    ReportSink,
)
from drift_monitor.source.memory import MemoryDeadLetters, MemoryReports, MemorySource

__all__ = [
    "Commit",
    "DeadLetterSink",
    "EventSource",
    "MemoryDeadLetters",
    "MemoryReports",
    "MemorySource",
    "Record",
    "RecordBatch",
    "ReportSink",
]
