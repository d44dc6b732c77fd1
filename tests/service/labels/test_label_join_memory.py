"""The label join end to end on the in-memory source: late, missing, early and
duplicated labels, per-window metrics against scikit-learn, coverage and delay, one
``performance.degraded`` webhook, the bounded store."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as skm

from tests.service.labels.support import LabelDaemon
from tests.services.labels import T0, WINDOW_S, LabelledStream, labelled_stream

WINDOWS = 8
DEGRADED = (5, 6, 7)


def _iso(t: float) -> str:
    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def sklearn_metrics(y: list[int], s: list[float]) -> dict[str, float]:
    """scikit-learn on the same pairs (threshold 0.5 for the hard predictions)."""
    hard = [1 if v >= 0.5 else 0 for v in s]
    return {
        "roc_auc": skm.roc_auc_score(y, s),
        "brier": skm.brier_score_loss(y, s),
        "log_loss": skm.log_loss(y, s, labels=[0, 1]),
        "accuracy": skm.accuracy_score(y, hard),
        "precision": skm.precision_score(y, hard, zero_division=0),
        "recall": skm.recall_score(y, hard, zero_division=0),
        "f1": skm.f1_score(y, hard, zero_division=0),
    }


def check_windows(final: dict[str, dict[str, Any]], stream: LabelledStream, windows: int) -> None:
    """Every labelled window is final in /status with sklearn's metrics on exactly the
    pairs produced, its coverage and its delays."""
    for w in range(windows):
        doc = final[_iso(T0 + w * WINDOW_S)]
        y, s, delays = stream.expected(w)
        tracked = sum(1 for t in stream.truth.values() if t[0] == w)
        assert (doc["tracked"], doc["joined"]) == (tracked, len(y)), w
        assert doc["coverage"] == pytest.approx(len(y) / tracked, abs=1e-12)
        for metric, want in sklearn_metrics(y, s).items():
            assert doc["metrics"][metric] == pytest.approx(want, abs=1e-9), (w, metric)
        assert doc["delay_median_seconds"] == pytest.approx(float(np.median(delays)), abs=1e-6)
        assert doc["delay_max_seconds"] == pytest.approx(max(delays), abs=1e-6)
        assert doc["status"] == ("degraded" if w in DEGRADED else "ok"), (w, doc)


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
    check_windows(d.final_windows(), stream, WINDOWS)

    perf = [b for b in d.webhooks() if b["type"].startswith("performance.")]
    assert [b["type"] for b in perf] == ["performance.degraded"], perf
    body = perf[0]
    # enter_after 2: opened by the second degraded final window, never before
    assert body["window"]["start"] == _iso(T0 + DEGRADED[1] * WINDOW_S)
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
    assert status["incident"]["open"] is True
    assert status["counters"]["duplicates"] > 0  # the duplicated labels were ignored
    reg = d.monitor.registry
    latest_auc = reg.get_sample_value(
        "drift_monitor_model_performance", {"model": "m", "metric": "roc_auc"}
    )
    assert latest_auc == pytest.approx(status["latest"]["metrics"]["roc_auc"], abs=1e-12)
    assert reg.get_sample_value("drift_monitor_label_coverage_ratio", {"model": "m"}) == (
        pytest.approx(status["latest"]["coverage"], abs=1e-12)
    )
    joined = sum(len(stream.expected(w)[0]) for w in range(WINDOWS))
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
    assert size < 8 * 1024 * 1024, size  # 1 000 entries of ~100 bytes, plus the WAL
