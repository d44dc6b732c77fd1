"""Prometheus metrics, rendered at scrape time from :class:`MonitorState`.

A custom collector on an injected registry (no module-level metrics): every scrape
renders the latest state, so a model or column that leaves the configuration, or a
baseline that changes version, simply stops being rendered (no stale series). Label
values come only from configuration and baselines (models, columns, tests, reasons).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from drift_monitor import __version__
from drift_monitor.evaluation.results import ColumnResult, Status
from drift_monitor.sinks.cgroup import CgroupMemoryCollector
from drift_monitor.sinks.segment_metrics import segment_families
from drift_monitor.stats.registry import REGISTRY, drift_test
from drift_monitor.status.state import DURATION_BUCKETS, MonitorState, StateSnapshot

PREFIX = "drift_monitor_"

WebhookCounts = Callable[[], tuple[Mapping[tuple[str, str], int], int]]
#: model -> (owner, team, tier) from the config, for drift_monitor_model_info
ModelLabels = Mapping[str, tuple[str, str, str]]


class DriftCollector(Collector):
    """Renders every SPEC metric from the state (and webhook counts, when wired)."""

    def __init__(
        self,
        state: MonitorState,
        webhooks: WebhookCounts | None = None,
        model_labels: ModelLabels | None = None,
        outbox_age: Callable[[], float] | None = None,
    ) -> None:
        self._state = state
        self._webhooks = webhooks
        self._outbox_age = outbox_age
        self._model_labels = dict(model_labels or {})

    def collect(self) -> Iterable[Metric]:
        """One scrape: a consistent snapshot rendered into metric families."""
        s = self._state.snapshot()
        build = GaugeMetricFamily(
            PREFIX + "build_info", "drift-monitor version", labels=["version"]
        )
        build.add_metric([__version__], 1)
        yield build
        yield self._model_info(s.models)
        yield from _event_families(s)
        yield from _window_families(s)
        yield from segment_families(s)  # per-segment drift: families of their own
        yield from _kafka_families(s)
        yield from _sink_families(s)
        yield from self._webhook_families()

    def _webhook_families(self) -> Iterable[Metric]:
        deliveries = CounterMetricFamily(
            PREFIX + "webhook_deliveries",
            "Webhook delivery attempts by outcome",
            labels=["model", "outcome"],
        )
        pending = GaugeMetricFamily(
            PREFIX + "webhook_outbox_pending", "Webhook deliveries waiting in the outbox"
        )
        if self._webhooks is not None:
            counts, n_pending = self._webhooks()
            for (model, outcome), n in sorted(counts.items()):
                deliveries.add_metric([model, outcome], n)
            pending.add_metric([], n_pending)
        else:
            pending.add_metric([], 0)
        yield deliveries
        yield pending
        oldest = GaugeMetricFamily(
            PREFIX + "webhook_outbox_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting in the outbox (0 when none is pending)",
        )
        oldest.add_metric([], self._outbox_age() if self._outbox_age is not None else 0.0)
        yield oldest

    def _model_info(self, models: Iterable[str]) -> Metric:
        """model_info{model, owner, team, tier} = 1 per configured model (empty = unset)."""
        info = GaugeMetricFamily(
            PREFIX + "model_info",
            "Configured model with its routing labels (owner, team, tier; empty when unset)",
            labels=["model", "owner", "team", "tier"],
        )
        for model in sorted(models):
            info.add_metric([model, *self._model_labels.get(model, ("", "", ""))], 1)
        return info


class DriftTestFamilies:
    """The per-test gauges of one scrape: a statistic family and, for a test with a
    p-value, a p-value family per registered test (SPEC: one family per test, so
    ``max``/``avg`` over labels stay meaningful), in registry order."""

    def __init__(self) -> None:
        self._families: dict[str, GaugeMetricFamily] = {}
        for test in REGISTRY:
            self._add_family(test.statistic_metric, test.statistic_help)
        for test in REGISTRY:
            if test.p_value_metric is not None and test.p_value_help is not None:
                self._add_family(test.p_value_metric, test.p_value_help)

    def _add_family(self, name: str, help_text: str) -> None:
        self._families[name] = GaugeMetricFamily(
            PREFIX + name, help_text, labels=["model", "feature", "kind"]
        )

    def add(self, model: str, column: ColumnResult) -> None:
        """One sample per computed test (and p-value) of ``column``."""
        labels = [model, column.name, column.kind]
        for t in column.tests.values():
            test = drift_test(t.test)
            self._families[test.statistic_metric].add_metric(labels, t.statistic)
            if test.p_value_metric is not None and t.p_value is not None:
                self._families[test.p_value_metric].add_metric(labels, t.p_value)

    def families(self) -> Iterator[GaugeMetricFamily]:
        """The families to expose. A test off by default shows its families only once
        a column computes it, so a default configuration's exposition is unchanged."""
        default = {
            f
            for t in REGISTRY
            if t.computed_by_default
            for f in (t.statistic_metric, t.p_value_metric)
            if f is not None
        }
        return (f for name, f in self._families.items() if name in default or f.samples)


