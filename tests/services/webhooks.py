"""Webhook helpers of the tests that run the daemon against a real receiver
(drift_monitor/demo/receiver.py: an HTTP server on 127.0.0.1 that verifies every
request's Standard Webhooks signature): the daemon's ``webhooks`` config section for
such a receiver, and the polls for what the receiver got.

Nothing here sleeps to wait for a result: the waits poll with
:func:`tests.services.wait.wait_for`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drift_monitor.demo.receiver import Received, WebhookReceiver
from tests.services.wait import wait_for

#: Webhook targets on loopback are refused unless ``allow_networks`` lets them through.
LOOPBACK_NETWORKS = ["127.0.0.0/8"]


def loopback_webhooks(
    url: str,
    secret_env: str,
    *,
    name: str = "retraining",
    timeout_seconds: float | None = 2,
    initial_backoff_seconds: float | None = 0.2,
    max_backoff_seconds: float | None = 0.5,
    **target: Any,
) -> dict[str, Any]:
    """The daemon's ``webhooks`` config section with one target, ``name``, posting to
    ``url`` (a receiver on 127.0.0.1, let through by ``allow_networks``) and signing
    with the secret read from the environment variable ``secret_env``.

    ``timeout_seconds`` (per request) and the retry backoffs are seconds; None leaves
    that setting out (the daemon's default applies). ``target`` adds keys to the target
    (e.g. ``headers``)."""
    entry: dict[str, Any] = {"name": name, "url": url, "secret": {"env": secret_env}}
    if timeout_seconds is not None:
        entry["timeout_seconds"] = timeout_seconds
    entry.update(target)
    section: dict[str, Any] = {"allow_networks": list(LOOPBACK_NETWORKS), "targets": [entry]}
    if initial_backoff_seconds is not None:
        section["initial_backoff_seconds"] = initial_backoff_seconds
    if max_backoff_seconds is not None:
        section["max_backoff_seconds"] = max_backoff_seconds
    return section


def wait_received(
    receiver: WebhookReceiver,
    count: int,
    timeout: float,
    *,
    type_: str | None = None,
    on_timeout: Callable[[], str] | None = None,
) -> list[Received]:
    """Poll until ``receiver`` has received at least ``count`` requests (of body type
    ``type_``; any type when None), whatever it answered, and return those requests in
    arrival order. ``timeout`` is seconds; :class:`tests.services.wait.WaitTimeout`
    (with ``on_timeout()``'s text) after it."""

    def probe() -> list[Received] | None:
        hits = receiver.snapshot() if type_ is None else receiver.of_type(type_)
        return hits if len(hits) >= count else None

    what = f"{count} webhook request(s)" + (f" of type {type_}" if type_ else "")
    return wait_for(probe, timeout, what, on_timeout=on_timeout)


def wait_delivered(
    receiver: WebhookReceiver,
    type_: str,
    timeout: float,
    *,
    on_timeout: Callable[[], str] | None = None,
) -> list[Received]:
    """Poll until ``receiver`` has answered 2xx to a request of body type ``type_`` and
    return every such request (at least one). Whether it was signed is for the caller
    to check (``Received.verified``). ``timeout`` is seconds;
    :class:`tests.services.wait.WaitTimeout` (with ``on_timeout()``'s text) after it."""
    return wait_for(
        lambda: receiver.delivered(type_), timeout, f"{type_} delivered", on_timeout=on_timeout
    )
