"""Per-segment metric families under hostile cardinality: thousands of distinct segment
values go through the daemon's layout, window buffers, evaluation and collector, and
every per-segment family holds at most K + 1 series per feature, labelled only by the
baseline's segments; the model's own families carry no ``segment`` label."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pandas as pd
from prometheus_client import generate_latest

from drift_monitor.baseline import build_baseline
from drift_monitor.decode.decoder import Event
from drift_monitor.evaluation import DetectionSettings, evaluate_window
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.status.state import MonitorState
from drift_monitor.windows.buffers import PaneBuffer, window_data
from drift_monitor.windows.layout import ModelLayout

K = 5
DISTINCT = 5_000


def test_thousands_of_segment_values_give_at_most_k_plus_1_series_per_feature() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    stores = [f"store-{i}" for i in range(40)]
    train = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "channel": rng.choice(["web", "app"], size=n),
            "store": rng.choice(stores, size=n),
        }
    )
    baseline = build_baseline(train, "shop", exclude=["store"], segment_by="store", segment_top_k=K)
    assert baseline.segments is not None and len(baseline.segments.segments) == K + 1
    layout = ModelLayout.from_baseline(baseline)
    pane = PaneBuffer(
        0.0, 60.0, len(layout.numeric), len(layout.categorical), 50_000, random.Random(0)
    )
    # Every event a store value never seen before (and never again), then the kept ones.
    values = [f"hostile-{i}" for i in range(DISTINCT)] + list(baseline.segments.names[:-1]) * 200
    for i, store in enumerate(values):
        channel = "web" if rng.random() < 0.5 else "app"
        features = {"amount": float(rng.normal()), "channel": channel, "store": store}
        nums, codes = layout.extract(Event("shop", str(i), 1.0, features, None))
        pane.add(nums, codes, 1.0, ("t", 0), i, None)
    data = window_data(layout, [pane], 0.0, 60.0)
    result = evaluate_window(baseline, data, DetectionSettings(segment_by="store"))
    assert [s.events for s in result.segments] == [200] * K + [DISTINCT]

    state = MonitorState(["shop"], {"shop": 60.0})
    state.record_result(result, 0.01, 1.0)
    registry = build_registry(state)
    exposition = generate_latest(registry).decode()
    assert "hostile-" not in exposition
    per_feature: dict[tuple[str, str], set[str]] = defaultdict(set)
    families = 0
    for metric in registry.collect():
        for sample in metric.samples:
            if "segment" in sample.labels and "feature" in sample.labels:
                per_feature[(sample.name, sample.labels["feature"])].add(sample.labels["segment"])
            if sample.name.startswith("drift_monitor_feature_"):
                assert "segment" not in sample.labels, sample
        families += metric.name.startswith("drift_monitor_segment_feature_")
    assert families >= 3  # status and the default tests' families
    assert per_feature, "no per-segment series"
    allowed = set(baseline.segments.names)
    for key, segs in per_feature.items():
        assert segs <= allowed and len(segs) <= K + 1, (key, segs)
    assert registry.get_sample_value("drift_monitor_drifted_segments", {"model": "shop"}) == 0.0
    statuses = {
        s: registry.get_sample_value(
            "drift_monitor_segment_status", {"model": "shop", "segment": s}
        )
        for s in allowed
    }
    assert statuses["__other__"] == 0.0 and all(v is not None for v in statuses.values())
