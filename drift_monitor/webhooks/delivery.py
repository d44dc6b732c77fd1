"""Sending what the outbox holds: signing, POSTing, and the retry policy.

The daemon's scheduler calls ``Dispatcher.deliver_due()`` every second or so. Each call
takes the due rows from the outbox and makes one attempt per row:

- 2xx -> delivered (and, for the Airflow preset, 409 "DAG run already exists": an
  earlier attempt got through but its answer was lost);
- 408, 429, 5xx, timeout, connection error -> retried after a backoff drawn with full
  jitter from ``[0, min(max_backoff, initial * 2**attempts)]``, or after ``Retry-After``
  when the server asks for longer; never scheduled past ``max_age_seconds`` after the
  first enqueue, and a failure at or after that age is final -> dead;
- any other status (3xx included: redirects are never followed) -> dead at once.

Every row gets at least one attempt, even when the process was down for longer than
``max_age_seconds``. A dead delivery is logged once at WARNING (model, target, trigger,
error; never the secret, the headers or the body).
"""

from __future__ import annotations

import email.utils
import http
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Literal

from drift_monitor.clock import Clock
from drift_monitor.errors import ConfigError
from drift_monitor.webhooks.config import WebhookSettings, WebhookTarget
from drift_monitor.webhooks.outbox import Outbox, PendingDelivery
from drift_monitor.webhooks.payload import Trigger, preset_headers
from drift_monitor.webhooks.signing import sign
from drift_monitor.webhooks.transport import Transport, TransportError, TransportResponse

LOGGER_NAME = "drift_monitor.webhooks"
Outcome = Literal["delivered", "retried", "dead"]
OUTCOMES: tuple[Outcome, ...] = ("delivered", "retried", "dead")
_MAX_EXPONENT = 60  # 2**60 * any sane initial backoff is far past any cap


@dataclass(frozen=True)
class DeliveryStats:
    """What one ``deliver_due()`` call did: attempts made and how each ended."""

    attempted: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0


