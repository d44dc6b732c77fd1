"""Reading a run's per-window records for the report over time (``report --from``).

Inputs are JSON Lines files: the window audit log (``state.audit_windows``) and/or a
dump of the report topic (one message value per line, e.g. from
``kafka-console-consumer``). Lines of ``"type": "window.evaluated"`` are windows,
``drift.detected`` / ``drift.escalated`` / ``drift.resolved`` are incidents, and so are
``performance.degraded`` / ``performance.recovered``; lines of ``"type":
"window.performance"`` (:func:`drift_monitor.labels.records.performance_record`) are a
window's model performance as its labels arrived (the final one, else the one with the
most labels, is kept per window); other
lines (older audit lines without a type) are ignored, and a line that is not a JSON
object (a torn last line after ``kill -9``) is counted and skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drift_monitor.errors import DriftMonitorError
from drift_monitor.evaluation.results import WINDOW_RECORD_TYPE, Status
from drift_monitor.labels.records import PERFORMANCE_RECORD_TYPE

DRIFT_INCIDENT_TYPES = ("drift.detected", "drift.escalated", "drift.resolved")
PERFORMANCE_INCIDENT_TYPES = ("performance.degraded", "performance.recovered")
INCIDENT_TYPES = DRIFT_INCIDENT_TYPES + PERFORMANCE_INCIDENT_TYPES
#: Performance verdicts of a window (``window.performance`` records' ``verdict``).
VERDICTS = ("ok", "degraded", "insufficient_labels")
_STATUS = {s.label: s for s in Status}


@dataclass(frozen=True, slots=True)
class TestPoint:
    """One test of one column in one window. ``warning``/``alert`` are the thresholds
    on the statistic's scale when the record carries them (None otherwise)."""

    statistic: float | None
    p_value: float | None
    warning: float | None = None
    alert: float | None = None


@dataclass(frozen=True, slots=True)
class ColumnPoint:
    """One column in one window."""

    kind: str
    status: Status
    tests: dict[str, TestPoint]


@dataclass(frozen=True, slots=True)
class WindowPoint:
    """One evaluated window: bounds in epoch milliseconds, its verdict and columns."""

    start_ms: int
    end_ms: int
    events: int
    status: Status
    drift_share: float
    baseline_version: str
    columns: dict[str, ColumnPoint]