Family = type[CounterMetricFamily] | type[GaugeMetricFamily]


def _labelled(
    kind: Family,
    name: str,
    help_text: str,
    labels: list[str],
    rows: Iterable[tuple[Sequence[object], float]],
) -> Metric:
    """One family of ``kind`` whose samples are ``(label values, value)`` rows."""
    family = kind(PREFIX + name, help_text, labels=labels)
    for values, value in rows:
        family.add_metric([str(v) for v in values], value)
    return family


def _event_families(s: StateSnapshot) -> Iterable[Metric]:
    yield _labelled(
        CounterMetricFamily,
        "events",
        "Events consumed, by model and outcome",
        ["model", "outcome"],
        sorted(s.events.items()),
    )
    yield _labelled(
        CounterMetricFamily,
        "invalid_events",
        "Invalid events by reason",
        ["reason"],
        (((r,), n) for r, n in sorted(s.invalid_reasons.items())),
    )
    yield _labelled(
        CounterMetricFamily,
        "events_replayed",
        "Events re-read after a restart whose window was already evaluated",
        ["model"],
        (((m,), n) for m, n in sorted(s.replayed.items())),
    )


def _window_families(s: StateSnapshot) -> Iterable[Metric]:
    """The last evaluated window of every configured model, its features and tests."""
    window_events = GaugeMetricFamily(
        PREFIX + "window_events", "Events in the last evaluated window", labels=["model"]
    )
    window_seconds = GaugeMetricFamily(
        PREFIX + "window_duration_seconds", "Configured window length", labels=["model"]
    )
    model_status = GaugeMetricFamily(
        PREFIX + "model_status",
        "Model drift status: 0 ok, 1 warning, 2 alert, -1 insufficient data",
        labels=["model"],
    )
    drifted = GaugeMetricFamily(
        PREFIX + "drifted_features", "Columns in alert in the last window", labels=["model"]
    )
    last_eval = GaugeMetricFamily(
        PREFIX + "last_evaluation_timestamp_seconds",
        "Wall-clock time of the last window evaluation",
        labels=["model"],
    )
    stats = DriftTestFamilies()
    feature_status = GaugeMetricFamily(
        PREFIX + "feature_status",
        "Feature drift status: 0 ok, 1 warning, 2 alert, -1 insufficient data",
        labels=["model", "feature"],
    )
    unseen = GaugeMetricFamily(
        PREFIX + "feature_unseen_ratio",
        "Share of a categorical feature's values never seen in the baseline",
        labels=["model", "feature"],
    )
    missing = GaugeMetricFamily(
        PREFIX + "feature_missing_ratio", "Share of missing values", labels=["model", "feature"]
    )
    # Deciding tests' levels (issue 13): bounded by config (models x columns x
    # deciding tests x 2 levels), never by event data.
    threshold = GaugeMetricFamily(
        PREFIX + "feature_threshold",
        "Threshold of a deciding test's effect for the level, at the last window's size "
        "(calibrated null quantile, or the fixed threshold)",
        labels=["model", "feature", "test", "level"],
    )
    floor = GaugeMetricFamily(
        PREFIX + "feature_effect_floor",
        "Effect-size floor of a deciding test for the level (calibrated mode)",
        labels=["model", "feature", "test", "level"],
    )
    for model in s.models:
        if model in s.window_seconds:
            window_seconds.add_metric([model], s.window_seconds[model])
        r = s.results.get(model)
        if r is None:
            continue
        window_events.add_metric([model], r.events)
        model_status.add_metric([model], int(r.status))
        drifted.add_metric([model], sum(c.status == Status.ALERT for c in r.columns))
        last_eval.add_metric([model], s.evaluated_at.get(model, 0.0))
        for c in r.columns:
            feature_status.add_metric([model, c.name], int(c.status))
            missing.add_metric([model, c.name], c.missing_ratio)
            if c.unseen_ratio is not None:
                unseen.add_metric([model, c.name], c.unseen_ratio)
            stats.add(model, c)
            for t in c.tests.values():
                for level, lv in (t.levels or {}).items():
                    threshold.add_metric([model, c.name, t.test, level], lv.threshold)
                    if lv.floor is not None:
                        floor.add_metric([model, c.name, t.test, level], lv.floor)
    yield window_events
    yield window_seconds
    yield model_status
    yield drifted
    yield last_eval
    yield from stats.families()
    yield feature_status
    yield unseen
    yield missing
    yield threshold
    yield floor

    configured = set(s.models)
    duration = HistogramMetricFamily(
        PREFIX + "evaluation_duration_seconds",
        "Time to evaluate one window (all columns, all tests)",
        labels=["model"],
    )
    for model, h in sorted(s.durations.items()):
        if model not in configured:
            continue
        buckets = [(_le(b), c) for b, c in zip(DURATION_BUCKETS, h.counts, strict=True)]
        buckets.append(("+Inf", h.total))
        duration.add_metric([model], buckets, h.sum)
    yield duration
    yield _labelled(
        GaugeMetricFamily,
        "baseline_info",
        "Loaded baseline version",
        ["model", "version"],
        (
            ((model, info.version), 1)
            for model, info in sorted(s.baselines.items())
            if model in configured and info.version is not None
        ),
    )


