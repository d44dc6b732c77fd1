"""``report --from``: reading per-window records (dedup, incidents, thresholds, torn
lines) and the page over time (threshold steps, incident marks, escaping)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from drift_monitor import Baseline
from drift_monitor.errors import DriftMonitorError
from drift_monitor.evaluation import WindowData, WindowResult
from drift_monitor.report.history import render_history, time_ticks
from drift_monitor.report.records import load_records

T0_MS = 1_795_687_200_000
MIN = 60_000


def _levels(warning: float, alert: float) -> dict[str, Any]:
    """The calibration's per-test thresholds shape (effect scale)."""
    return {
        "mode": "calibrated",
        "warning": {"threshold": warning, "floor": 0.05},
        "alert": {"threshold": alert, "floor": 0.1},
    }


def _record(k: int, ks: float, status: str = "ok", model: str = "m") -> dict[str, Any]:
    return {
        "type": "window.evaluated",
        "model": model,
        "baseline_version": "v1",
        "events": 500,
        "status": status,
        "drift_share": 0.5 if status == "alert" else 0.0,
        "features": [
            {
                "name": "amount<script>",
                "kind": "numeric",
                "status": status,
                "missing_ratio": 0.0,
                "tests": {
                    "ks": {"statistic": ks, "p_value": 0.01},
                    "psi": {"statistic": 0.02, "p_value": None},
                },
                "thresholds": {"ks": _levels(0.1 + k / 100, 0.2 + k / 100)},
            },
            {
                "name": "country",
                "kind": "categorical",
                "status": "ok",
                "missing_ratio": 0.0,
                "tests": {"chi2": {"statistic": 40.0, "p_value": 0.2}},
                "thresholds": {"chi2": _levels(0.1, 0.3)},  # Cohen's w scale: not drawn
            },
        ],
        "window": {"start_ms": T0_MS + k * MIN, "end_ms": T0_MS + (k + 1) * MIN, "events": 500},
    }


def _write(path: Path, docs: list[Any], tail: str = "") -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs) + tail)
    return path


def test_records_are_deduplicated_ordered_and_filtered(tmp_path: Path) -> None:
    incident = {
        "type": "drift.detected",
        "id": "m-1",
        "model": "m",
        "window": {"start": "2026-11-26T10:01:00.000Z", "end": "2026-11-26T10:02:00.000Z"},
    }
    docs = [
        _record(2, 0.4, "alert"),
        _record(0, 0.05),
        _record(1, 0.3, "alert"),
        _record(1, 0.3, "alert"),  # published twice (at least once after a crash)
        _record(0, 0.9, model="other"),
        {"model": "m", "start": 1.0, "end": 2.0, "events": 3, "status": "ok", "ids": []},
        {**_record(5, 0.1), "window": {"start_ms": None, "end_ms": None}},  # offline check
        incident,
        incident,
        [1, 2],
    ]
    run = load_records([_write(tmp_path / "r.jsonl", docs, '{"type": "window.ev')], "m")
    assert [w.end_ms for w in run.windows] == [T0_MS + k * MIN for k in (1, 2, 3)]
    assert [w.status.label for w in run.windows] == ["ok", "alert", "alert"]
    assert [(m.type, m.id, m.end_ms) for m in run.incidents] == [
        ("drift.detected", "m-1", 1_795_687_320_000)
    ]
    assert run.skipped == 2  # the JSON list and the torn last line
    ks = run.windows[2].columns["amount<script>"].tests["ks"]
    assert ks.statistic == 0.4
    assert ks.warning == pytest.approx(0.12) and ks.alert == pytest.approx(0.22)
    chi2 = run.windows[0].columns["country"].tests["chi2"]
    assert chi2.statistic == 40.0 and chi2.warning is None and chi2.alert is None


def test_the_page_draws_each_windows_thresholds_and_marks_incidents(tmp_path: Path) -> None:
    docs = [_record(0, 0.05), _record(1, 0.3, "alert"), _record(2, 0.4, "alert")]
    docs.append(
        {
            "type": "drift.resolved",
            "id": "m-1",
            "model": "m",
            "window": {"end": "2026-11-26T10:03:00.000Z"},
        }
    )
    page = render_history(load_records([_write(tmp_path / "r.jsonl", docs)], "m"))
    assert "<script>" not in page and "amount&lt;script&gt;" in page
    # ks: a warning and an alert step per window (3 each); chi2 and psi carry none
    assert page.count('stroke-dasharray="5 3"') == 6
    assert page.count('stroke="#d4a72c" stroke-width="1.2" stroke-dasharray="5 3"') == 3
    # the resolved incident on the strip and on each of the 3 test charts
    assert page.count("<title>drift.resolved m-1 at 2026-11-26T10:03:00.000Z</title>") == 4
    # three points per test chart, coloured by the column's status
    assert page.count("<title>2026-11-26T10:02:00.000Z: 0.3 (alert), p 0.01</title>") == 1


def test_unknown_model_and_unreadable_file_are_one_line_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [_record(0, 0.1, model="fraud")])
    with pytest.raises(
        DriftMonitorError, match=r"no window records of model 'm' \(models found: fraud\)"
    ):
        load_records([path], "m")
    with pytest.raises(DriftMonitorError, match=r"missing\.jsonl: cannot read the records"):
        load_records([tmp_path / "missing.jsonl"], "m")


def test_a_real_windows_record_round_trips(
    tmp_path: Path, credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]
) -> None:
    result = dataclasses.replace(drifted[0], start=1_795_687_200.25, end=1_795_687_260.25)
    record = result.record_json()
    assert record["type"] == "window.evaluated"
    assert {k: v for k, v in record.items() if k not in ("type", "window")} == result.to_json()
    assert record["window"] == {
        "start_ms": 1_795_687_200_250,
        "end_ms": 1_795_687_260_250,
        "start": "2026-11-26T10:00:00.250Z",
        "end": "2026-11-26T10:01:00.250Z",
        "events": result.events,
    }
    run = load_records([_write(tmp_path / "r.jsonl", [record])], result.model)
    (w,) = run.windows
    assert set(w.columns) == {c.name for c in result.columns}
    for c in result.columns:
        for name, t in c.tests.items():
            assert w.columns[c.name].tests[name].statistic == pytest.approx(t.statistic)


def test_time_ticks_fall_on_whole_clock_units() -> None:
    t0 = 1_795_687_200.0  # 10:00:00
    assert time_ticks(t0, t0 + 240) == [t0 + 60 * k for k in range(5)]
    assert time_ticks(t0 + 7, t0 + 7 + 3 * 3600) == [t0 + 3600 * k for k in (1, 2, 3)]
    assert all(t % 86400 == 0 for t in time_ticks(t0, t0 + 30 * 86400))
    assert time_ticks(t0, t0) == [t0]
