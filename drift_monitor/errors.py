"""Exceptions raised by drift-monitor.

The whole hierarchy::

    DriftMonitorError            root: every error a user can cause; the CLI turns it
    |                            into one line on stderr and exit code 2
    +-- ConfigError              invalid YAML / field / env override / secret file
    +-- BaselineError            baseline file missing, truncated, tampered, wrong schema
    +-- InputError               unreadable input data file, missing column, bad format
    +-- EventError               one event failed validation (never fatal: counted and routed)
    +-- WebhookError             webhook target or signature problem
    |   +-- SignatureError       a webhook signature does not verify (webhooks.signing)
    |   +-- TransportError       a webhook request could not be sent (webhooks.transport)
    +-- SinkError                a sink could not make a window's or record's effect
                                 durable (outbox, episode state, audit log, report or
                                 dead-letter topic): transient; the daemon does not commit
                                 past it and retries

Messages name the field, file, column or topic/partition/offset and say how to fix it.
"""

from __future__ import annotations


class DriftMonitorError(Exception):
    """Root of every error a user can cause. ``str(err)`` is a one-line message with the fix."""


class ConfigError(DriftMonitorError):
    """The configuration (YAML, env override or secret file) is invalid."""


class BaselineError(DriftMonitorError):
    """A baseline file cannot be built or loaded (missing, truncated, tampered, wrong schema)."""


class InputError(DriftMonitorError):
    """An input data file cannot be read or lacks a column the baseline needs."""


class EventError(DriftMonitorError):
    """One event failed decoding or validation.

    ``reason`` is a short, bounded machine-readable code (used as a metric label and
    in the dead-letter header); ``detail`` is human-readable and may quote the event.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class WebhookError(DriftMonitorError):
    """A webhook target is misconfigured or a signature does not verify."""


class SinkError(DriftMonitorError):
    """A sink could not make an effect durable (disk full, topic missing, broker down).

    Transient by nature: the checkpoint does not commit offsets past the effect and the
    consume loop retries. ``sink`` is a short bounded name (``outbox``, ``episodes``,
    ``audit``, ``reports``, ``dead_letters``, ``metrics``) used as a metric label;
    ``target`` names the path or topic; the message says what to fix.
    """

    def __init__(self, sink: str, target: str, detail: str) -> None:
        super().__init__(f"{sink} sink ({target}): {detail}")
        self.sink = sink
        self.target = target
        self.detail = detail
