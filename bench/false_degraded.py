"""False ``degraded`` verdicts and incidents when the model did not change (issue 15).

Every production window is drawn from the SAME generating process as the labelled
validation set the baseline was built from, so every ``degraded`` verdict is a false
one. Per task (``binary``: a calibrated logistic score at prevalence 0.5 and 0.05;
``multiclass``: 4 classes, calibrated softmax; ``regression``: Gaussian errors, and a
log-normal label with heavy-tailed errors) and label count n per window:

- ``baselines`` independent validation sets of ``validation`` pairs (each its own
  baseline, bootstrap seeded by its index), each followed by ``windows`` independent
  windows of n labels, in order;
- ``degraded``: the share of windows judged degraded with the default
  :class:`DegradationSettings` (min_labels 200, the minimum effects, level 0.99);
- ``chance``: the same with the minimum effects set to 0 (the variability condition
  alone, the part that carries the per-window promise of 1 - level);
- ``incidents``: ``performance.degraded`` incidents opened per 1 000 windows, through
  :class:`EpisodeTracker` (kind ``performance``, default episode settings: enter after
  2 consecutive degraded windows, resolve after 3 ok).

The baselines are independent, so the spread of a baseline's own error (its validation
set and bootstrap) is part of the rate; but windows judged against one baseline share
that error, so they are not independent trials: each rate comes with a 95 % interval
from the spread of the per-baseline rates (mean ± 1.96 sd / sqrt(baselines)), wider
than a binomial one over all windows.

    .venv/bin/python -m bench.false_degraded [--windows 100] [--baselines 20]
        [--validation 5000] [--sizes 100,200,300,500,1000,5000] [--tasks binary,...]
        [--metrics mae,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from drift_monitor.baseline.pairs import Pairs, TaskSpec
from drift_monitor.baseline.performance import (
    DEFAULT_SIZES,
    BaselinePerformance,
    measure_performance,
)
from drift_monitor.evaluation.episodes import EpisodeTracker
from drift_monitor.evaluation.results import Status
from drift_monitor.labels.decision import (
    DegradationSettings,
    PerformanceStatus,
    decide_performance,
)

Generator = Callable[[int, np.random.Generator], Pairs]

_BINARY = TaskSpec("binary", "label", ("score",), ("0", "1"))
_MULTI = TaskSpec("multiclass", "label", ("p_a", "p_b", "p_c", "p_d"), ("a", "b", "c", "d"))
_REGRESSION = TaskSpec("regression", "label", ("pred",))


def binary_pairs(prior: float, shift: float = 0.0) -> Generator:
    """Calibrated binary scores: x ~ N(0, 1), P(y=1 | x) = sigmoid(b + 2x) (b sets the
    prevalence to ~``prior``), score = that probability. ``shift`` > 0 blurs the score
    the model outputs (noise of sd ``shift`` on its logit): a degraded model."""
    b = float(np.log(prior / (1 - prior))) * 1.6

    def draw(n: int, rng: np.random.Generator) -> Pairs:
        x = rng.normal(size=n)
        logit = b + 2.0 * x
        y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
        seen = logit + shift * rng.normal(size=n)
        return Pairs(_BINARY, y, 1 / (1 + np.exp(-seen)))

    return draw


def multiclass_pairs(n: int, rng: np.random.Generator) -> Pairs:
    """4 classes, calibrated softmax of 2 features: y ~ Categorical(p), proba = p."""
    w = np.array([[1.5, 0.0, -1.5, 0.3], [0.0, 1.5, 0.2, -1.5]])
    logits = rng.normal(size=(n, 2)) @ w
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    u = rng.uniform(size=(n, 1))
    y = np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), 3).astype(np.float64)
    return Pairs(_MULTI, y, p)


def regression_pairs(n: int, rng: np.random.Generator) -> Pairs:
    """y = 50 + 10x + N(0, 5²), prediction = E[y | x]."""
    mean = 50 + 10 * rng.normal(size=n)
    return Pairs(_REGRESSION, mean + rng.normal(0, 5, n), mean)


def lognormal_pairs(n: int, rng: np.random.Generator) -> Pairs:
    """Skewed label, heavy-tailed errors: y = exp(3 + 0.5x + 0.8e), prediction =
    E[y | x] (squared errors have a long right tail, so RMSE is skewed)."""
    mu = 3 + 0.5 * rng.normal(size=n)
    y = np.exp(mu + 0.8 * rng.normal(size=n))
    return Pairs(_REGRESSION, y, np.exp(mu + 0.32))


TASKS: dict[str, Generator] = {
    "binary": binary_pairs(0.5),
    "binary_rare": binary_pairs(0.05),
    "multiclass": multiclass_pairs,
    "regression": regression_pairs,
    "regression_lognormal": lognormal_pairs,
}
NO_MINIMUM = DegradationSettings(minimums={}, relative_minimum=0.0)
_STATUS = {
    PerformanceStatus.DEGRADED: Status.ALERT,
    PerformanceStatus.OK: Status.OK,
    PerformanceStatus.INSUFFICIENT_LABELS: Status.INSUFFICIENT_DATA,
}


@dataclass(frozen=True, slots=True)
class Rates:
    """Counts over ``windows`` windows of one (task, n): ``degraded`` (default settings),
    ``chance`` (no minimum effect), ``insufficient`` and ``incidents`` opened; ``per``:
    the (degraded, chance) counts of each baseline's run of windows."""

    windows: int
    degraded: int
    chance: int
    insufficient: int
    incidents: int
    per: tuple[tuple[int, int], ...] = ()

    def interval(self, which: int) -> tuple[float, float]:
        """95 % interval of the degraded (``which`` 0) or chance (1) rate from the spread
        of the per-baseline rates (windows of one baseline share its error)."""
        r = np.array([p[which] for p in self.per], dtype=np.float64) * len(self.per)
        r /= self.windows
        half = 1.96 * float(r.std(ddof=1)) / np.sqrt(r.shape[0]) if r.shape[0] > 1 else 1.0
        return max(float(r.mean()) - half, 0.0), float(r.mean()) + half


