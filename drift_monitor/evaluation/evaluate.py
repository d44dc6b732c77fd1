"""Evaluating one window of a model's events against its baseline.

The input is columnar (:class:`WindowData`): one float64 array per numeric column
(NaN = missing; ±inf are treated as missing too) and one int32 code array per
categorical column (see :func:`drift_monitor.stats.encode_categories`). The same
function serves the daemon's windows and the offline ``check`` command.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from drift_monitor.baseline.model import Baseline, ColumnBaseline
from drift_monitor.evaluation.calibrated import Candidate, Decision, calibrated_decisions
from drift_monitor.evaluation.decision import adjust_p_values, decide, model_status
from drift_monitor.evaluation.results import ColumnResult, Level, Status, TestResult, WindowResult
from drift_monitor.evaluation.settings import DetectionSettings
from drift_monitor.stats.categorical import tally_codes
from drift_monitor.stats.prepared import PreparedCategorical, PreparedNumeric
from drift_monitor.stats.registry import REGISTRY, drift_test
from drift_monitor.stats.score import CategoryCounts, NumericWindow, Score
from drift_monitor.windows.data import WindowData

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


@dataclass(slots=True)
class _Raw:
    """A column's statistics before the multiple-testing correction."""

    column: ColumnBaseline
    events: int
    missing_ratio: float
    unseen_ratio: float | None
    scores: dict[str, Score]  # test name -> score, in the configured order
    note: str = ""
    counts: tuple[npt.NDArray[np.int64], int] | None = None  # categorical: (counts, unseen)
    deciding: tuple[str, ...] = ()  # settings.tests_for(...)[1], looked up once per window


def evaluate_window(
    baseline: Baseline, data: WindowData, settings: DetectionSettings
) -> WindowResult:
    """Score every baseline column of ``data`` and decide column and model statuses.

    Columns with fewer than ``settings.min_events`` present values, or whose baseline
    has no values, are ``insufficient_data`` (never drift). p-values are corrected
    across the model's columns, per test, with ``settings.correction``. With
    ``settings.segment_by``, the result also holds one result per segment (see
    :mod:`drift_monitor.evaluation.segments`); ConfigError when the baseline has no
    segments by that column.
    """
    prepared = baseline.prepared()
    raws: list[_Raw] = []
    for col in baseline.columns:
        cs = settings.columns.get(col.name)
        if cs is not None and cs.ignore:
            continue
        raws.append(_score_column(col, prepared.get(col.name), data, settings))

    # Corrected per test across the model's columns (m = columns that computed it).
    adjusted: dict[tuple[str, str], float] = {}
    for test in REGISTRY:
        if not test.has_p_value:
            continue
        owners = [(r, r.scores[test.name].p_value) for r in raws if test.name in r.scores]
        ps = [float(p) for _, p in owners if p is not None]
        owned = [r for r, p in owners if p is not None]
        for r, p_adj in zip(owned, adjust_p_values(ps, settings.correction), strict=True):
            adjusted[(r.column.name, test.name)] = float(p_adj)

    # -- calibrated thresholds hook (drift_monitor/evaluation/calibrated.py) --------
    verdicts: dict[tuple[str, str], Decision] | None = None
    if settings.threshold_mode == "calibrated":
        verdicts = calibrated_decisions(baseline, _candidates(raws, settings), settings)
    # -- end of hook ---------------------------------------------------------------
    columns = [_decide(r, adjusted, settings, verdicts) for r in raws]
    status, share = model_status(columns, data.events, settings.min_events, settings.status_rule)
    result = WindowResult(
        model=baseline.model,
        baseline_version=baseline.version,
        events=data.events,
        start=data.start,
        end=data.end,
        status=status,
        drift_share=share,
        columns=tuple(columns),
    )
    if settings.segment_by is None:
        return result
    # Per-segment drift (drift_monitor/evaluation/segments.py): the same window split by
    # the segment column, each part against its segment's baseline.
    from drift_monitor.evaluation.segments import evaluate_segments  # noqa: PLC0415 - cycle

    segments = evaluate_segments(baseline, data, settings, evaluate_window)
    return dataclasses.replace(result, segment_by=settings.segment_by, segments=segments)