def _kafka_families(s: StateSnapshot) -> Iterable[Metric]:
    yield _labelled(
        GaugeMetricFamily,
        "consumer_lag",
        "Consumer lag in messages: records between the consumer's position and the "
        "partition's high watermark",
        ["topic", "partition"],
        sorted(s.lag.items()),
    )
    yield _labelled(
        CounterMetricFamily,
        "events_skipped",
        "Records the consumer passed over unread (deleted by retention before they "
        "were read, or skipped by an offset reset); /status has the offset range",
        ["topic", "partition", "reason"],
        sorted(s.skipped.items()),
    )
    connected = GaugeMetricFamily(
        PREFIX + "kafka_connected", "1 when the Kafka brokers are reachable"
    )
    connected.add_metric([], 1 if s.kafka_connected else 0)
    yield connected


def _sink_families(s: StateSnapshot) -> Iterable[Metric]:
    yield _labelled(
        GaugeMetricFamily,
        "sink_up",
        "1 when the sink makes its effects durable, 0 while it fails (nothing is "
        "committed past a failing sink; /readyz and /status say why)",
        ["sink"],
        (((sink,), 0 if problem is not None else 1) for sink, problem in sorted(s.sinks.items())),
    )
    yield _labelled(
        CounterMetricFamily,
        "sink_failures",
        "Times a sink went from working to failing",
        ["sink"],
        (((sink,), n) for sink, n in sorted(s.sink_failures.items())),
    )
    yield _labelled(
        GaugeMetricFamily,
        "checkpoint_models_dropped",
        "Models whose window checkpoint did not fit the partition's commit metadata "
        "(re-evaluated from a partial window after a restart; spread models out)",
        ["topic", "partition"],
        sorted(s.checkpoint_dropped.items()),
    )


def _le(b: float) -> str:
    return repr(float(b))


def build_registry(
    state: MonitorState,
    webhooks: WebhookCounts | None = None,
    model_labels: ModelLabels | None = None,
    outbox_age: Callable[[], float] | None = None,
) -> CollectorRegistry:
    """A fresh registry: the drift collector plus client_python's process (``process_*``,
    Linux only), platform (``python_info``) and GC (``python_gc_*``) collectors, so memory
    can be alerted on against the container limit (``drift_monitor_memory_limit_bytes``)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DriftCollector(state, webhooks, model_labels, outbox_age))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    registry.register(CgroupMemoryCollector())
    return registry
