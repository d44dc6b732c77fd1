"""Per-segment evaluation: one window split by the segment column, each part against its
segment's baseline.

Segments are not separate windows: the model's window carries the segment column's code
per row (the layout adds it when the baseline has segments), and when the window closes
:func:`evaluate_segments` splits the :class:`WindowData` by that code and evaluates each
part against that segment's baseline (see :mod:`drift_monitor.baseline.segments`), with
the same statistics, corrections and calibrated thresholds as the model's own window.
Windowing, offsets and commits are untouched.

Codes: a segment column that is a categorical column of the model carries the model's
category codes (mapped here to segments); any other segment column carries segment codes
directly (``0..K-1`` the kept values, ``K`` any other value, ``-1`` missing). Missing and
unknown values are evaluated in ``__other__``: the number of segments is the baseline's,
whatever values events carry.

False alarms: every segment is a test of its own, so the per-window false-alarm budget
(``calibration.alert_rate``/``warning_rate``; ``alpha`` in fixed mode) is split evenly
across the segments that have a baseline: on clean traffic the chance that *any* segment
of a window alerts stays within the model's budget, and a small segment (fewer than
``min_events`` rows) is ``insufficient_data``, never drift.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from drift_monitor.baseline.model import Baseline
from drift_monitor.baseline.segments import SegmentBaselines
from drift_monitor.errors import ConfigError
from drift_monitor.evaluation.results import Status, WindowResult
from drift_monitor.evaluation.settings import DetectionSettings
from drift_monitor.stats.categorical import OTHER, encode_categories
from drift_monitor.stats.prepared import PreparedCategorical
from drift_monitor.windows.data import WindowData

IntArray = npt.NDArray[np.int32]
Evaluate = Callable[[Baseline, WindowData, DetectionSettings], WindowResult]


def check_segment_by(baseline: Baseline, settings: DetectionSettings) -> SegmentBaselines:
    """The baseline's segments for ``settings.segment_by``; ConfigError naming
    ``detection.segment_by`` and the fix when the baseline has none for that column."""
    segs = baseline.segments
    if segs is None or segs.column != settings.segment_by:
        has = f"segments by {segs.column!r}" if segs is not None else "no segments"
        raise ConfigError(
            f"detection.segment_by: {settings.segment_by!r} but baseline {baseline.model!r} "
            f"has {has}; rebuild it with `drift-monitor baseline build --segment-by "
            f"{settings.segment_by}` or change detection.segment_by"
        )
    return segs


def segment_codes(baseline: Baseline, segs: SegmentBaselines, data: WindowData) -> IntArray:
    """The segment code (``0..len(segs.segments)-1``, ``__other__`` last) of every row
    of ``data``. A window without the segment column puts every row in ``__other__``."""
    other = segs.other_code
    raw = data.categorical.get(segs.column)
    if raw is None:
        return np.full(data.events, other, dtype=np.int32)
    prep = baseline.prepared().get(segs.column)
    if _is_categorical_column(baseline, segs.column) and isinstance(prep, PreparedCategorical):
        # Model category code -> segment code; the model's unseen code k -> __other__.
        index = segs.index()
        table = np.full(len(prep.categories) + 1, other, dtype=np.int32)
        for i, name in enumerate(prep.categories):
            table[i] = index.get(name, other)
        raw = np.where(raw >= 0, table[np.clip(raw, 0, len(prep.categories))], other)
    codes = np.where((raw >= 0) & (raw <= other), raw, other)
    return codes.astype(np.int32, copy=False)


def frame_segment_codes(segs: SegmentBaselines, values: Iterable[object]) -> IntArray:
    """Segment codes of raw values (``check``'s input column): ``0..K-1`` the kept
    values, ``K`` (``__other__``) any other value, ``-1`` missing."""
    names = list(segs.names[:-1])
    prep = PreparedCategorical.build(names, np.full(len(names), 1.0 / max(len(names), 1)), False)
    return encode_categories(values, prep)


def carries_segment_codes(baseline: Baseline) -> bool:
    """True when windows carry the segment column as segment codes of its own (the
    column is not a categorical column of the model, whose codes are mapped instead)."""
    segs = baseline.segments
    return segs is not None and not _is_categorical_column(baseline, segs.column)


def evaluate_segments(
    baseline: Baseline, data: WindowData, settings: DetectionSettings, evaluate: Evaluate
) -> tuple[WindowResult, ...]:
    """One result per segment of ``baseline`` (in segment order, ``__other__`` last):
    the rows of ``data`` in that segment against the segment's baseline, with
    ``settings`` (the false-alarm budget split across segments, see the module
    docstring). A segment without training rows is ``insufficient_data``.
    """
    segs = check_segment_by(baseline, settings)
    codes = segment_codes(baseline, segs, data)
    judged = sum(s.baseline is not None for s in segs.segments)
    sub_settings = _split_budget(settings, max(judged, 1))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(segs.segments) + 1), side="left")
    numeric = {name: arr[order] for name, arr in data.numeric.items()}
    categorical = {name: arr[order] for name, arr in data.categorical.items()}
    out: list[WindowResult] = []
    for i, seg in enumerate(segs.segments):
        lo, hi = int(bounds[i]), int(bounds[i + 1])
        if seg.baseline is None:
            out.append(
                WindowResult(
                    baseline.model,
                    baseline.version,
                    hi - lo,
                    data.start,
                    data.end,
                    Status.INSUFFICIENT_DATA,
                    0.0,
                    (),
                    segment=seg.name,
                )
            )
            continue
        part = WindowData(
            events=hi - lo,
            numeric={name: arr[lo:hi] for name, arr in numeric.items()},
            categorical=_remap(baseline, seg.baseline, categorical, lo, hi),
            start=data.start,
            end=data.end,
        )
        r = evaluate(seg.baseline, part, sub_settings)
        out.append(dataclasses.replace(r, segment=seg.name, baseline_version=baseline.version))
    return tuple(out)


def _split_budget(settings: DetectionSettings, segments: int) -> DetectionSettings:
    """``settings`` without segments and with the false-alarm budget divided by
    ``segments`` (calibrated rates, and ``alpha`` for fixed-mode p-value tests)."""
    cal = settings.calibration
    return settings.model_copy(
        update={
            "segment_by": None,
            "alpha": settings.alpha / segments,
            "calibration": cal.model_copy(
                update={
                    "alert_rate": cal.alert_rate / segments,
                    "warning_rate": cal.warning_rate / segments,
                }
            ),
        }
    )


def _remap(
    model: Baseline,
    segment: Baseline,
    categorical: dict[str, IntArray],
    lo: int,
    hi: int,
) -> dict[str, IntArray]:
    """The categorical codes of rows ``lo:hi`` in the segment baseline's categories (the
    window holds the model's): a category the segment never saw in training is unseen
    there (or its ``__other__`` when the segment pooled its tail); missing stays -1."""
    model_prep = model.prepared()
    seg_prep = segment.prepared()
    out: dict[str, IntArray] = {}
    for col in segment.columns:
        codes = categorical.get(col.name)
        if col.kind != "categorical" or codes is None:
            continue
        part = codes[lo:hi]
        mp, sp = model_prep.get(col.name), seg_prep.get(col.name)
        if not isinstance(mp, PreparedCategorical) or not isinstance(sp, PreparedCategorical):
            out[col.name] = part  # presence only (no categories in training)
            continue
        k = len(sp.categories)
        fallback = sp.index.get(OTHER, k) if sp.pooled_other else k
        table = np.full(len(mp.categories) + 1, fallback, dtype=np.int32)
        for i, name in enumerate(mp.categories):
            table[i] = sp.index.get(name, fallback)
        out[col.name] = np.where(part >= 0, table[np.clip(part, 0, len(mp.categories))], -1).astype(
            np.int32
        )
    return out


def _is_categorical_column(baseline: Baseline, name: str) -> bool:
    return any(c.name == name and c.kind == "categorical" for c in baseline.columns)
