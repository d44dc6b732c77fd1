"""A model's performance on its labelled validation set, stored in the baseline.

Besides the metrics of the whole validation set, it keeps their *sampling variability at
window sizes*: for each size n of a grid, ``replicates`` bootstrap resamples of n pairs
(with replacement, seeded) give the distribution of each metric's shortfall (how much
worse than the full-set value a window of n labels from the same model scores by
chance alone). A window is judged against the shortfall quantile at its label count
(:meth:`BaselinePerformance.tolerance`, interpolated in 1/sqrt(n)).

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
        """The shortfall of ``metric`` a window of ``labels`` pairs reaches by chance with
        probability 1 − ``level``: interpolated linearly in 1/sqrt(n) between grid sizes,
        scaled by sqrt(size/n) beyond the grid. NaN when unknown (metric undefined on the
        validation set, or ``level`` not stored: one of :data:`LEVELS`)."""
        per_level = self.spread.get(metric, {})
        if level not in per_level or labels < 1:
            return float("nan")
        q = np.asarray(per_level[level], dtype=np.float64)
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
                spread[m][lv].append(float(np.quantile(finite, lv)) if ok else float("nan"))
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