@dataclass(frozen=True, slots=True)
class IncidentMark:
    """An incident at the end of its window (epoch ms)."""

    type: str
    id: str
    end_ms: int


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One performance metric of one window: its value, the baseline's, and whether it
    decides the verdict and was found degraded (None: not in the record)."""

    value: float | None
    baseline: float | None
    decides: bool
    degraded: bool


@dataclass(frozen=True, slots=True)
class PerformancePoint:
    """A prediction window's model performance (the record kept for it): bounds in epoch
    ms, label counts, coverage in [0, 1], ``verdict`` (one of :data:`VERDICTS`),
    whether it was ``final`` and its metrics (name -> point)."""

    start_ms: int
    end_ms: int
    tracked: int
    joined: int
    coverage: float
    verdict: str
    final: bool
    baseline_version: str
    metrics: dict[str, MetricPoint]


@dataclass(slots=True)
class RunRecords:
    """A model's windows (by window end, a window recorded twice kept once), its
    windows' performance (by window end) and its incidents (one per id and type), all
    in time order; ``skipped`` unreadable lines."""

    model: str
    windows: list[WindowPoint] = field(default_factory=list)
    incidents: list[IncidentMark] = field(default_factory=list)
    skipped: int = 0
    performance: list[PerformancePoint] = field(default_factory=list)


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _iso_ms(s: Any) -> int | None:
    if not isinstance(s, str):
        return None
    try:
        return round(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _level(levels: dict[str, Any], name: str) -> float | None:
    lv = levels.get(name)
    return _number(lv.get("threshold")) if isinstance(lv, dict) else None


def _column(feature: dict[str, Any]) -> ColumnPoint:
    # ``thresholds`` ({test: {"warning": {"threshold": …}, "alert": {…}}}) is on the
    # effect scale; it equals the statistic's for every test but chi2 (Cohen's w), whose
    # levels are therefore not drawn against its statistic.
    thresholds = feature.get("thresholds") or {}
    tests: dict[str, TestPoint] = {}
    for name, t in (feature.get("tests") or {}).items():
        if not isinstance(t, dict):
            continue
        levels = thresholds.get(name) if name != "chi2" else None
        levels = levels if isinstance(levels, dict) else {}
        tests[name] = TestPoint(
            _number(t.get("statistic")),
            _number(t.get("p_value")),
            _level(levels, "warning"),
            _level(levels, "alert"),
        )
    return ColumnPoint(
        str(feature.get("kind", "")),
        _STATUS.get(str(feature.get("status")), Status.INSUFFICIENT_DATA),
        tests,
    )


def _window(doc: dict[str, Any]) -> WindowPoint | None:
    w = doc.get("window")
    if not isinstance(w, dict) or not isinstance(w.get("end_ms"), int):
        return None  # an offline check's record has no bounds: not a point in time
    start = w.get("start_ms")
    return WindowPoint(
        start_ms=start if isinstance(start, int) else w["end_ms"],
        end_ms=w["end_ms"],
        events=int(doc.get("events") or 0),
        status=_STATUS.get(str(doc.get("status")), Status.INSUFFICIENT_DATA),
        drift_share=_number(doc.get("drift_share")) or 0.0,
        baseline_version=str(doc.get("baseline_version", "")),
        columns={
            str(f["name"]): _column(f)
            for f in doc.get("features") or ()
            if isinstance(f, dict) and "name" in f
        },
    )


def _performance(doc: dict[str, Any]) -> PerformancePoint | None:
    w = doc.get("window")
    if not isinstance(w, dict) or not isinstance(w.get("end_ms"), int):
        return None
    start = w.get("start_ms")
    raw_baseline = doc.get("baseline")
    baseline: dict[str, Any] = raw_baseline if isinstance(raw_baseline, dict) else {}
    metrics: dict[str, MetricPoint] = {}
    for d in doc.get("decision") or ():
        if isinstance(d, dict) and isinstance(d.get("metric"), str):
            metrics[d["metric"]] = MetricPoint(
                _number(d.get("value")),
                _number(d.get("baseline")),
                d.get("decides") is True,
                d.get("degraded") is True,
            )
    for name, value in (doc.get("metrics") or {}).items():
        if isinstance(name, str) and name not in metrics:
            metrics[name] = MetricPoint(_number(value), _number(baseline.get(name)), False, False)
    verdict = str(doc.get("verdict"))
    return PerformancePoint(
        start_ms=start if isinstance(start, int) else w["end_ms"],
        end_ms=w["end_ms"],
        tracked=int(_number(doc.get("tracked")) or 0),
        joined=int(_number(doc.get("joined")) or 0),
        coverage=_number(doc.get("coverage")) or 0.0,
        verdict=verdict if verdict in VERDICTS else "insufficient_labels",
        final=doc.get("final") is True,
        baseline_version=str(doc.get("baseline_version", "")),
        metrics=metrics,
    )


def _keep(old: PerformancePoint | None, new: PerformancePoint) -> bool:
    """Whether ``new`` replaces ``old`` for its window: a final record wins (it is the
    last one published), then the one with more labels, then the later line."""
    return old is None or (new.final, new.joined) >= (old.final, old.joined)


def load_records(paths: list[str | os.PathLike[str]], model: str) -> RunRecords:
    """``model``'s windows and incidents from the JSON Lines files ``paths``.

    Raises :class:`~drift_monitor.errors.DriftMonitorError` (naming the file) when a
    file cannot be read, and when no file holds a window of ``model`` (naming the models
    that were found)."""
    run = RunRecords(model)
    windows: dict[int, WindowPoint] = {}
    perf: dict[int, PerformancePoint] = {}
    incidents: dict[tuple[str, str], IncidentMark] = {}
    seen: set[str] = set()
    for p in paths:
        path = Path(p)
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise DriftMonitorError(
                f"{path}: cannot read the records ({exc.strerror}); pass the window audit "
                "log (state.audit_windows) or a JSON Lines dump of the report topic"
            ) from None
        for line in lines:
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                run.skipped += 1
                continue
            if not isinstance(doc, dict):
                run.skipped += 1
                continue
            kind, who = doc.get("type"), doc.get("model")
            if kind == WINDOW_RECORD_TYPE and isinstance(who, str):
                seen.add(who)
            if who != model:
                continue
            if kind == WINDOW_RECORD_TYPE:
                point = _window(doc)
                if point is not None:
                    windows[point.end_ms] = point
            elif kind == PERFORMANCE_RECORD_TYPE:
                p_point = _performance(doc)
                if p_point is not None and _keep(perf.get(p_point.end_ms), p_point):
                    perf[p_point.end_ms] = p_point
            elif kind in INCIDENT_TYPES:
                end = _iso_ms((doc.get("window") or {}).get("end"))
                if end is not None:
                    key = (str(doc.get("id")), str(kind))
                    incidents[key] = IncidentMark(str(kind), key[0], end)
    if not windows:
        found = ", ".join(sorted(seen)) or "none"
        names = ", ".join(str(p) for p in paths)
        raise DriftMonitorError(
            f"{names}: no window records of model {model!r} (models found: {found}); "
            "the audit log needs state.audit_windows: true, the report topic kafka.report_topic"
        )
    run.windows = [windows[k] for k in sorted(windows)]
    run.performance = [perf[k] for k in sorted(perf)]
    run.incidents = sorted(incidents.values(), key=lambda m: (m.end_ms, m.type))
    return run
