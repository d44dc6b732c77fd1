"""``report --from`` with model performance: the ``window.performance`` record (built from
a real tracker's window), reading it back (latest/final per window), and the page's
"Model performance" section with performance incidents."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.labels.decision import DegradationSettings
from drift_monitor.labels.records import PERFORMANCE_RECORD_TYPE, performance_record
from drift_monitor.labels.store import JoinStore, Label, Prediction
from drift_monitor.labels.tracker import PerformanceTracker, WindowPerformance
from drift_monitor.report.history import render_history
from drift_monitor.report.records import load_records

T0 = 1_795_687_200.0  # 2026-11-26T10:00:00Z
WINDOW_S = 60.0
T0_MS = int(T0 * 1000)
MIN = 60_000


def _model(n: int, seed: int, degraded: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    return (rng.permutation(y) if degraded else y), s


@pytest.fixture(scope="module")
def baseline_perf() -> BaselinePerformance:
    y, s = _model(4000, 1)
    b = build_baseline(pd.DataFrame({"score": s, "y": y}), "m", prediction=["score"], label="y")
    assert b.performance is not None
    return b.performance


def _windows(
    tmp_path: Path, perf: BaselinePerformance
) -> tuple[list[WindowPerformance], dict[int, tuple[list[float], list[float]]]]:
    """Two windows of 400 predictions, the second degraded; 300 labels each arrive."""
    store = JoinStore(tmp_path / "j.db", max_delay=86_400.0)
    tracker = PerformanceTracker(store, "m", perf, DegradationSettings(min_labels=100))
    joined: dict[int, tuple[list[float], list[float]]] = {}
    for w in (0, 1):
        y, s = _model(400, 10 + w, degraded=w == 1)
        end = T0 + (w + 1) * WINDOW_S
        preds = [
            Prediction(f"{w}-{i}", w, end, T0 + w * WINDOW_S + i * 0.1, (float(s[i]),))
            for i in range(400)
        ]
        store.apply("m", preds)
        labels = [Label(f"{w}-{i}", float(y[i]), end + 120.0) for i in range(300)]
        store.apply("m", labels=labels)
        joined[w] = ([float(v) for v in y[:300]], [float(v) for v in s[:300]])
    out = tracker.evaluate(watermark=T0 + 600.0)
    store.flush()
    store.close()
    return out, joined


def _write(path: Path, docs: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _drift_record(k: int, model: str = "m") -> dict[str, Any]:
    return {
        "type": "window.evaluated",
        "model": model,
        "baseline_version": "v1",
        "events": 400,
        "status": "ok",
        "drift_share": 0.0,
        "features": [{"name": "score", "kind": "prediction", "status": "ok", "tests": {"psi": {}}}],
        "window": {"start_ms": T0_MS + k * MIN, "end_ms": T0_MS + (k + 1) * MIN, "events": 400},
    }


def test_the_record_carries_what_the_tracker_computed(
    tmp_path: Path, baseline_perf: BaselinePerformance
) -> None:
    windows, joined = _windows(tmp_path, baseline_perf)
    assert [w.verdict.status.value for w in windows] == ["ok", "degraded"]
    rec = performance_record(windows[1], window_start=T0 + WINDOW_S, baseline_version="v1")
    rec = json.loads(json.dumps(rec, allow_nan=False))  # JSON-safe: no NaN or inf
    assert rec["type"] == PERFORMANCE_RECORD_TYPE == "window.performance"
    assert rec["window"] == {
        "id": 1,
        "start_ms": T0_MS + MIN,
        "end_ms": T0_MS + 2 * MIN,
        "start": "2026-11-26T10:01:00.000Z",
        "end": "2026-11-26T10:02:00.000Z",
    }
    assert (rec["model"], rec["task"], rec["baseline_version"]) == ("m", "binary", "v1")
    assert (rec["tracked"], rec["joined"], rec["labels"], rec["coverage"]) == (400, 300, 300, 0.75)
    assert rec["final"] is False and rec["verdict"] == "degraded"
    y, s = joined[1]
    assert rec["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert rec["metrics"]["log_loss"] == pytest.approx(skm.log_loss(y, s), abs=1e-9)
    assert rec["baseline"]["roc_auc"] == pytest.approx(baseline_perf.metrics["roc_auc"])
    first = rec["decision"][0]
    assert first["metric"] == "roc_auc" and first["decides"] and first["degraded"]
    assert first["shortfall"] > first["tolerance"] and first["shortfall"] > first["minimum"]
    assert rec["delay_seconds"]["max"] == pytest.approx(T0 + 2 * WINDOW_S + 120.0 - (T0 + WINDOW_S))
    # Unknown start: null, not a made-up number.
    bare = performance_record(windows[0], window_start=None, baseline_version="v1")
    assert bare["window"]["start_ms"] is None and bare["window"]["start"] is None


def test_a_window_keeps_its_final_record_then_the_one_with_most_labels(
    tmp_path: Path, baseline_perf: BaselinePerformance
) -> None:
    windows, _ = _windows(tmp_path, baseline_perf)
    base = performance_record(windows[0], window_start=T0, baseline_version="v1")
    early = {**base, "joined": 100, "coverage": 0.25, "verdict": "insufficient_labels"}
    final = {**base, "joined": 380, "coverage": 0.95, "final": True}
    later_partial = {**base, "joined": 200, "coverage": 0.5}  # another file, read after
    other = {**base, "model": "other"}
    docs = [_drift_record(0), _drift_record(1), early, final, other]
    a = _write(tmp_path / "audit.jsonl", docs)
    b = _write(tmp_path / "topic.jsonl", [later_partial, base])
    run = load_records([a, b], "m")
    (p,) = run.performance
    assert (p.final, p.joined, p.coverage, p.verdict) == (True, 380, 0.95, "ok")
    assert (p.start_ms, p.end_ms) == (T0_MS, T0_MS + MIN)
    roc = p.metrics["roc_auc"]
    assert roc.decides and not roc.degraded
    assert roc.value == pytest.approx(base["metrics"]["roc_auc"])
    assert roc.baseline == pytest.approx(base["baseline"]["roc_auc"])
    # Without a final record, the one with the most labels.
    run = load_records([_write(tmp_path / "c.jsonl", [_drift_record(0), base, early])], "m")
    assert run.performance[0].joined == 300


def test_the_page_shows_performance_over_time_with_its_incidents(
    tmp_path: Path, baseline_perf: BaselinePerformance
) -> None:
    windows, _ = _windows(tmp_path, baseline_perf)
    recs = [
        performance_record(w, window_start=T0 + w.window_id * WINDOW_S, baseline_version="v1")
        for w in windows
    ]
    recs[0]["final"] = True
    degraded = {
        "type": "performance.degraded",
        "id": "m-perf-1",
        "model": "m",
        "window": {"start": "2026-11-26T10:01:00.000Z", "end": "2026-11-26T10:02:00.000Z"},
    }
    docs = [_drift_record(0), _drift_record(1), *recs, degraded]
    page = render_history(load_records([_write(tmp_path / "r.jsonl", docs)], "m"))
    assert '<h2 id="performance">Model performance</h2>' in page
    assert "2 prediction window(s) with labels: 1 ok, 1 degraded; 1 final." in page
    assert "Deciding metric(s): roc_auc." in page
    assert "<dt>performance</dt><dd>1 ok, 1 degraded of 2</dd>" in page
    assert "1 degraded (performance)" in page  # the summary's incidents
    names = sorted(recs[0]["metrics"])
    charts = len(names) + 1  # every metric, plus coverage
    # The incident on the drift strip, the column's chart, the verdict strip and every
    # performance chart.
    mark = "<title>performance.degraded m-perf-1 at 2026-11-26T10:02:00.000Z</title>"
    assert page.count(mark) == 2 + 1 + charts
    # The deciding metric's chart comes first, with both windows and the baseline step.
    assert page.index("roc_auc (higher is better)") < page.index("accuracy (higher is better)")
    assert "log_loss (lower is better)" in page
    roc = recs[1]["metrics"]["roc_auc"]
    base = recs[1]["baseline"]["roc_auc"]
    tip = (
        f"<title>2026-11-26T10:02:00.000Z: roc_auc {roc:.4g} (baseline {base:.4g}), degraded, "
        "300 labels, degraded, not final</title>"
    )
    assert tip in page
    assert page.count('stroke="#4e79a7" stroke-width="1.2" stroke-dasharray="5 3"') == 2 * len(
        [n for n in names if not math.isnan(recs[0]["baseline"].get(n) or math.nan)]
    )
    assert "300 of 400 tracked predictions labelled" in page


def test_a_page_without_performance_records_has_no_performance_section(tmp_path: Path) -> None:
    page = render_history(load_records([_write(tmp_path / "r.jsonl", [_drift_record(0)])], "m"))
    assert "Model performance" not in page and "<dt>performance</dt>" not in page
