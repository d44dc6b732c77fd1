"""Building a baseline from training data (a pandas DataFrame).

Column kinds are inferred by one documented rule, overridable per column:
bool, string, object and category dtypes are ``categorical``; every other numeric
dtype (int, float) is ``numeric``. Pass ``categorical=[...]`` for integer-coded
categories (e.g. a region id) and ``numeric=[...]`` to force a column numeric.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from drift_monitor.baseline.calibrate import calibrate, with_calibration
from drift_monitor.baseline.model import (
    Baseline,
    CategoricalProfile,
    ColumnBaseline,
    Kind,
    NumericProfile,
    Role,
)
from drift_monitor.baseline.pairs import infer_task, pairs_from_frame
from drift_monitor.baseline.performance import BaselinePerformance, measure_performance
from drift_monitor.baseline.segments import DEFAULT_TOP_K, build_segments
from drift_monitor.errors import BaselineError, InputError
from drift_monitor.stats.categorical import OTHER, category_key
from drift_monitor.stats.numeric import bin_fractions

DEFAULT_SAMPLE_SIZE = 100_000
DEFAULT_BINS = 10
DEFAULT_MAX_CATEGORIES = 1_000
DEFAULT_SEED = 0
QUANTILE_PROBS = np.linspace(0.0, 1.0, 101)


def infer_kind(series: pd.Series) -> Kind:
    """``categorical`` for bool, string, object and category dtypes; else ``numeric``."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "numeric"
    return "categorical"


