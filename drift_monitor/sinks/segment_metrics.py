"""Per-segment drift metrics (``detection.segment_by``), rendered with the others.

Separate families, not a ``segment`` label on the model's ``feature_*`` families: the
shipped rules, dashboards and any user query over ``drift_monitor_feature_status`` or
``drift_monitor_feature_psi`` (``count(... == 2)``, ``max by (model, feature)``) keep
their meaning and never count a column once per segment. Every family here carries
``segment``; its values come from the baseline (its top-K values plus ``__other__``),
so a model has at most ``segment_top_k + 1`` series per feature and test whatever
values events carry.

- ``segment_status{model, segment}``: 0 ok, 1 warning, 2 alert, -1 insufficient data
- ``segment_window_events{model, segment}``: rows of the last window in the segment
- ``drifted_segments{model}``: segments in alert in the last window
- ``segment_feature_status{model, segment, feature}``
- ``segment_<test family>{model, segment, feature, kind}``: each test's statistic and
  p-value, named after the model's family (``segment_feature_psi`` …)
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from drift_monitor.stats.registry import REGISTRY, drift_test
from drift_monitor.status.state import StateSnapshot

PREFIX = "drift_monitor_"


def segment_families(s: StateSnapshot) -> Iterable[Metric]:
    """The per-segment families of the last window of every configured model (a model
    without ``segment_by`` adds no sample; the families are always exposed)."""
    status = GaugeMetricFamily(
        PREFIX + "segment_status",
        "Segment drift status: 0 ok, 1 warning, 2 alert, -1 insufficient data",
        labels=["model", "segment"],
    )
    events = GaugeMetricFamily(
        PREFIX + "segment_window_events",
        "Events of the last evaluated window in the segment (of the kept sample)",
        labels=["model", "segment"],
    )
    drifted = GaugeMetricFamily(
        PREFIX + "drifted_segments",
        "Segments in alert in the last window (models with detection.segment_by)",
        labels=["model"],
    )
    feature_status = GaugeMetricFamily(
        PREFIX + "segment_feature_status",
        "Feature drift status within a segment: 0 ok, 1 warning, 2 alert, -1 insufficient data",
        labels=["model", "segment", "feature"],
    )
    tests: dict[str, GaugeMetricFamily] = {}
    default: set[str] = set()
    for t in REGISTRY:
        for name, help_text in (
            (t.statistic_metric, t.statistic_help),
            (t.p_value_metric, t.p_value_help),
        ):
            if name is None or help_text is None:
                continue
            tests[name] = GaugeMetricFamily(
                PREFIX + "segment_" + name,
                f"{help_text} (per segment)",
                labels=["model", "segment", "feature", "kind"],
            )
            if t.computed_by_default:
                default.add(name)
    for model in s.models:
        r = s.results.get(model)
        if r is None or r.segment_by is None:
            continue
        drifted.add_metric([model], len(r.drifted_segments))
        for seg in r.segments:
            name = str(seg.segment)
            status.add_metric([model, name], int(seg.status))
            events.add_metric([model, name], seg.events)
            for c in seg.columns:
                feature_status.add_metric([model, name, c.name], int(c.status))
                labels = [model, name, c.name, c.kind]
                for tr in c.tests.values():
                    test = drift_test(tr.test)
                    tests[test.statistic_metric].add_metric(labels, tr.statistic)
                    if test.p_value_metric is not None and tr.p_value is not None:
                        tests[test.p_value_metric].add_metric(labels, tr.p_value)
    yield status
    yield events
    yield drifted
    yield feature_status
    # As for the model's families: a test off by default shows only once computed.
    yield from (f for name, f in tests.items() if name in default or f.samples)
