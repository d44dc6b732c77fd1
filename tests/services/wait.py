"""The one wait of the harness: poll a condition until a deadline.

Nothing in tests or benchmarks sleeps to wait for a result; :func:`wait_for` polls and,
when it gives up, says what it was waiting for (plus any context the caller supplies,
e.g. a daemon's log tail).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL_S = 0.1


class WaitTimeout(AssertionError):
    """A condition polled by :func:`wait_for` did not hold before its deadline."""


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = POLL_INTERVAL_S,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that.

    ``timeout`` and ``interval`` are seconds (monotonic clock); the probe runs at least
    once, and once more at the deadline. Raises :class:`WaitTimeout` naming ``what``
    (plus ``on_timeout()``'s text) after ``timeout``. Exceptions of ``probe`` propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = on_timeout() if on_timeout is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}\n{extra}")
        time.sleep(interval)  # the polling cadence, not a wait for a result


def holds(check: Callable[[], object], seconds: float, *, interval: float = POLL_INTERVAL_S) -> int:
    """Call ``check`` (which asserts) every ``interval`` seconds for ``seconds``: the
    condition must hold on every poll, not only eventually. Returns how many polls ran
    (at least one)."""
    deadline = time.monotonic() + seconds
    polls = 0
    while True:
        check()
        polls += 1
        if time.monotonic() >= deadline:
            return polls
        time.sleep(interval)  # the polling cadence, not a wait for a result