def build_baseline(
    df: pd.DataFrame,
    model: str,
    *,
    version: str | None = None,
    prediction: Sequence[str] = (),
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    exclude: Sequence[str] = (),
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    bins: int = DEFAULT_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    seed: int = DEFAULT_SEED,
    source: str = "pandas.DataFrame",
    created_at: dt.datetime | None = None,
    label: str | None = None,
    segment_by: str | None = None,
    segment_top_k: int = DEFAULT_TOP_K,
) -> Baseline:
    """Profile every column of ``df`` (minus ``exclude``) into a :class:`Baseline`.

    ``prediction`` names the model-output columns (monitored like features, kind
    ``prediction``). ``sample_size`` caps the seeded reference sample per numeric column
    (two-sample tests); ``bins`` is the number of PSI quantile bins (fewer when
    quantiles coincide); categorical columns keep their ``max_categories`` most frequent
    values and pool the rest into ``__other__``. ``version`` defaults to the UTC build
    time (``YYYYMMDDTHHMMSSZ``). Raises :class:`BaselineError` naming the column for an
    unknown column name, an empty frame or invalid parameters.

    ``label`` names the ground-truth column of a labelled validation set: it is not
    profiled as a feature; the model's performance (``prediction`` against ``label``),
    its bootstrap variability at window sizes and the label's distribution are stored
    as ``Baseline.performance`` (see :mod:`drift_monitor.baseline.performance`).

    ``segment_by`` names a column whose ``segment_top_k`` most frequent values each get
    a baseline of their own (the rest pooled into ``__other__``), stored as
    ``Baseline.segments`` (see :mod:`drift_monitor.baseline.segments`); the column stays
    a monitored column of the model unless it is in ``exclude``.
    """
    if not model:
        raise BaselineError("baseline needs a model name: pass --model NAME")
    if len(df) == 0:
        raise BaselineError(f"training data from {source} has no rows: nothing to profile")
    for opt, names in (
        ("--prediction", prediction),
        ("--categorical", categorical),
        ("--numeric", numeric),
        ("--exclude", exclude),
    ):
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise BaselineError(
                f"{opt}: column {missing[0]!r} is not in {source} "
                f"(columns: {', '.join(map(str, df.columns[:20]))})"
            )
    both = set(categorical) & set(numeric)
    if both:
        raise BaselineError(f"column {sorted(both)[0]!r} is both --categorical and --numeric")
    if sample_size < 1:
        raise BaselineError(f"sample_size must be >= 1, got {sample_size}")
    if bins < 2:
        raise BaselineError(f"bins must be >= 2, got {bins}")
    if max_categories < 1:
        raise BaselineError(f"max_categories must be >= 1, got {max_categories}")

    now = (created_at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    columns: list[ColumnBaseline] = []
    for name in df.columns:
        if name in exclude or (label is not None and name == label):
            continue
        series = df[name]
        role: Role = "prediction" if name in prediction else "feature"
        kind: Kind
        if name in categorical:
            kind = "categorical"
        elif name in numeric:
            kind = "numeric"
        else:
            kind = infer_kind(series)
        if kind == "numeric":
            # One random stream per column, keyed by its name: a column's reference
            # sample does not change when other columns are added, dropped or reordered.
            rng = np.random.default_rng([seed, zlib.crc32(str(name).encode())])
            columns.append(_numeric_column(str(name), role, series, sample_size, bins, rng))
        else:
            columns.append(_categorical_column(str(name), role, series, max_categories))
    if not columns:
        raise BaselineError(f"every column of {source} is excluded: nothing to profile")
    build: dict[str, Any] = {
        "sample_size": sample_size,
        "bins": bins,
        "max_categories": max_categories,
        "seed": seed,
        "rows": len(df),
        "drift_monitor_version": _version(),
    }
    performance = None
    if label is not None:
        build["label"] = label
        performance = _performance(df, label, prediction, seed, sample_size, bins, source)
    baseline = Baseline(
        model=model,
        version=version or now.strftime("%Y%m%dT%H%M%SZ"),
        created_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        source=source,
        build=build,
        columns=tuple(columns),
        performance=performance,
    )
    # Calibrated thresholds: the null tables of every column, stored with the baseline.
    baseline = with_calibration(baseline, calibrate(baseline))
    if segment_by is None:
        return baseline
    params = {**build, "version": baseline.version, "source": source, "created_at": now}
    segments = build_segments(df, baseline, segment_by, segment_top_k, params)
    build = {**baseline.build, "segment_by": segment_by, "segment_top_k": segment_top_k}
    return dataclasses.replace(baseline, build=build, segments=segments, _prepared={})


def _version() -> str:
    from drift_monitor import __version__  # noqa: PLC0415 - avoid an import cycle

    return __version__


def _numeric_column(
    name: str,
    role: Role,
    series: pd.Series,
    sample_size: int,
    bins: int,
    rng: np.random.Generator,
) -> ColumnBaseline:
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (ValueError, TypeError) as exc:
        raise BaselineError(
            f"column {name!r} is marked numeric but holds non-numeric values ({exc}); "
            f"pass --categorical {name}"
        ) from None
    rows = int(values.shape[0])
    finite = values[np.isfinite(values)]
    missing_ratio = 1.0 - finite.shape[0] / rows if rows else 0.0
    if finite.shape[0] == 0:
        return ColumnBaseline(name, "numeric", role, rows, missing_ratio, None)
    probs = np.arange(1, bins) / bins
    edges = np.unique(np.quantile(finite, probs))
    if finite.shape[0] > sample_size:
        idx = rng.choice(finite.shape[0], size=sample_size, replace=False)
        sample = np.sort(finite[idx])
    else:
        sample = np.sort(finite)
    profile = NumericProfile(
        mean=float(finite.mean()),
        std=float(finite.std()),
        minimum=float(finite.min()),
        maximum=float(finite.max()),
        quantile_probs=QUANTILE_PROBS.copy(),
        quantile_values=np.quantile(finite, QUANTILE_PROBS),
        inner_edges=edges,
        expected_fractions=bin_fractions(finite, edges),
        reference_sample=sample,
    )
    return ColumnBaseline(name, "numeric", role, rows, missing_ratio, profile)


def _categorical_column(
    name: str, role: Role, series: pd.Series, max_categories: int
) -> ColumnBaseline:
    rows = len(series)
    # value_counts on the normalised keys, so 3, 3.0 and "3" are one category, as in events.
    keys = pd.Series([category_key(v) for v in series.tolist()], dtype=object)
    counts = keys.dropna().value_counts(sort=True)
    present = int(counts.sum())
    missing_ratio = 1.0 - present / rows if rows else 0.0
    if present == 0:
        return ColumnBaseline(name, "categorical", role, rows, missing_ratio, None)
    distinct = len(counts)
    # Most frequent first; ties broken by name so builds are reproducible.
    items = sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    pooled = distinct > max_categories
    if pooled:
        head = items[: max_categories - 1] if max_categories > 1 else []
        tail = sum(int(c) for _, c in items[len(head) :])
        items = [*head, (OTHER, tail)]
    profile = CategoricalProfile(
        categories=tuple(str(k) for k, _ in items),
        counts=tuple(int(c) for _, c in items),
        pooled_other=pooled,
        distinct=distinct,
    )
    return ColumnBaseline(name, "categorical", role, rows, missing_ratio, profile)


# --- baseline performance (model quality, ``--label``) -------------------------------
def _performance(
    df: pd.DataFrame,
    label: str,
    prediction: Sequence[str],
    seed: int,
    sample_size: int,
    bins: int,
    source: str,
) -> BaselinePerformance:
    if label in prediction:
        raise BaselineError(f"--label {label}: the label column cannot also be a --prediction")
    try:
        spec = infer_task(df, label, prediction, source)
        pairs = pairs_from_frame(df, spec, source)
    except InputError as exc:
        raise BaselineError(f"--label {label}: {exc}") from None
    if len(pairs) == 0:
        raise BaselineError(f"--label {label}: {source} has no row with a label and a prediction")
    if spec.task == "regression":
        rng = np.random.default_rng([seed, zlib.crc32(f"label:{label}".encode())])
        profile = _numeric_column(label, "feature", df[label], sample_size, bins, rng)
    else:
        # Class names as categories (0/1 for binary, whatever the label's dtype), so label
        # drift is a chi-square over the classes that events encode the same way.
        names = np.asarray(spec.classes, dtype=object)[pairs.y.astype(np.int64)]
        series = pd.Series(names, dtype=object)
        profile = _categorical_column(label, "feature", series, DEFAULT_MAX_CATEGORIES)
    return measure_performance(pairs, seed=seed, label_profile=profile)
