"""The label join end to end on the in-memory source: late, missing, early and
duplicated labels, per-window metrics against scikit-learn, coverage and delay, one
``performance.degraded`` webhook, the bounded store."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from sklearn import metrics as skm

from tests.service.labels.support import LabelDaemon
from tests.services.labels import T0, WINDOW_S, check_windows, labelled_stream
from tests.services.streams import iso

WINDOWS = 8
DEGRADED = (5, 6, 7)


@pytest.mark.parametrize("in_topic", [False, True], ids=["labels_topic", "label_only_events"])
def test_late_labels_give_sklearn_metrics_and_one_degraded_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_topic: bool
) -> None:
    labels = {"topic": None} if in_topic else None
    d = LabelDaemon(tmp_path, monkeypatch, labels)
    stream = labelled_stream(WINDOWS, 400, degraded=DEGRADED, in_topic=in_topic)
    seen_types: list[list[str]] = []
    for i in range(0, len(stream.items), 400):
        d.feed_in_order(stream.items[i : i + 400], chunk=200)
        seen_types.append([b["type"] for b in d.webhooks() if b["type"].startswith("perf")])
    d.drain()
    check_windows(d.final_windows(), stream, range(WINDOWS), DEGRADED)

    perf = [b for b in d.webhooks() if b["type"].startswith("performance.")]
    # the good tail windows after the degraded ones resolve it (resolve_after 2)
    assert [b["type"] for b in perf] == ["performance.degraded", "performance.recovered"]
    assert perf[0]["id"] == perf[1]["id"]
    assert perf[1]["window"]["start"] == iso(T0 + (WINDOWS + 1) * WINDOW_S)
    body = perf[0]
    # enter_after 2: opened by the second degraded final window, never before
    assert body["window"]["start"] == iso(T0 + DEGRADED[1] * WINDOW_S)
    assert body["id"].startswith("performance-m-")
    assert body["drifted_features"][0]["name"] == "roc_auc"
    assert body["performance"]["status"] == "degraded"
    y, s, _ = stream.expected(DEGRADED[1])
    assert body["drifted_features"][0]["statistic"] == pytest.approx(
        skm.roc_auc_score(y, s), abs=1e-9
    )
    first_seen = next(i for i, types in enumerate(seen_types) if types)
    assert all(not t for t in seen_types[:first_seen])

    status = d.status()
    assert status["latest"]["final"]
    assert status["incident"]["open"] is False
    assert status["counters"]["duplicates"] > 0  # the duplicated labels were ignored
    reg = d.monitor.registry
    latest_auc = reg.get_sample_value(
        "drift_monitor_model_performance", {"model": "m", "metric": "roc_auc"}
    )
    assert latest_auc == pytest.approx(status["latest"]["metrics"]["roc_auc"], abs=1e-12)
    assert reg.get_sample_value("drift_monitor_label_coverage_ratio", {"model": "m"}) == (
        pytest.approx(status["latest"]["coverage"], abs=1e-12)
    )
    joined = sum(len(stream.expected(w)[0]) for w in range(WINDOWS + 8))  # with the tail
    assert reg.get_sample_value("drift_monitor_labels_joined_total", {"model": "m"}) == joined
    assert reg.get_sample_value("drift_monitor_label_delay_seconds_count", {"model": "m"}) == joined
    assert not math.isnan(
        reg.get_sample_value(
            "drift_monitor_model_performance_baseline", {"model": "m", "metric": "roc_auc"}
        )
        or math.nan
    )


def test_ten_times_the_cap_in_flight_stays_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """12 000 sampled-at-half predictions, no labels yet, against a cap of 1 000: the
    store never holds more than the cap, its file stays small, and /status and the
    metrics say so."""
    cap = 1_000
    d = LabelDaemon(
        tmp_path,
        monkeypatch,
        {"max_entries": cap, "sample_rate": 0.5, "max_delay_seconds": 86_400.0},
    )
    stream = labelled_stream(20, 1_200, never=1.0, tail_windows=0)
    assert d.monitor.labels is not None
    (store,) = d.monitor.labels.stores
    peak = 0
    for i in range(0, len(stream.items), 1_000):
        d.feed_in_order(stream.items[i : i + 1_000], chunk=1_000)
        peak = max(peak, store.entries)
    d.drain()
    assert 0 < peak <= cap
    status = d.status()
    assert status["sample_rate"] == 0.5
    assert status["store"]["max_entries"] == cap
    assert 0 < status["store"]["entries"] <= cap
    tracked = status["counters"]["predictions"]
    assert 11_000 <= tracked <= 13_000  # about half of 24 000 ids: over 10x the cap
    assert status["counters"]["evicted"] == tracked - status["store"]["entries"]
    reg = d.monitor.registry
    assert reg.get_sample_value("drift_monitor_label_sample_rate", {"model": "m"}) == 0.5
    assert (
        reg.get_sample_value("drift_monitor_labels_evicted_total", {"model": "m"})
        == (status["counters"]["evicted"])
    )
    files = list(store.path.parent.glob(store.path.name + "*"))
    size = sum(f.stat().st_size for f in files)
    # 1 000 entries held; the log (every flushed change since its last compaction, far
    # below store.compact_min_bytes here) is what the file holds.
    assert size < 8 * 1024 * 1024, size
