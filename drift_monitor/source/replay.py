"""Producing events into Kafka (``drift-monitor replay``, ``demo --kafka``) and creating
the demo's topic: plain, throughput-minded kafka-python use, for tools, not the daemon."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from drift_monitor.errors import InputError
from drift_monitor.source.options import build_closing_on_failure

#: Longest wait for all events to be acknowledged at the end (seconds).
FLUSH_TIMEOUT_S = 120.0


class EventProducer:
    """Produces values (with optional keys) to topics; ``flush`` waits for every
    acknowledgement. An unreachable broker or a missing topic is an
    :class:`~drift_monitor.errors.InputError` naming the servers or topic (exit 2)."""

    def __init__(self, bootstrap_servers: Sequence[str], linger_ms: int = 20) -> None:
        self._servers = ",".join(bootstrap_servers)
        try:
            self._producer: Any = build_closing_on_failure(
                KafkaProducer,
                bootstrap_servers=list(bootstrap_servers),
                acks="all",
                linger_ms=linger_ms,
                # A missing topic is an error, not a topic created by a typo.
                allow_auto_create_topics=False,
                max_block_ms=30_000,
            )
        except KafkaError as exc:
            raise InputError(
                f"--bootstrap-servers {self._servers}: no broker answers ({exc}); "
                "check the address and that Kafka runs"
            ) from exc

    def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Queue one record (blocks while kafka-python's buffer is full)."""
        try:
            self._producer.send(topic, value=value, key=key)
        except KafkaError as exc:
            raise InputError(
                f"topic {topic!r} on {self._servers}: {type(exc).__name__} ({exc}); "
                "create the topic first (the broker may not auto-create it)"
            ) from exc

    def flush(self) -> None:
        """Wait until every record sent so far is acknowledged."""
        try:
            self._producer.flush(timeout=FLUSH_TIMEOUT_S)
        except KafkaError as exc:
            raise InputError(f"{self._servers}: records not acknowledged ({exc})") from exc

    def close(self) -> None:
        """Flush and close."""
        self._producer.close(timeout=10)


def create_topic(bootstrap_servers: Sequence[str], topic: str, partitions: int = 1) -> None:
    """Create ``topic`` (replication factor 1: the local broker) unless it exists."""
    admin = build_closing_on_failure(KafkaAdminClient, bootstrap_servers=list(bootstrap_servers))
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
