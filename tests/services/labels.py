"""A labelled prediction stream for the label-join tests (memory and real broker).

Model ``m`` (binary, one score ``score``, one feature ``x``), prediction windows of
``WINDOW_S`` seconds from ``T0``. Window ``w`` has ``per_window`` predictions; the model
is good in every window except ``degraded`` ones (the score ignores the label there).
Labels arrive ``2..3`` windows after their prediction (label event time = prediction
time + delay). Of the predictions: ``never`` share get no label, ``early`` share get
their label (stamped 0.5 s after the prediction) placed *before* their prediction in
the stream, ``dup`` share get their label twice. Records are ordered by arrival time
(a prediction at its event time, a label at its label time, an early label just before
its prediction).

``expected(...)`` gives, per window, the labelled pairs the join must end with: the
oracle the tests compare the daemon's per-window metrics with (scikit-learn).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from sklearn import metrics as skm

from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.model import Baseline
from tests.services.streams import iso

T0 = 1_795_000_020.0  # 2026-11-18T11:07:00Z, on the 60 s window grid
WINDOW_S = 60.0


def _scores(rng: np.random.Generator, y: np.ndarray, degraded: bool) -> np.ndarray:
    s = np.clip(0.35 * y + rng.uniform(0.0, 0.65, y.shape[0]), 0.0, 1.0)
    return rng.permutation(s) if degraded else s


def labelled_baseline(version: str = "v1", n: int = 6000) -> Baseline:
    """The model's baseline, with its performance on a labelled validation set."""
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, n)
    df = pd.DataFrame({"x": rng.normal(size=n), "score": _scores(rng, y, False), "y": y})
    return build_baseline(df, "m", prediction=["score"], label="y", version=version)


@dataclass(frozen=True, slots=True)
class Item:
    """One record to produce: ``topic`` is ``"predictions"`` or ``"labels"``."""

    arrival: float
    topic: str
    value: bytes


@dataclass(slots=True)
class LabelledStream:
    """The records and the truth behind them."""

    items: list[Item] = field(default_factory=list)
    # event id -> (window, event time, score, label or None, label time or None)
    truth: dict[str, tuple[int, float, float, int, float | None]] = field(default_factory=dict)

    def values(self, topic: str) -> list[bytes]:
        return [i.value for i in self.items if i.topic == topic]

    def expected(self, window: int) -> tuple[list[int], list[float], list[float]]:
        """(labels, scores, delays) of the window's labelled predictions, by event id."""
        rows = sorted(
            (eid, t) for eid, t in self.truth.items() if t[0] == window and t[4] is not None
        )
        return (
            [t[3] for _, t in rows],
            [t[2] for _, t in rows],
            [float(t[4]) - t[1] for _, t in rows if t[4] is not None],
        )


def labelled_stream(
    windows: int,
    per_window: int,
    *,
    degraded: tuple[int, ...] = (),
    never: float = 0.1,
    early: float = 0.05,
    dup: float = 0.05,
    tail_windows: int = 8,
    in_topic: bool = False,
    seed: int = 5,
) -> LabelledStream:
    """See the module docstring. ``tail_windows`` more (good) windows follow, so both
    event-time watermarks pass every tested window's end plus the join's ``max_delay``
    (5 windows in the tests' configs). ``in_topic``: labels are label-only events on
    the predictions topic."""
    rng = np.random.default_rng(seed)
    out = LabelledStream()
    label_topic = "predictions" if in_topic else "labels"
    for w in range(windows + tail_windows):
        y = rng.integers(0, 2, per_window)
        s = _scores(rng, y, w in degraded)
        for i in range(per_window):
            eid = f"p{w}-{i}"
            ts = T0 + w * WINDOW_S + (i + 0.5) * WINDOW_S / per_window
            pred = {
                "model": "m",
                "event_id": eid,
                "timestamp": ts,
                "features": {"x": float(rng.normal())},
                "prediction": float(s[i]),
            }
            out.items.append(Item(ts, "predictions", orjson.dumps(pred)))
            u = rng.uniform()
            if u < never:
                out.truth[eid] = (w, ts, float(s[i]), int(y[i]), None)
                continue
            delay = float(rng.uniform(2.0, 3.0) * WINDOW_S)
            if u < never + early:
                delay = 0.5  # stamped (and sent) about when the prediction was
            label = {"model": "m", "event_id": eid, "label": int(y[i]), "timestamp": ts + delay}
            body = orjson.dumps(label)
            arrival = ts - 1e-3 if u < never + early else ts + delay
            out.items.append(Item(arrival, label_topic, body))
            if never + early <= u < never + early + dup:
                out.items.append(Item(ts + delay + 5.0, label_topic, body))
            out.truth[eid] = (w, ts, float(s[i]), int(y[i]), ts + delay)
    out.items.sort(key=lambda i: i.arrival)
    return out


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


def check_windows(
    final: dict[str, dict[str, Any]],
    stream: LabelledStream,
    windows: Iterable[int],
    degraded: tuple[int, ...] | None,
) -> None:
    """Every labelled window is final in /status with sklearn's metrics on exactly the
    pairs produced, its coverage and its delays."""
    for w in windows:
        doc = final[iso(T0 + w * WINDOW_S)]
        y, s, delays = stream.expected(w)
        tracked = sum(1 for t in stream.truth.values() if t[0] == w)
        assert (doc["tracked"], doc["joined"]) == (tracked, len(y)), w
        assert doc["coverage"] == pytest.approx(len(y) / tracked, abs=1e-12)
        for metric, want in sklearn_metrics(y, s).items():
            assert doc["metrics"][metric] == pytest.approx(want, abs=1e-9), (w, metric)
        assert doc["delay_median_seconds"] == pytest.approx(float(np.median(delays)), abs=1e-6)
        assert doc["delay_max_seconds"] == pytest.approx(max(delays), abs=1e-6)
        if degraded is not None:  # None: the verdicts are not what the caller tests
            assert doc["status"] == ("degraded" if w in degraded else "ok"), (w, doc)
