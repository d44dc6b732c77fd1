"""One model's label-join state in this process, and what /metrics and /status show of
it (the durable part of the join is in the store; see :mod:`.labels`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drift_monitor.baseline.pairs import TaskSpec
from drift_monitor.evaluation.results import json_number, json_time
from drift_monitor.labels.config import LabelSettings
from drift_monitor.labels.metrics import DelayHistogram, ModelQuality
from drift_monitor.labels.store import JoinStore, Label, Prediction
from drift_monitor.labels.tracker import PerformanceTracker, WindowPerformance

#: JoinCounters fields shown in /status
_COUNTERS = (
    "predictions",
    "joined",
    "waiting",
    "duplicates",
    "late",
    "expired",
    "orphaned",
    "evicted",
)


@dataclass(slots=True)
class ModelJoin:
    """One model's join state in this process (the durable part is in the store)."""

    name: str
    settings: LabelSettings
    store: JoinStore
    size: float
    offset: float
    version: str | None = None
    spec: TaskSpec | None = None
    tracker: PerformanceTracker | None = None
    problem: str | None = None
    predicted_until: float = -math.inf
    labelled_until: float = -math.inf
    predictions: list[Prediction] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)
    delays: DelayHistogram = field(default_factory=DelayHistogram)
    unflushed_delays: list[float] = field(default_factory=list)
    changed: bool = True
    # open windows changed since they were last scored (labels.evaluate_every_seconds)
    stale: bool = True
    next_provisional: float = -math.inf
    latest: WindowPerformance | None = None
    recent: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def model_quality(m: ModelJoin, baseline: Mapping[str, float]) -> ModelQuality:
    """What the quality families show for ``m``: its last final window's metrics and
    coverage, the ``baseline`` metrics, flushed delays and counters."""
    latest = m.latest
    return ModelQuality(
        performance=dict(latest.performance.values) if latest else {},
        baseline=dict(baseline),
        coverage=latest.coverage if latest else None,
        delays=dataclasses.replace(m.delays, counts=list(m.delays.counts)),
        counters=m.store.flushed_counters(m.name),
        sample_rate=m.settings.sample_rate,
        status=latest.verdict.status.value if latest else None,
    )


def model_status(m: ModelJoin) -> dict[str, Any]:
    """The model's ``labels`` section of /status (docs/LABELS.md, "/status")."""
    latest = m.latest
    counters = m.store.flushed_counters(m.name)
    return {
        "problem": m.problem,
        "sample_rate": m.settings.sample_rate,
        "max_delay_seconds": m.settings.max_delay_seconds,
        "final_coverage": m.settings.final_coverage,
        "window_seconds": m.size,
        "store": {
            "path": str(m.store.path),
            "entries": m.store.entries,
            "max_entries": m.store.max_entries,
        },
        "coverage": latest.coverage if latest else None,
        "latest": m.recent.get(latest.window_id) if latest else None,
        "windows": [m.recent[w] for w in sorted(m.recent)],
        "counters": {k: getattr(counters, k) for k in _COUNTERS},
        "rejected": dict(sorted(m.rejected.items())),
    }


def window_doc(r: WindowPerformance, start: float) -> dict[str, Any]:
    return {
        "start": json_time(start, "milliseconds"),
        "end": json_time(r.window_end, "milliseconds"),
        "final": r.final,
        "tracked": r.tracked,
        "joined": r.joined,
        "coverage": r.coverage,
        "status": r.verdict.status.value,
        "metrics": {k: json_number(v) for k, v in sorted(r.performance.values.items())},
        "degraded_metrics": [v.metric for v in r.verdict.degraded_metrics],
        "delay_median_seconds": json_number(r.delay_median),
        "delay_max_seconds": json_number(r.delay_max),
    }
