"""Dead-letter and report producers over confluent-kafka (librdkafka).

Every rule of the producer contract (bounded hand-over, truncation with the same
headers, ``flush`` raising :class:`~drift_monitor.errors.SinkError` and keeping what
was not acknowledged, the topic check) lives once, in :mod:`.producer`. This module only
gives :class:`~drift_monitor.source.producer.BoundedProducer` a librdkafka producer
with the shape of kafka-python's: ``send`` returns a future, failures are kafka-python's
error classes (the vocabulary ``BoundedProducer`` already speaks).
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException, Producer
from kafka.errors import KafkaError, KafkaTimeoutError, MessageSizeTooLargeError

from drift_monitor.source.producer import KafkaDeadLetters, KafkaReports
from drift_monitor.source.rdkafka_options import rdkafka_options
from drift_monitor.source.settings import KafkaSettings

# The broker's rejection, and librdkafka's own of a message over message.max.bytes.
_TOO_LARGE = {RdKafkaError.MSG_SIZE_TOO_LARGE}


def _translate(err: Any) -> KafkaError:
    """A librdkafka error as the kafka-python error ``BoundedProducer`` expects."""
    text = f"{err.name()}: {err.str()}" if isinstance(err, RdKafkaError) else str(err)
    code = err.code() if isinstance(err, RdKafkaError) else None
    if code in _TOO_LARGE:
        return MessageSizeTooLargeError(text)
    return KafkaError(text)


class _Delivery:
    """The future of one message: set by librdkafka's delivery callback (which runs in
    ``poll``/``flush`` on the calling thread)."""

    __slots__ = ("exception", "is_done")

    def __init__(self) -> None:
        self.is_done = False
        self.exception: KafkaError | None = None

    def __call__(self, err: Any, _msg: Any) -> None:
        self.exception = None if err is None else _translate(err)
        self.is_done = True

    def succeeded(self) -> bool:
        return self.is_done and self.exception is None


class RdkafkaProducerClient:
    """confluent-kafka's ``Producer`` in the shape ``BoundedProducer`` drives.

    ``produce`` never blocks (a full local queue raises ``BufferError``, reported as a
    failed hand-over); a message not acknowledged within ``delivery_timeout_s`` fails
    its future (librdkafka's ``message.timeout.ms``) and ``BoundedProducer`` sends it
    again at the next flush, as with kafka-python."""

    def __init__(
        self, settings: KafkaSettings, metadata_timeout_s: float, delivery_timeout_s: float
    ):
        self._metadata_timeout_s = metadata_timeout_s
        self._known: set[str] = set()  # topics whose metadata was seen (see send)
        self._producer = Producer(
            {
                **rdkafka_options(settings),
                "acks": "all",
                "linger.ms": 5,
                "message.timeout.ms": max(int(delivery_timeout_s * 1000), 1000),
                # Never create the topic by producing to it (a typo would make one).
                "allow.auto.create.topics": False,
            }
        )

    def send(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]],
    ) -> _Delivery:
        """Queue one message; raises MessageSizeTooLargeError or KafkaError."""
        if topic not in self._known:
            # As kafka-python's max_block_ms: wait (bounded) for the topic's metadata
            # before queueing, so that a missing topic fails the hand-over at once
            # instead of every message waiting out its delivery timeout in the flush.
            self.partitions_for(topic)
        delivery = _Delivery()
        try:
            self._producer.produce(
                topic,
                value=value,
                key=key,
                headers=list[tuple[str, str | bytes | None]](headers),
                on_delivery=delivery,
            )
        except BufferError as exc:
            raise KafkaError(f"librdkafka's local queue is full ({exc})") from exc
        except KafkaException as exc:
            raise _translate(exc.args[0] if exc.args else exc) from exc
        self._producer.poll(0)  # serve delivery callbacks of earlier messages
        return delivery

    def flush(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds; KafkaTimeoutError when messages remain."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise KafkaTimeoutError(f"{remaining} messages unacknowledged after {timeout:g}s")

    def partitions_for(self, topic: str) -> set[int]:
        """The topic's partitions; KafkaError when it does not exist (or no answer)."""
        try:
            md = self._producer.list_topics(topic, timeout=self._metadata_timeout_s)
        except KafkaException as exc:
            raise _translate(exc.args[0] if exc.args else exc) from exc
        meta = md.topics.get(topic)
        if meta is None or meta.error is not None:
            self._known.discard(topic)
            raise KafkaError(f"topic {topic!r}: {meta.error if meta else 'unknown'}")
        self._known.add(topic)
        return set(meta.partitions)

    def close(self, timeout: float) -> None:
        """Flush (bounded) and release librdkafka's threads and sockets."""
        self._producer.flush(timeout)
        close = getattr(self._producer, "close", None)
        if close is not None:
            close()


class RdkafkaDeadLetters(KafkaDeadLetters):
    """:class:`~drift_monitor.source.producer.KafkaDeadLetters` over librdkafka."""

    def _new_client(self) -> Any:
        return RdkafkaProducerClient(
            self._settings, self._send_block_ms / 1000, self._flush_timeout_s
        )


class RdkafkaReports(KafkaReports):
    """:class:`~drift_monitor.source.producer.KafkaReports` over librdkafka."""

    def _new_client(self) -> Any:
        return RdkafkaProducerClient(
            self._settings, self._send_block_ms / 1000, self._flush_timeout_s
        )