def backoff_seconds(attempts: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Delay before the next attempt, seconds, drawn with full jitter.

    Uniform in ``[0, min(maximum, initial * 2**attempts)]``. ``attempts``: failed
    attempts before this one (0 after the first failure), so the cap grows 1x, 2x,
    4x ... ``initial`` until ``maximum``. Full jitter spreads the retries of many rows.
    """
    cap = min(maximum, initial * 2.0 ** min(max(attempts, 0), _MAX_EXPONENT))
    return rng.uniform(0.0, cap)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value, or ``None``.

    Accepts delta-seconds (``"120"``) or an HTTP-date (``"Wed, 21 Oct 2026 07:28:00
    GMT"``, relative to ``now`` in epoch seconds; a date in the past gives 0). ``None``
    for a missing or unparseable value.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # RFC 9110 dates are always GMT; a naive one is not an HTTP-date
    return max(0.0, when.timestamp() - now)


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _user_agent() -> str:
    try:
        return f"drift-monitor/{metadata.version('drift-monitor')}"
    except metadata.PackageNotFoundError:
        return "drift-monitor"


class Dispatcher:
    """Delivers the outbox's due rows to the configured targets; see the module docstring.

    ``rng`` draws the jitter (seed it in tests). ``environ`` is where ``env`` secret
    references are looked up (default ``os.environ``). Thread-safe; concurrent
    ``deliver_due()`` calls do not overlap (the second returns at once, doing nothing).
    """

    def __init__(
        self,
        outbox: Outbox,
        settings: WebhookSettings,
        transport: Transport,
        clock: Clock,
        rng: random.Random,
        *,
        environ: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self._outbox = outbox
        self._settings = settings
        self._transport = transport
        self._clock = clock
        self._rng = rng
        self._environ = environ
        self._log = logger or logging.getLogger(LOGGER_NAME)
        self._user_agent = _user_agent()
        self._counts: dict[tuple[str, str], int] = {}
        self._counts_lock = threading.Lock()
        self._running = threading.Lock()

    def submit(self, trigger: Trigger) -> int:
        """Durably enqueue ``trigger`` for every target serving its model; send nothing yet.

        Returns the number of deliveries added (0 if already known or no target serves
        the model). Raises ``SinkError`` only when the outbox file cannot be written.
        """
        return self._outbox.enqueue(trigger, self._settings.targets, self._clock.now())

    def counts(self) -> Mapping[tuple[str, str], int]:
        """Cumulative ``(model, outcome) -> count`` since start; outcome in ``OUTCOMES``.

        A snapshot copy, for the ``webhook_deliveries_total`` counter.
        """
        with self._counts_lock:
            return dict(self._counts)

    def pending(self) -> int:
        """Deliveries not yet delivered or dead, for the ``webhook_outbox_pending`` gauge."""
        return self._outbox.pending_count()

    def oldest_pending_age(self) -> float:
        """Seconds since the oldest pending delivery was enqueued (0 when none is pending),
        for the ``webhook_outbox_oldest_pending_age_seconds`` gauge."""
        oldest = self._outbox.oldest_pending_enqueued_at()
        return 0.0 if oldest is None else max(self._clock.now() - oldest, 0.0)

    def deliver_due(self, limit: int | None = None) -> DeliveryStats:
        """Make one attempt for each due row, up to ``limit`` (default ``max_deliveries_per_run``).

        Blocks for at most one request timeout per row; after a timeout or connection
        error the target's other rows wait for the next call. Never raises for a
        delivery failure; raises ``WebhookError`` only when the outbox file fails.
        """
        if not self._running.acquire(blocking=False):
            return DeliveryStats()
        try:
            rows = self._outbox.due(
                self._clock.now(), limit or self._settings.max_deliveries_per_run
            )
            tally = dict.fromkeys(OUTCOMES, 0)
            unreachable: set[str] = set()
            attempted = 0
            for row in rows:
                if row.key.target in unreachable:
                    continue
                attempted += 1
                outcome, reachable = self._attempt(row)
                tally[outcome] += 1
                if not reachable:
                    unreachable.add(row.key.target)
            return DeliveryStats(attempted, tally["delivered"], tally["retried"], tally["dead"])
        finally:
            self._running.release()

    def _attempt(self, row: PendingDelivery) -> tuple[Outcome, bool]:
        """One attempt of ``row``; returns its outcome and whether the target answered."""
        target = self._settings.target(row.key.target)
        if target is None:
            error = f"target {row.key.target!r} is no longer configured"
            return self._dead(row, error), True
        try:
            headers = self._headers(target, row)
        except ConfigError as exc:
            # Maybe a secret file not mounted yet: worth retrying until max_age.
            return self._retry(row, str(exc), None), True
        try:
            response = self._transport.post(target.url, headers, row.body, target.timeout_seconds)
        except TransportError as exc:
            return self._retry(row, str(exc), None), False
        except Exception as exc:  # a buggy Transport must not stop the scheduler
            self._log.exception("webhook transport raised unexpectedly (target=%s)", target.name)
            return self._retry(row, f"transport raised {type(exc).__name__}", None), False
        return self._classify(row, target, response), True

    def _headers(self, target: WebhookTarget, row: PendingDelivery) -> dict[str, str]:
        secrets = [s.get_secret_value() for s in target.resolve_secrets(self._environ)]
        headers = {"User-Agent": self._user_agent, **preset_headers(target.preset)}
        headers.update(target.resolve_headers(self._environ))
        headers["Content-Type"] = "application/json"
        # Same webhook-id on every attempt; a fresh timestamp (and so signature) each time.
        headers.update(sign(secrets, row.message_id, self._clock.now(), row.body))
        return headers

    def _classify(
        self, row: PendingDelivery, target: WebhookTarget, response: TransportResponse
    ) -> Outcome:
        status = response.status
        if 200 <= status < 300:
            return self._delivered(row, _status_text(status))
        if status == 409 and target.preset == "airflow_dag_run":
            return self._delivered(row, "HTTP 409: the DAG run already exists")
        if status in (408, 429) or 500 <= status < 600:
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock.now())
            return self._retry(row, _status_text(status), retry_after)
        if 300 <= status < 400:
            return self._dead(
                row, f"{_status_text(status)}: redirects are not followed; configure the final URL"
            )
        return self._dead(row, f"{_status_text(status)}: not retryable")

    def _count(self, model: str, outcome: Outcome) -> Outcome:
        with self._counts_lock:
            self._counts[(model, outcome)] = self._counts.get((model, outcome), 0) + 1
        return outcome

    def _delivered(self, row: PendingDelivery, status: str) -> Outcome:
        self._outbox.mark_delivered(row.key, self._clock.now())
        self._log.info(
            "webhook delivered: model=%s target=%s trigger=%s attempt=%d status=%s",
            row.model,
            row.key.target,
            row.message_id,
            row.attempts + 1,
            status,
        )
        return self._count(row.model, "delivered")

    def _retry(self, row: PendingDelivery, error: str, retry_after: float | None) -> Outcome:
        now = self._clock.now()
        deadline = row.first_enqueued_at + self._settings.max_age_seconds
        if now >= deadline:
            age = now - row.first_enqueued_at
            return self._dead(
                row, f"{error} (gave up after {row.attempts + 1} attempts over {age:.0f} s)"
            )
        delay = backoff_seconds(
            row.attempts,
            self._settings.initial_backoff_seconds,
            self._settings.max_backoff_seconds,
            self._rng,
        )
        if retry_after is not None and retry_after > delay:
            delay = retry_after
        next_at = min(now + delay, deadline)
        self._outbox.mark_retry(row.key, next_at, error)
        self._log.info(
            "webhook delivery failed, retrying in %.1f s: model=%s target=%s trigger=%s "
            "attempt=%d error=%s",
            next_at - now,
            row.model,
            row.key.target,
            row.message_id,
            row.attempts + 1,
            error,
        )
        return self._count(row.model, "retried")

    def _dead(self, row: PendingDelivery, error: str) -> Outcome:
        self._outbox.mark_dead(row.key, self._clock.now(), error)
        self._log.warning(
            "webhook delivery dead: model=%s target=%s trigger=%s attempts=%d error=%s",
            row.model,
            row.key.target,
            row.message_id,
            row.attempts + 1,
            error,
            extra={
                "model": row.model,
                "target": row.key.target,
                "trigger_id": row.key.trigger_id,
                "outcome": "dead",
            },
        )
        return self._count(row.model, "dead")
