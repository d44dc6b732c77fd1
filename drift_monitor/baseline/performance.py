"""A model's performance on its labelled validation set, stored in the baseline.

Besides the metrics of the whole validation set, it keeps their *sampling variability at
window sizes*: for each size n of a grid, ``replicates`` bootstrap resamples of n pairs
(with replacement, seeded) give the distribution of each metric's shortfall (how much
worse than the full-set value a window of n labels from the same model scores by
chance alone). The quantiles are the unbiased-coverage order statistics (position
level x (replicates + 1), ``np.quantile(method="weibull")``): with 200 replicates the
default linear rule sits at the 98.5 % point on average, not the 99 %.

A window is judged against :meth:`BaselinePerformance.chance_tolerance`: the window's
variability at its label count (:meth:`BaselinePerformance.tolerance`, interpolated in
1/sqrt(n)) combined with the baseline's own sampling error (the same quantile at the
validation set's size), which every window shares: a window of as many labels as the
validation set has twice the variance of the bootstrap's alone.

The label's own training distribution (``label_profile``, a baseline column built by
the same code as features) serves the label-drift tests.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from drift_monitor.baseline.model import ColumnBaseline
from drift_monitor.baseline.pairs import Pairs, TaskSpec
from drift_monitor.stats.performance import metric_names, shortfall

#: Window sizes (label counts) at which the variability is measured.
DEFAULT_SIZES = (50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000)
DEFAULT_REPLICATES = 200
#: Shortfall quantiles stored per metric and size (one-sided levels).
LEVELS = (0.95, 0.99)
#: Version of the ``performance.json`` member (baseline/store.py).
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True, eq=False)
class BaselinePerformance:
    """Validation-set performance. ``metrics``: metric -> value on all ``count`` pairs
    (NaN when undefined); ``sizes``: the window-size grid; ``spread[metric][level]``:
    the bootstrap shortfall quantile at each size (same order as ``sizes``; NaN where
    the metric was undefined in most resamples); ``label_profile``: the label's training
    distribution (None when not profiled)."""

    spec: TaskSpec
    count: int
    metrics: Mapping[str, float]
    sizes: tuple[int, ...]
    spread: Mapping[str, Mapping[float, tuple[float, ...]]]
    replicates: int
    seed: int
    label_profile: ColumnBaseline | None = None

    def tolerance(self, metric: str, labels: int, level: float = 0.99) -> float:
        """The shortfall of ``metric`` (metric units) that a window of ``labels`` pairs
        exceeds by chance with probability 1 − ``level``, against the *true* value: the
        window's own variability only (see :meth:`chance_tolerance`). Interpolated
        linearly in 1/sqrt(n) between grid sizes, scaled by sqrt(size/n) beyond the grid.
        ``level``: one of :data:`LEVELS`, or any level in [0.95, 1) (a per-metric share
        of a window's budget): extrapolated linearly in the normal quantile z(level)
        through the stored 0.95 and 0.99 quantiles (exact for a normal shortfall). NaN
        when unknown (metric undefined on the validation set, labels < 1, or a level
        outside that range)."""
        per_level = self.spread.get(metric, {})
        q = _quantiles(per_level, level)
        if q is None or labels < 1:
            return float("nan")
        x = 1.0 / np.sqrt(np.asarray(self.sizes, dtype=np.float64))
        ok = np.isfinite(q)
        if not ok.any():
            return float("nan")
        x, q = x[ok], q[ok]
        t = 1.0 / math.sqrt(labels)
        if t >= x[0]:  # smaller than the smallest size measured
            return float(q[0] * t / x[0])
        if t <= x[-1]:  # larger than the largest size measured
            return float(q[-1] * t / x[-1])
        return float(np.interp(t, x[::-1], q[::-1]))

    def chance_tolerance(self, metric: str, labels: int, level: float = 0.99) -> float:
        """The shortfall of ``metric`` against this baseline's value that a window of
        ``labels`` pairs from the same model exceeds with probability 1 − ``level``.

        The shortfall is (window − truth) − (baseline − truth): the window's error
        (:meth:`tolerance` at ``labels``) plus the baseline's own (:meth:`tolerance` at
        the validation set's ``count``), independent, so their quantiles add in
        quadrature: sqrt(t(labels)² + t(count)²) (exact for normal errors). At 300
        labels against 5 000 validation pairs that is 3 % above t(labels); at 5 000
        labels, 41 %. NaN when :meth:`tolerance` is."""
        window = self.tolerance(metric, labels, level)
        own = self.tolerance(metric, self.count, level)
        if not (math.isfinite(window) and math.isfinite(own)):
            return float("nan")
        return math.hypot(max(window, 0.0), max(own, 0.0))

    def to_json(self) -> dict[str, Any]:
        """The JSON member (without the label profile, which the store writes)."""
        return {
            "format_version": FORMAT_VERSION,
            "task": self.spec.task,
            "label": self.spec.label,
            "predictions": list(self.spec.predictions),
            "classes": list(self.spec.classes),
            "threshold": self.spec.threshold,
            "hard": self.spec.hard,
            "count": self.count,
            "metrics": {k: _num(v) for k, v in self.metrics.items()},
            "sizes": list(self.sizes),
            "replicates": self.replicates,
            "seed": self.seed,
            "spread": {
                m: {str(level): [_num(v) for v in vals] for level, vals in per.items()}
                for m, per in self.spread.items()
            },
        }

    @classmethod
    def from_json(
        cls, doc: Mapping[str, Any], label_profile: ColumnBaseline | None
    ) -> BaselinePerformance:
        """Inverse of :meth:`to_json`; ValueError for an unknown format version or task."""
        if doc.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"performance format_version {doc.get('format_version')!r}")
        task = doc["task"]
        if task not in ("binary", "multiclass", "regression"):
            raise ValueError(f"performance task {task!r}")
        spec = TaskSpec(
            task,
            str(doc["label"]),
            tuple(str(c) for c in doc["predictions"]),
            tuple(str(c) for c in doc["classes"]),
            float(doc["threshold"]),
            bool(doc["hard"]),
        )
        return cls(
            spec=spec,
            count=int(doc["count"]),
            metrics={str(k): _float(v) for k, v in doc["metrics"].items()},
            sizes=tuple(int(s) for s in doc["sizes"]),
            spread={
                str(m): {float(lv): tuple(_float(v) for v in vals) for lv, vals in per.items()}
                for m, per in doc["spread"].items()
            },
            replicates=int(doc["replicates"]),
            seed=int(doc["seed"]),
            label_profile=label_profile,
        )


_Z95, _Z99 = (float(stats.norm.ppf(lv)) for lv in LEVELS)


def _quantiles(
    per_level: Mapping[float, tuple[float, ...]], level: float
) -> npt.NDArray[np.float64] | None:
    """The shortfall quantiles at ``level`` per grid size (see :meth:`tolerance`)."""
    if level in per_level:
        return np.asarray(per_level[level], dtype=np.float64)
    if not (LEVELS[0] <= level < 1.0) or any(lv not in per_level for lv in LEVELS):
        return None
    q95 = np.asarray(per_level[LEVELS[0]], dtype=np.float64)
    q99 = np.asarray(per_level[LEVELS[1]], dtype=np.float64)
    z = float(stats.norm.ppf(level))
    return q99 + (q99 - q95) * (z - _Z99) / (_Z99 - _Z95)


def _num(v: float) -> float | None:
    return None if not math.isfinite(v) else float(v)


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def measure_performance(
    pairs: Pairs,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    label_profile: ColumnBaseline | None = None,
) -> BaselinePerformance:
    """Metrics of ``pairs`` and their bootstrap variability at each of ``sizes``.

    Resamples are drawn with replacement from the validation pairs, so sizes above the
    validation set's are allowed (their variability is that of the validation set's
    empirical distribution). Deterministic for a given ``seed``. Raises ValueError for
    no pairs, a non-positive size or fewer than 20 replicates.
    """
    n = len(pairs)
    if n == 0:
        raise ValueError("no labelled pairs to measure")
    if replicates < 20:
        raise ValueError(f"replicates must be >= 20, got {replicates}")
    if any(s < 1 for s in sizes):
        raise ValueError("window sizes must be >= 1")
    full = pairs.metrics()
    names = metric_names(pairs.spec.task)
    grid = tuple(sorted(set(int(s) for s in sizes)))
    spread: dict[str, dict[float, list[float]]] = {m: {lv: [] for lv in LEVELS} for m in names}
    for size in grid:
        # One stream per size: adding a size to the grid leaves the others unchanged.
        rng = np.random.default_rng([seed, zlib.crc32(f"size:{size}".encode())])
        draws = np.empty((replicates, len(names)))
        for r in range(replicates):
            perf = pairs.take(rng.integers(0, n, size)).metrics()
            draws[r] = [shortfall(m, perf.get(m), full.get(m)) for m in names]
        for j, m in enumerate(names):
            col = draws[:, j]
            finite = col[np.isfinite(col)]
            # Undefined in most resamples (e.g. AUC of tiny imbalanced windows): unknown.
            ok = finite.shape[0] >= replicates // 2
            for lv in LEVELS:
                q = float(np.quantile(finite, lv, method="weibull")) if ok else math.nan
                spread[m][lv].append(q)
    return BaselinePerformance(
        spec=pairs.spec,
        count=full.count,
        metrics=dict(full.values),
        sizes=grid,
        spread={m: {lv: tuple(v) for lv, v in per.items()} for m, per in spread.items()},
        replicates=replicates,
        seed=seed,
        label_profile=label_profile,
    )
