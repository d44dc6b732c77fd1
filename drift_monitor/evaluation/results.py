"""Typed results of evaluating one window against a baseline."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

from drift_monitor.stats.registry import REGISTRY, DriftTest


def json_number(x: float | None) -> float | None:
    """``x`` as a JSON-safe float: None (null) for None, NaN and ±inf."""
    return None if x is None or not math.isfinite(x) else float(x)


#: ``type`` of the per-window record (report topic, audit log); incidents carry
#: ``drift.detected`` / ``drift.escalated`` / ``drift.resolved``.
WINDOW_RECORD_TYPE = "window.evaluated"


def json_ms(t: float | None) -> int | None:
    """Epoch seconds as integer epoch milliseconds (rounded); None for None or non-finite."""
    return None if t is None or not math.isfinite(t) else round(t * 1000)


def json_time(
    t: float | None, timespec: Literal["seconds", "milliseconds"] = "seconds"
) -> str | None:
    """Epoch seconds as an RFC 3339 UTC string (``…Z``); None for None or non-finite."""
    if t is None or not math.isfinite(t):
        return None
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


class Status(IntEnum):
    """Column/model status; the integer is the ``*_status`` gauge value."""

    INSUFFICIENT_DATA = -1
    OK = 0
    WARNING = 1
    ALERT = 2

    @property
    def label(self) -> str:
        """``insufficient_data``, ``ok``, ``warning`` or ``alert``."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Level:
    """One decision level of a deciding test, on the ``effect`` scale: ``threshold`` is
    the calibrated null quantile at the window's size for the level's share of the
    false-alarm budget (the fixed threshold in fixed mode) and ``floor`` the effect-size
    floor (None in fixed mode). The level is reached when effect >= both."""

    threshold: float
    floor: float | None

    def json(self) -> dict[str, float | None]:
        """``{"threshold": …, "floor": …}`` (non-finite numbers become null)."""
        return {"threshold": json_number(self.threshold), "floor": json_number(self.floor)}


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test on one column. ``p_value`` is the raw p-value (None for distance tests);
    ``p_value_adjusted`` the corrected one used by the decision; ``effect`` the quantity
    compared with the thresholds (the statistic itself, or Cohen's w for chi2);
    ``status`` is None for tests that only report; ``threshold`` is the alert level
    of ``effect``; ``levels`` (deciding tests) the warning/alert thresholds and floors
    (see :class:`Level`), ``mode`` ``calibrated`` or ``fixed``."""

    test: str
    statistic: float
    p_value: float | None
    p_value_adjusted: float | None
    effect: float
    status: Status | None
    threshold: float
    levels: dict[str, Level] | None = None
    mode: str = "fixed"


@dataclass(frozen=True, slots=True)
class ColumnResult:
    """One column of one window. ``events`` counts present (non-missing) values;
    ``unseen_ratio`` is None for numeric columns; ``note`` explains an
    insufficient_data status."""

    name: str
    kind: str  # numeric | categorical | prediction  (the reported kind)
    status: Status
    events: int
    missing_ratio: float
    unseen_ratio: float | None
    tests: dict[str, TestResult]
    note: str = ""

    def tests_json(self) -> dict[str, dict[str, float | None]]:
        """``{test: {"statistic": …, "p_value": …}}`` as in ``check --format json``
        and ``/status`` (non-finite numbers become null)."""
        return {
            t.test: {"statistic": json_number(t.statistic), "p_value": json_number(t.p_value)}
            for t in self.tests.values()
        }

    def thresholds_json(self) -> dict[str, dict[str, Any]]:
        """The deciding tests' levels, ``{test: {"mode": "calibrated"|"fixed",
        "warning": {"threshold": …, "floor": …}, "alert": {…}}}``, as in
        ``check --format json`` and ``/status`` (on the effect scale: the statistic, or
        Cohen's w for chi2)."""
        return {
            t.test: {"mode": t.mode, **{name: lv.json() for name, lv in t.levels.items()}}
            for t in self.tests.values()
            if t.levels is not None
        }


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A model's window verdict. ``start``/``end`` are event-time bounds in epoch
    seconds (None for offline checks); ``drift_share`` is the share of evaluated
    columns in ``alert``.

    Per-segment drift: ``segments`` holds one result per segment of ``segment_by``
    (each with ``segment`` set to its name and ``events`` its rows in the window);
    the model's own ``status`` is the overall window's, segments never change it."""

    model: str
    baseline_version: str
    events: int
    start: float | None
    end: float | None
    status: Status
    drift_share: float
    columns: tuple[ColumnResult, ...]
    segment: str | None = None
    segment_by: str | None = None
    segments: tuple[WindowResult, ...] = ()

    @property
    def drifted_segments(self) -> list[WindowResult]:
        """Segments whose status is ``alert``, in segment order."""
        return [s for s in self.segments if s.status == Status.ALERT]

    @property
    def drifted(self) -> list[ColumnResult]:
        """Columns in alert, worst first."""
        return sorted(
            (c for c in self.columns if c.status == Status.ALERT), key=_severity, reverse=True
        )

    def reported_tests(self) -> list[DriftTest]:
        """The tests a table of this window gives a column (``check``, the report), in
        registry order: every test computed by default, and any other test that some
        column computed."""
        computed = {name for c in self.columns for name in c.tests}
        return [t for t in REGISTRY if t.computed_by_default or t.name in computed]

    def to_json(self) -> dict[str, Any]:
        """The SPEC's ``check --format json`` object: model, baseline version, events,
        status, drift share and every column worst first with its tests (non-finite
        numbers become null). With segments, also ``segment_by``, ``drifted_segments``
        (names) and ``segments``: per segment ``segment``, ``events``, ``status``,
        ``drift_share`` and ``features`` as above."""
        doc = {
            "model": self.model,
            "baseline_version": self.baseline_version,
            "events": self.events,
            "status": self.status.label,
            "drift_share": self.drift_share,
            "features": self.features_json(),
        }
        if self.segment_by is not None:
            doc["segment_by"] = self.segment_by
            doc["drifted_segments"] = [s.segment for s in self.drifted_segments]
            doc["segments"] = [
                {
                    "segment": s.segment,
                    "events": s.events,
                    "status": s.status.label,
                    "drift_share": s.drift_share,
                    "features": s.features_json(),
                }
                for s in self.segments
            ]
        return doc

    def features_json(self) -> list[dict[str, Any]]:
        """The ``features`` list of :meth:`to_json`: every column, worst first."""
        return [
            {
                "name": c.name,
                "kind": c.kind,
                "status": c.status.label,
                "missing_ratio": c.missing_ratio,
                "tests": c.tests_json(),
                "thresholds": c.thresholds_json(),
            }
            for c in self.by_severity()
        ]

    def record_json(self) -> dict[str, Any]:
        """The per-window record (report topic, audit log, ``report --from``):
        :meth:`to_json` plus ``"type": "window.evaluated"`` and the event-time window
        (``start_ms``/``end_ms`` integer epoch milliseconds, ``start``/``end`` RFC 3339
        with milliseconds, null for an offline check; ``events``)."""
        return {
            "type": WINDOW_RECORD_TYPE,
            **self.to_json(),
            "window": {
                "start_ms": json_ms(self.start),
                "end_ms": json_ms(self.end),
                "start": json_time(self.start, "milliseconds"),
                "end": json_time(self.end, "milliseconds"),
                "events": self.events,
            },
        }

    def by_severity(self) -> list[ColumnResult]:
        """All columns, worst first (status, then the largest deciding effect)."""
        return sorted(self.columns, key=_severity, reverse=True)


def _severity(c: ColumnResult) -> tuple[int, float]:
    deciding = [
        t.effect / t.threshold if t.threshold > 0 else t.effect
        for t in c.tests.values()
        if t.status is not None
    ]
    return (int(c.status), max(deciding, default=0.0))
