"""Prometheus families of model quality, rendered at scrape time from a snapshot.

The integrator registers :class:`QualityCollector` on the daemon's registry (or yields
:func:`quality_families` from the drift collector). Label values come only from
configuration and baselines: model names and metric names.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from drift_monitor.labels.store import JoinCounters

PREFIX = "drift_monitor_"
#: Label delay buckets (seconds): a minute to the default max_delay of 7 days.
DELAY_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86_400.0, 3 * 86_400.0, 7 * 86_400.0)


@dataclass(slots=True)
class DelayHistogram:
    """A fold of label delays (seconds) into :data:`DELAY_BUCKETS` (non-cumulative
    ``counts`` per bucket, ``over`` above the last; negative delays, a label stamped
    before its prediction, count in the first bucket)."""

    counts: list[int] = field(default_factory=lambda: [0] * len(DELAY_BUCKETS))
    over: int = 0
    total: float = 0.0

    def observe(self, delays: Iterable[float]) -> None:
        """Add ``delays`` (e.g. :attr:`JoinCounters.delays` after each apply)."""
        for d in delays:
            if not math.isfinite(d):
                continue
            i = bisect.bisect_left(DELAY_BUCKETS, d)
            if i < len(self.counts):
                self.counts[i] += 1
            else:
                self.over += 1
            self.total += d

    @property
    def count(self) -> int:
        """Delays observed."""
        return sum(self.counts) + self.over


@dataclass(frozen=True, slots=True)
class ModelQuality:
    """What one model's quality families show: ``performance`` (metric -> value of the
    last evaluated window; NaN values are not rendered), ``baseline`` (metric -> the
    baseline's value), ``coverage`` of that window, the delay histogram, the join
    counters and the sample rate."""

    performance: Mapping[str, float]
    baseline: Mapping[str, float]
    coverage: float | None
    delays: DelayHistogram
    counters: JoinCounters
    sample_rate: float = 1.0
    status: str | None = None


def _gauge(name: str, doc: str, labels: Sequence[str] = ("model",)) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=list(labels))


def quality_families(models: Mapping[str, ModelQuality]) -> list[Metric]:
    """Every model-quality family for ``models`` (model name -> snapshot)."""
    perf = _gauge(
        "model_performance",
        "Model performance metric of the last evaluated prediction window (joined labels)",
        ("model", "metric"),
    )
    base = _gauge(
        "model_performance_baseline",
        "The metric on the baseline's labelled validation set",
        ("model", "metric"),
    )
    coverage = _gauge(
        "label_coverage_ratio",
        "Share of the last evaluated window's tracked predictions that have a label",
    )
    sample = _gauge("label_sample_rate", "Share of event ids tracked by the label join")
    degraded = _gauge(
        "model_performance_status",
        "0 ok, 1 degraded, -1 insufficient labels (last evaluated window)",
    )
    delay = HistogramMetricFamily(
        PREFIX + "label_delay_seconds",
        "Label event time minus its prediction's event time, per joined label",
        labels=["model"],
    )
    counters = {
        "joined": "Labels joined to their prediction",
        "expired": "Tracked predictions that got no label within max_delay",
        "orphaned": "Labels whose prediction did not arrive within max_delay",
        "evicted": "Join entries evicted by the entry cap",
        "duplicates": "Duplicated labels and re-read predictions ignored (idempotent join)",
        "late": "Predictions of windows already final, ignored",
    }
    families = {
        k: CounterMetricFamily(PREFIX + f"labels_{k}", doc, labels=["model"])
        for k, doc in counters.items()
    }
    status_value = {"ok": 0, "degraded": 1, "insufficient_labels": -1}
    for model, q in sorted(models.items()):
        for metric, value in sorted(q.performance.items()):
            if math.isfinite(value):
                perf.add_metric([model, metric], value)
        for metric, value in sorted(q.baseline.items()):
            if math.isfinite(value):
                base.add_metric([model, metric], value)
        if q.coverage is not None:
            coverage.add_metric([model], q.coverage)
        sample.add_metric([model], q.sample_rate)
        if q.status in status_value:
            degraded.add_metric([model], status_value[q.status])
        cumulative, buckets = 0, []
        for le, n in zip(DELAY_BUCKETS, q.delays.counts, strict=True):
            cumulative += n
            buckets.append((repr(le), cumulative))
        buckets.append(("+Inf", q.delays.count))
        delay.add_metric([model], buckets, q.delays.total)
        for k, fam in families.items():
            fam.add_metric([model], getattr(q.counters, k))
    return [perf, base, coverage, sample, degraded, delay, *families.values()]


class QualityCollector(Collector):
    """Renders :func:`quality_families` from ``snapshot()`` at every scrape."""

    def __init__(self, snapshot: Callable[[], Mapping[str, ModelQuality]]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        """One scrape."""
        yield from quality_families(self._snapshot())