def _score_column(
    col: ColumnBaseline,
    prep: PreparedNumeric | PreparedCategorical | None,
    data: WindowData,
    settings: DetectionSettings,
) -> _Raw:
    """Only the tests configured for the column are computed; the window column is
    sorted (numeric) or tallied (categorical) once and shared by them."""
    n_events = data.events
    names, deciding = settings.tests_for(col.name, col.kind)
    tests = [drift_test(t) for t in names]
    scores: dict[str, Score] = {}
    if col.kind == "numeric":
        arr = data.numeric.get(col.name)
        values = arr[np.isfinite(arr)] if arr is not None else np.empty(0, dtype=np.float64)
        present = int(values.shape[0])
        missing = _ratio(n_events - present, n_events)
        if not isinstance(prep, PreparedNumeric):
            return _Raw(col, present, missing, None, scores, "baseline has no values")
        if present < settings.min_events:
            return _Raw(col, present, missing, None, scores, _too_few(present, settings))
        # Boolean indexing above made a copy this function owns: sort it in place
        # rather than allocate (and page in) a second window-sized array per column.
        values.sort()
        window = NumericWindow(values)
        for t in tests:
            assert t.numeric is not None  # settings only admit tests of the column's kind
            scores[t.name] = t.numeric(prep, window)
        return _Raw(col, present, missing, None, scores, deciding=tuple(deciding))

    codes = data.categorical.get(col.name)
    if not isinstance(prep, PreparedCategorical):
        present = int((codes >= 0).sum()) if codes is not None else 0
        return _Raw(
            col,
            present,
            _ratio(n_events - present, n_events),
            None,
            scores,
            "baseline has no values",
        )
    if codes is None:
        codes = np.full(0, -1, dtype=np.int32)
    counts, unseen = tally_codes(codes, len(prep.categories))
    present = int(counts.sum()) + unseen
    missing = _ratio(n_events - present, n_events)
    unseen_ratio = _ratio(unseen, present) if present else None
    if present < settings.min_events:
        return _Raw(col, present, missing, unseen_ratio, scores, _too_few(present, settings))
    tally = CategoryCounts(counts, unseen)
    for t in tests:
        assert t.categorical is not None
        scores[t.name] = t.categorical(prep, tally)
    return _Raw(col, present, missing, unseen_ratio, scores, "", (counts, unseen), tuple(deciding))


def _too_few(present: int, settings: DetectionSettings) -> str:
    return f"{present} present values < min_events {settings.min_events}"


def _ratio(a: int, b: int) -> float:
    return a / b if b > 0 else 0.0


def _candidates(raws: list[_Raw], settings: DetectionSettings) -> list[Candidate]:
    """The deciding tests of the evaluated columns, for the calibrated decision."""
    out: list[Candidate] = []
    del settings  # the deciding tests were looked up when the column was scored
    for r in raws:
        counts, unseen = r.counts if r.counts is not None else (None, 0)
        for test, sc in r.scores.items():
            if test in r.deciding and drift_test(test).calibration is not None:
                out.append(
                    Candidate(
                        r.column.name,
                        test,
                        sc.statistic,
                        sc.p_value,
                        sc.effect,
                        r.events,
                        counts,
                        unseen,
                    )
                )
    return out


def _decide(
    raw: _Raw,
    adjusted: Mapping[tuple[str, str], float],
    settings: DetectionSettings,
    verdicts: Mapping[tuple[str, str], Decision] | None = None,
) -> ColumnResult:
    col = raw.column
    deciding = raw.deciding
    tests: dict[str, TestResult] = {}
    worst = Status.OK
    for name, score in raw.scores.items():
        status: Status | None = None
        verdict = verdicts.get((col.name, name)) if verdicts is not None else None
        if verdict is not None:
            status = verdict.status
            worst = max(worst, status)
            alert = verdict.levels["alert"]
            tests[name] = TestResult(
                name,
                score.statistic,
                score.p_value,
                verdict.p_adjusted,
                score.effect,
                status,
                max(alert.threshold, alert.floor or 0.0),
                verdict.levels,
                "calibrated",
            )
            continue
        th = settings.threshold(col.name, name)
        p_adj = adjusted.get((col.name, name)) if score.p_value is not None else None
        levels: dict[str, Level] | None = None
        if name in deciding:
            status = decide(drift_test(name), th, score.effect, p_adj, raw.events, settings.alpha)
            worst = max(worst, status)
            levels = {"warning": Level(th.warning, None), "alert": Level(th.alert, None)}
        tests[name] = TestResult(
            name, score.statistic, score.p_value, p_adj, score.effect, status, th.alert, levels
        )
    if not raw.scores:
        worst = Status.INSUFFICIENT_DATA
    return ColumnResult(
        name=col.name,
        kind=col.reported_kind,
        status=worst,
        events=raw.events,
        missing_ratio=raw.missing_ratio,
        unseen_ratio=raw.unseen_ratio,
        tests=tests,
        note=raw.note,
    )