def baseline_of(
    draw: Generator, validation: int, index: int, grid: Sequence[int] = DEFAULT_SIZES
) -> BaselinePerformance:
    """The baseline of validation set ``index`` (its own data seed and bootstrap seed),
    its variability measured at the window sizes ``grid``."""
    pairs = draw(validation, np.random.default_rng([9_001, index]))
    return measure_performance(pairs, sizes=grid, seed=index)


def simulate(
    draw: Generator,
    sizes: Sequence[int],
    *,
    baselines: int,
    windows: int,
    validation: int,
    settings: DegradationSettings | None = None,
    window_draw: Generator | None = None,
    seed: int = 0,
    grid: Sequence[int] = DEFAULT_SIZES,
) -> dict[int, Rates]:
    """Per label count n, the verdicts of ``baselines`` x ``windows`` windows drawn by
    ``window_draw`` (default: ``draw``, the validation set's process: no degradation)
    against baselines of ``validation`` pairs drawn by ``draw`` (bootstrap at ``grid``;
    the build's default grid unless a test trims it for speed)."""
    settings = settings or DegradationSettings()
    chance_settings = DegradationSettings(
        min_labels=settings.min_labels,
        metrics=settings.metrics,
        minimums={},
        relative_minimum=0.0,
        level=settings.level,
    )
    window_draw = window_draw or draw
    counts = {n: [0, 0, 0, 0] for n in sizes}
    per: dict[int, list[tuple[int, int]]] = {n: [] for n in sizes}
    for b in range(baselines):
        perf = baseline_of(draw, validation, b, grid)
        for n in sizes:
            rng = np.random.default_rng([seed, b, n])
            tracker = EpisodeTracker({}, kind="performance")
            c = counts[n]
            before = (c[0], c[1])
            for i in range(windows):
                window = window_draw(n, rng).metrics()
                verdict = decide_performance(window, perf, settings)
                chance = decide_performance(window, perf, chance_settings)
                c[0] += verdict.status == PerformanceStatus.DEGRADED
                c[1] += chance.status == PerformanceStatus.DEGRADED
                c[2] += verdict.status == PerformanceStatus.INSUFFICIENT_LABELS
                step = tracker.propose_status("m", float(i + 1), _STATUS[verdict.status])
                if step is not None:
                    tracker.commit(step)
                    t = step.transition
                    c[3] += t is not None and t.type == "performance.degraded"
            per[n].append((c[0] - before[0], c[1] - before[1]))
    return {
        n: Rates(baselines * windows, c[0], c[1], c[2], c[3], tuple(per[n]))
        for n, c in counts.items()
    }


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of k successes in n trials."""
    a = (1 - confidence) / 2
    lo = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def _pct(r: Rates, which: int) -> str:
    k = (r.degraded, r.chance)[which]
    lo, hi = r.interval(which)
    if k == 0:  # no spread to measure: the binomial upper bound over all windows
        lo, hi = clopper_pearson(0, r.windows)
    return f"{100 * k / r.windows:5.2f}% [{100 * lo:.2f}, {100 * hi:.2f}]"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the table (markdown) of every task and label count."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--windows", type=int, default=100, help="windows per baseline and n")
    ap.add_argument("--baselines", type=int, default=20, help="independent validation sets")
    ap.add_argument("--validation", type=int, default=5_000, help="validation pairs")
    ap.add_argument("--sizes", default="100,200,300,500,1000,5000")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--metrics", default=None, help="deciding metrics (default: the task's)")
    args = ap.parse_args(argv)
    metrics = tuple(args.metrics.split(",")) if args.metrics else None
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"validation {args.validation} pairs, {args.baselines} baselines x {args.windows} "
        "windows per label count; 95 % intervals from the per-baseline spread\n"
    )
    print(
        "| task | labels/window | degraded (defaults) | chance only (no minimum) "
        "| incidents / 1000 windows |"
    )
    print("|---|---|---|---|---|")
    for name in args.tasks.split(","):
        t0 = time.perf_counter()
        rates = simulate(
            TASKS[name],
            sizes,
            baselines=args.baselines,
            windows=args.windows,
            validation=args.validation,
            settings=DegradationSettings(metrics=metrics),
        )
        for n, r in rates.items():
            if r.insufficient == r.windows:
                print(f"| {name} | {n} | insufficient_labels | - | - |")
                continue
            print(
                f"| {name} | {n} | {_pct(r, 0)} | {_pct(r, 1)} "
                f"| {1000 * r.incidents / r.windows:.1f} |"
            )
        print(f"<!-- {name}: {time.perf_counter() - t0:.0f} s -->", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
