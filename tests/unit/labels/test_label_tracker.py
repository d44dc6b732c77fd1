"""Per-window performance from the join store, and the event encoders."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.pairs import TaskSpec
from drift_monitor.labels.decision import DegradationSettings, PerformanceStatus
from drift_monitor.labels.encode import encode_label, encode_outputs
from drift_monitor.labels.store import JoinStore, Label, Prediction
from drift_monitor.labels.tracker import PerformanceTracker

T0 = 1_767_225_600.0
WINDOW_S = 300.0
DAY = 86_400.0


def _model(n: int, seed: int, degraded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    return (rng.permutation(y) if degraded else y), s


@pytest.fixture(scope="module")
def baseline_perf():  # type: ignore[no-untyped-def]
    y, s = _model(5000, 1)
    b = build_baseline(pd.DataFrame({"score": s, "y": y}), "m", prediction=["score"], label="y")
    assert b.performance is not None
    return b.performance


def test_windows_update_as_labels_arrive_and_finalize_once(tmp_path: Path, baseline_perf) -> None:  # type: ignore[no-untyped-def]
    store = JoinStore(tmp_path / "j.db", max_delay=DAY)
    tracker = PerformanceTracker(
        store, "m", baseline_perf, DegradationSettings(min_labels=100), final_coverage=0.9
    )
    truth: dict[str, tuple[float, float]] = {}
    for w, degraded in ((0, False), (1, False), (2, True)):
        y, s = _model(400, 10 + w, degraded)
        preds = []
        for i in range(400):
            eid = f"w{w}-{i}"
            truth[eid] = (float(y[i]), float(s[i]))
            t = T0 + w * WINDOW_S + i * 0.5
            preds.append(Prediction(eid, w, T0 + (w + 1) * WINDOW_S, t, (float(s[i]),)))
        store.apply("m", preds)
    store.flush()
    # Half the labels of every window arrive an hour later.
    late = T0 + 3600.0
    labels = [Label(e, v[0], late) for e, v in truth.items() if int(e.split("-")[1]) % 2 == 0]
    store.apply("m", labels=labels)
    first = tracker.evaluate(watermark=late)
    store.flush()
    assert [r.window_id for r in first] == [0, 1, 2]
    assert not any(r.final for r in first)
    for r in first:
        assert (r.tracked, r.joined, r.coverage) == (400, 200, 0.5)
        ids = sorted(e for e in truth if e.startswith(f"w{r.window_id}-") and int(e[3:]) % 2 == 0)
        yy = [truth[e][0] for e in ids]
        ss = [truth[e][1] for e in ids]
        assert r.performance.get("roc_auc") == pytest.approx(skm.roc_auc_score(yy, ss), abs=1e-9)
        assert r.performance.get("brier") == pytest.approx(skm.brier_score_loss(yy, ss), abs=1e-9)
        delays = [late - (T0 + r.window_id * WINDOW_S + int(e[3:]) * 0.5) for e in ids]
        assert (r.delay_median, r.delay_max) == (np.median(delays), max(delays))
    assert [r.verdict.status for r in first] == [
        PerformanceStatus.OK,
        PerformanceStatus.OK,
        PerformanceStatus.DEGRADED,
    ]
    # The rest of window 0's labels: coverage 100 % -> final, returned once.
    rest = [Label(e, v[0], late + 60) for e, v in truth.items() if e.startswith("w0-")]
    store.apply("m", labels=rest)
    second = tracker.evaluate(watermark=late + 60)
    store.flush()
    assert [(r.window_id, r.final) for r in second] == [(0, True), (1, False), (2, False)]
    assert second[0].joined == 400
    third = tracker.evaluate(watermark=late + 120)
    assert [r.window_id for r in third] == [1, 2]
    # max_delay passes: the open windows become final with what they have.
    fourth = tracker.evaluate(watermark=T0 + 3 * WINDOW_S + DAY)
    store.flush()
    assert [(r.window_id, r.final, r.joined) for r in fourth] == [(1, True, 200), (2, True, 200)]
    assert tracker.evaluate(watermark=T0 + 2 * DAY) == []
    assert store.entries == 0


def test_a_window_without_enough_labels_is_insufficient(tmp_path: Path, baseline_perf) -> None:  # type: ignore[no-untyped-def]
    store = JoinStore(tmp_path / "j.db")
    tracker = PerformanceTracker(store, "m", baseline_perf, DegradationSettings(min_labels=50))
    store.apply("m", [Prediction(f"e{i}", 7, T0 + 60, T0, (0.4,)) for i in range(100)])
    store.apply("m", labels=[Label(f"e{i}", 1.0, T0 + 5) for i in range(10)])
    (r,) = tracker.evaluate(T0 + 10)
    assert r.verdict.status == PerformanceStatus.INSUFFICIENT_LABELS
    assert r.joined == 10 and not r.final
    other = PerformanceTracker(
        JoinStore(tmp_path / "k.db"), "m", baseline_perf, DegradationSettings()
    )
    assert other.evaluate(T0) == []


BINARY = TaskSpec("binary", "y", ("score",), ("0", "1"))
MULTI = TaskSpec("multiclass", "y", ("p_a", "p_b"), ("a", "b"))
HARD = TaskSpec("multiclass", "y", ("cls",), ("a", "b"), hard=True)
REG = TaskSpec("regression", "y", ("pred",))


@pytest.mark.parametrize(
    ("spec", "prediction", "expected"),
    [
        (BINARY, 0.25, (0.25,)),
        (BINARY, {"score": 1.0}, (1.0,)),
        (BINARY, 1.5, None),
        (BINARY, "0.3", None),
        (BINARY, float("nan"), None),
        (MULTI, {"p_a": 0.3, "p_b": 0.7, "other": 1}, (0.3, 0.7)),
        (MULTI, {"p_a": 0.3}, None),
        (MULTI, 0.3, None),
        (HARD, "b", (1.0,)),
        (HARD, "zz", None),
        (REG, -12.5, (-12.5,)),
        (REG, None, None),
    ],
)
def test_encode_outputs(spec: TaskSpec, prediction: object, expected: object) -> None:
    assert encode_outputs(spec, prediction) == expected


@pytest.mark.parametrize(
    ("spec", "label", "expected"),
    [
        (BINARY, 1, 1.0),
        (BINARY, True, 1.0),
        (BINARY, "0", 0.0),
        (BINARY, 0.0, 0.0),
        (BINARY, 2, None),
        (BINARY, None, None),
        (MULTI, "b", 1.0),
        (MULTI, "c", None),
        (REG, 3.5, 3.5),
        (REG, "x", None),
    ],
)
def test_encode_label(spec: TaskSpec, label: object, expected: float | None) -> None:
    got = encode_label(spec, label)
    assert got == expected or (
        got is not None and expected is not None and math.isclose(got, expected)
    )
