"""The join's records and counters: what a tracked prediction and a label carry, the
deterministic sample of event ids, and the counts the metrics show.

Value types only (no I/O): :mod:`drift_monitor.labels.store` keeps them durably.
:func:`performance_record` is the per-window performance record of the report topic and
the audit log (``"type": "window.performance"``), read back by ``report --from``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_monitor.evaluation.results import json_ms, json_number, json_time

if TYPE_CHECKING:  # tracker imports the store, which imports this module
    from drift_monitor.labels.tracker import WindowPerformance

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


#: ``type`` of the per-window performance record (report topic, audit log).
PERFORMANCE_RECORD_TYPE = "window.performance"


def performance_record(
    wp: WindowPerformance, *, window_start: float | None, baseline_version: str
) -> dict[str, Any]:
    """The JSON record of one evaluation of a prediction window's performance.

    Published every time the window is evaluated as labels arrive (``final`` false) and
    once more when it becomes final (``final`` true, never again). ``window_start`` is
    the window's start in epoch seconds (None when unknown: ``start_ms`` is then null).
    Shape (non-finite numbers are null)::

        {"type": "window.performance", "model", "baseline_version", "task",
         "window": {"id", "start_ms", "end_ms", "start", "end"},   # ms ints, RFC 3339
         "tracked", "joined", "labels", "coverage", "final",
         "verdict": "ok" | "degraded" | "insufficient_labels",
         "metrics": {metric: value}, "baseline": {metric: value},
         "decision": [{"metric", "value", "baseline", "shortfall", "tolerance",
                       "minimum", "decides", "degraded"}],          # deciding first
         "delay_seconds": {"median", "max"}}

    ``tracked``: sampled predictions of the window; ``joined``: of them with a label;
    ``labels``: joined pairs the metrics used (a NaN label or output is left out);
    ``coverage`` = joined / tracked (0 when nothing is tracked).
    """
    v = wp.verdict
    return {
        "type": PERFORMANCE_RECORD_TYPE,
        "model": wp.model,
        "baseline_version": baseline_version,
        "task": wp.performance.task,
        "window": {
            "id": wp.window_id,
            "start_ms": json_ms(window_start),
            "end_ms": json_ms(wp.window_end),
            "start": json_time(window_start, "milliseconds"),
            "end": json_time(wp.window_end, "milliseconds"),
        },
        "tracked": wp.tracked,
        "joined": wp.joined,
        "labels": wp.performance.count,
        "coverage": wp.coverage,
        "final": wp.final,
        "verdict": v.status.value,
        "metrics": {m: json_number(x) for m, x in sorted(wp.performance.values.items())},
        "baseline": {m.metric: json_number(m.baseline) for m in v.metrics},
        "decision": [m.to_json() for m in v.metrics],
        "delay_seconds": {
            "median": json_number(wp.delay_median),
            "max": json_number(wp.delay_max),
        },
    }
