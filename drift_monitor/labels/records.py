"""The join's records and counters: what a tracked prediction and a label carry, the
deterministic sample of event ids, and the counts the metrics show.

Value types only (no I/O): :mod:`drift_monitor.labels.store` keeps them durably.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_MAX_DELAY_S = 7 * 86_400.0
DEFAULT_MAX_ENTRIES = 1_000_000


def tracked(event_id: str, sample_rate: float) -> bool:
    """Whether ``event_id`` is in the deterministic sample of rate ``sample_rate`` in
    [0, 1]: the first 8 bytes of its BLAKE2b digest, as a fraction of 2**64, below the
    rate. The same answer for a prediction and its label, in every process."""
    if sample_rate >= 1.0:
        return True
    digest = hashlib.blake2b(event_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") < sample_rate * 2.0**64


@dataclass(frozen=True, slots=True)
class Prediction:
    """A tracked prediction: ``outputs`` encoded as the metrics take them (one score, a
    regression value, a class code, or K class probabilities); ``window_id`` and
    ``window_end`` identify its prediction window."""

    event_id: str
    window_id: int
    window_end: float
    event_time: float
    outputs: Sequence[float]


@dataclass(frozen=True, slots=True)
class Label:
    """A label: ``value`` encoded (0/1, class code or regression value); ``label_time``
    its event time (label delay = label_time − prediction event time)."""

    event_id: str
    value: float
    label_time: float


@dataclass(slots=True)
class JoinCounters:
    """One model's counts since the store was opened (Prometheus counters reset on
    restart too). ``delays`` holds the label delays (seconds) of the joins of the last
    :meth:`JoinStore.apply` for this model, for the ``label_delay_seconds`` histogram."""

    predictions: int = 0
    joined: int = 0
    waiting: int = 0
    duplicates: int = 0
    late: int = 0
    expired: int = 0
    orphaned: int = 0
    evicted: int = 0
    delays: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WindowCoverage:
    """A prediction window's join state: ``tracked`` predictions, ``joined`` labels."""

    model: str
    window_id: int
    window_end: float
    tracked: int
    joined: int
    final: bool

    @property
    def coverage(self) -> float:
        """joined / tracked (0 when nothing is tracked)."""
        return self.joined / self.tracked if self.tracked else 0.0
