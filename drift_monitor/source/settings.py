"""Settings of the Kafka source: brokers, topics, consumer group, security (owned by the
source stage; ``config`` composes them into the whole file's schema)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from drift_monitor.settings import SecretRef, StrictModel

#: Kafka's legal topic names: ASCII letters, digits, '.', '_' and '-', at most 249.
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def _check_topic(name: str) -> str:
    if not _TOPIC.match(name) or name in (".", ".."):
        raise ValueError(
            f"{name[:60]!r} is not a legal Kafka topic name (1-249 characters from "
            "A-Z a-z 0-9 . _ -, not '.' or '..')"
        )
    return name


class SslSettings(StrictModel):
    """TLS towards the brokers (passed to kafka-python's ``ssl_*`` options)."""

    cafile: Path | None = Field(default=None, description="CA bundle (PEM).")
    certfile: Path | None = Field(default=None, description="Client certificate (PEM).")
    keyfile: Path | None = Field(default=None, description="Client private key (PEM).")
    password: SecretRef | None = Field(default=None, description="Password of the key file.")
    check_hostname: bool = Field(default=True, description="Verify the broker's host name.")

    @field_validator("cafile", "certfile", "keyfile")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        # Checked here so `config validate` catches it, not the first connection attempt.
        if path is not None and not path.is_file():
            raise ValueError(f"file {str(path)!r} does not exist or is not a file")
        return path


class SaslSettings(StrictModel):
    """SASL authentication (PLAIN, SCRAM-SHA-256/512)."""

    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: str
    password: SecretRef


class KafkaSettings(StrictModel):
    """Where events come from."""

    bootstrap_servers: list[str] = Field(
        min_length=1, description="Brokers as host:port, e.g. ['kafka-1:9092']."
    )
    topics: list[str] = Field(min_length=1, description="Topics of prediction events.")
    group_id: str = Field(default="drift-monitor", description="Consumer group id.")
    client_id: str = Field(default="drift-monitor", description="Kafka client id.")
    client: Literal["kafka-python", "confluent"] = Field(
        default="confluent",
        description="Kafka client library: `confluent` (confluent-kafka, librdkafka; the "
        "faster one) or `kafka-python` (pure Python, installs everywhere); same "
        "guarantees, see README 'Kafka client'.",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest",
        description="Where a group with no committed offset starts reading, and where an "
        "out-of-range position jumps to (its records were deleted by retention before they "
        "were read, or the topic was recreated): `earliest` loses only the deleted records, "
        "`latest` also every record up to the partition's end. Either way the records "
        "passed over are counted in drift_monitor_events_skipped_total and shown in /status.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ssl: SslSettings | None = None
    sasl: SaslSettings | None = None
    max_poll_records: int = Field(default=5000, ge=1, description="Records per poll batch.")
    poll_timeout_ms: int = Field(default=500, ge=1, description="Longest wait of one poll.")
    session_timeout_ms: int = Field(default=45_000, ge=1000)
    dead_letter_topic: str | None = Field(
        default=None,
        description="Invalid events are copied here with the reason in a header.",
    )
    report_topic: str | None = Field(
        default=None,
        description="Drift incidents (the webhook body) and every evaluated window's record "
        '(`"type": "window.evaluated"`) are also produced here, keyed by model.',
    )
    topic_models: dict[str, str] = Field(
        default_factory=dict,
        description="topic -> model, for events that carry no model field and no key.",
    )

    @field_validator("dead_letter_topic", "report_topic")
    @classmethod
    def _topic_name(cls, name: str | None) -> str | None:
        return None if name is None else _check_topic(name)

    @field_validator("topics")
    @classmethod
    def _topic_names(cls, names: list[str]) -> list[str]:
        return [_check_topic(n) for n in names]

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        # A setting the chosen protocol ignores is a mistake (credentials that are never
        # sent, a CA that is never used), not something to find out from a broker log.
        proto = self.security_protocol
        if self.sasl is not None and not proto.startswith("SASL_"):
            raise ValueError(
                f"kafka.sasl is set but kafka.security_protocol is {proto}, which sends no "
                "credentials; use SASL_SSL (or SASL_PLAINTEXT) or remove kafka.sasl"
            )
        if self.sasl is None and proto.startswith("SASL_"):
            raise ValueError(f"kafka.security_protocol {proto} needs a kafka.sasl section")
        if self.ssl is not None and proto not in ("SSL", "SASL_SSL"):
            raise ValueError(
                f"kafka.ssl is set but kafka.security_protocol is {proto}, which does not "
                "use TLS; use SSL (or SASL_SSL) or remove kafka.ssl"
            )
        return self
