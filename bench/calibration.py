"""Calibrated vs fixed thresholds: false alarms on stationary streams, power on shifts.

Two data sets, each split into a baseline and independent windows of n events:

- ``synthetic``: the demo's credit model (:mod:`drift_monitor.demo.dataset`), baseline
  ``training_frame(50 000, seed=7)`` as the demo builds it; every window is an
  independent ``production_frame(n, seed)`` (the training distribution).
- ``diamonds``: the 53 940-row ``diamonds`` table that plotnine ships inside its wheel
  (``plotnine/data/diamonds.csv``; the wheel is fetched once with
  ``pip download plotnine --no-deps`` into ``~/.cache/drift-monitor-bench`` and read as a
  zip: nothing is installed, nothing committed). Rows are shuffled (seeded); the first
  half is the baseline, windows are random subsets (without replacement) of the other
  half, which makes each window a draw from the same population. Sizes above the
  hold-out half (26 970 rows) are reported as n/a.

False alarms: the share of stationary windows whose model status is ``alert`` /
``warning`` or worse, calibrated (the default) and ``thresholds.mode: fixed``, on the very
same windows. Power: one numeric column (``credit_score`` / ``price``) shifted by
delta standard deviations, delta found by bisection so that the population PSI of the
shifted column is 0.1, 0.2 or 0.3; the share of windows whose model status is ``alert``
(and ``warning`` or worse). Targets (issue 13): calibrated <= 1 % alert and <= 5 % warning
windows at every n >= min_events; a PSI 0.2 shift alerting in >= 95 % of windows of
>= 500 events; calibrated power >= fixed at n >= 1 000. Rates come with a 95 %
Clopper-Pearson interval: with 300 windows, 1 % is 3 windows.

With ``--build`` (default in ``--size full``): the 1 000 000-row benchmark baseline of
``bench.evaluation`` (shape b) is built and the calibration share of its build time
reported (target: build time at most 2x the uncalibrated one).

    .venv/bin/python -m bench.calibration [--size small|full] [--no-build]
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from bench.data import SCORE, Schema, training_frame
from bench.report import header, parser, ratio, result
from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.calibrate import calibrate
from drift_monitor.baseline.model import Baseline, NumericProfile
from drift_monitor.demo import dataset as demo
from drift_monitor.evaluation import DetectionSettings, Status, evaluate_window, window_from_frame
from drift_monitor.stats.numeric import bin_fractions, psi

SIZES = (100, 300, 500, 1_000, 10_000, 100_000)
PSI_TARGETS = (0.1, 0.2, 0.3)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "drift-monitor-bench"


@dataclass(frozen=True)
class Plan:
    null_windows: int
    null_windows_large: int  # at n >= 100 000
    power_windows: int
    sizes: tuple[int, ...]


PLANS = {
    "full": Plan(300, 150, 60, SIZES),
    "small": Plan(30, 10, 10, (100, 1_000)),
}


@dataclass
class DataSet:
    name: str
    baseline: Baseline
    window: Callable[[int, int], pd.DataFrame]  # (n, seed) -> stationary window
    column: str  # the column shifted for the power runs
    max_n: int


def _synthetic() -> DataSet:
    train = demo.training_frame(50_000, seed=7)
    baseline = build_baseline(train, "credit", prediction=[demo.SCORE], version="bench")
    return DataSet(
        "synthetic credit model (demo)",
        baseline,
        lambda n, seed: demo.production_frame(n, seed=10_000 + seed),
        "credit_score",
        sys.maxsize,
    )


def _plotnine_wheel() -> Path:
    found = sorted(glob.glob(str(CACHE / "plotnine-*.whl")))
    if found:
        return Path(found[-1])
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"fetching plotnine's wheel into {CACHE} (pip download plotnine --no-deps) ...")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "plotnine", "--no-deps", "-q", "-d", str(CACHE)],
        check=True,
    )
    return Path(sorted(glob.glob(str(CACHE / "plotnine-*.whl")))[-1])


def _diamonds() -> DataSet:
    wheel = _plotnine_wheel()
    with zipfile.ZipFile(wheel) as zf:
        df = pd.read_csv(io.BytesIO(zf.read("plotnine/data/diamonds.csv")))
    df = df.sample(frac=1.0, random_state=2026).reset_index(drop=True)
    half = len(df) // 2
    base, hold = df.iloc[:half], df.iloc[half:].reset_index(drop=True)
    baseline = build_baseline(base, "diamonds", version="bench", source=wheel.name)

    def window(n: int, seed: int) -> pd.DataFrame:
        idx = np.random.default_rng(seed).choice(len(hold), size=n, replace=False)
        return hold.iloc[idx]

    return DataSet(
        f"diamonds ({wheel.name}, {len(df):,} rows)", baseline, window, "price", len(hold)
    )


def _shift_for(ds: DataSet, target: float) -> float:
    """Shift (in baseline standard deviations) giving a population PSI of ``target``."""
    profile = ds.baseline.column(ds.column).profile
    assert isinstance(profile, NumericProfile)
    big = ds.window(min(ds.max_n, 200_000), 999_999)[ds.column].to_numpy(dtype=np.float64)
    big = big[np.isfinite(big)]

    def psi_at(delta: float) -> float:
        a = bin_fractions(big + delta * profile.std, profile.inner_edges)
        return psi(a, profile.expected_fractions)

    lo, hi = 0.0, 3.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if psi_at(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def _ci(k: int, n: int) -> str:
    lo = sps.beta.ppf(0.025, k, n - k + 1) if k > 0 else 0.0
    hi = sps.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
    return f"{k / n:6.1%} [{lo:.1%}, {hi:.1%}]"


def _statuses(
    ds: DataSet, df: pd.DataFrame, modes: dict[str, DetectionSettings]
) -> dict[str, Status]:
    data = window_from_frame(ds.baseline, df)
    return {m: evaluate_window(ds.baseline, data, s).status for m, s in modes.items()}


def run_dataset(ds: DataSet, plan: Plan, min_events: int) -> dict[str, bool]:
    modes = {
        "calibrated": DetectionSettings(),
        "fixed": DetectionSettings(threshold_mode="fixed"),
    }
    print(f"\n-- {ds.name}: {len(ds.baseline.columns)} columns")
    print("false alarms per stationary window (model status), 95 % CI:")
    print(
        f"{'n':>7} {'windows':>7} | {'calibrated alert':>24} {'calibrated warn+':>24} | "
        f"{'fixed alert':>24} {'fixed warn+':>24}"
    )
    met = {"false_alarms": True, "power": True, "vs_fixed": True}
    seed = 0
    for n in plan.sizes:
        if n > ds.max_n:
            print(f"{n:>7}     n/a | hold-out has {ds.max_n:,} rows")
            continue
        w = plan.null_windows if n < 100_000 else plan.null_windows_large
        counts = {m: [0, 0] for m in modes}
        for _ in range(w):
            seed += 1
            for m, st in _statuses(ds, ds.window(n, seed), modes).items():
                counts[m][0] += st == Status.ALERT
                counts[m][1] += st >= Status.WARNING
        ca, cw = counts["calibrated"]
        fa, fw = counts["fixed"]
        print(
            f"{n:>7} {w:>7} | {_ci(ca, w):>24} {_ci(cw, w):>24} | {_ci(fa, w):>24} {_ci(fw, w):>24}"
        )
        if n >= min_events and (ca / w > 0.01 or cw / w > 0.05):
            met["false_alarms"] = False
    print(
        f"power: column {ds.column!r} shifted to a population PSI of "
        f"{', '.join(map(str, PSI_TARGETS))} (share of windows detected):"
    )
    print(
        f"{'n':>7} {'PSI':>4} {'delta':>6} | {'calib alert':>11} {'calib warn+':>11} | "
        f"{'fixed alert':>11} {'fixed warn+':>11}"
    )
    shifts = {t: _shift_for(ds, t) for t in PSI_TARGETS}
    profile = ds.baseline.column(ds.column).profile
    assert isinstance(profile, NumericProfile)
    for n in plan.sizes:
        if n > ds.max_n:
            continue
        pw = plan.power_windows if n < 100_000 else max(plan.power_windows // 2, 5)
        for target, delta in shifts.items():
            counts = {m: [0, 0] for m in modes}
            for _ in range(pw):
                seed += 1
                df = ds.window(n, seed).copy()
                df[ds.column] = df[ds.column].astype(np.float64) + delta * profile.std
                for m, st in _statuses(ds, df, modes).items():
                    counts[m][0] += st == Status.ALERT
                    counts[m][1] += st >= Status.WARNING
            c_alert, c_warn = (c / pw for c in counts["calibrated"])
            f_alert, f_warn = (c / pw for c in counts["fixed"])
            rates = f"{c_alert:>11.0%} {c_warn:>11.0%} | {f_alert:>11.0%} {f_warn:>11.0%}"
            print(f"{n:>7} {target:>4} {delta:>6.3f} | {rates}")
            if target == 0.2 and n >= 500 and c_alert < 0.95:
                met["power"] = False
            if n >= 1_000 and (c_alert < f_alert or c_warn < f_warn):
                met["vs_fixed"] = False
    return met


def build_time(rows: int) -> None:
    schema = Schema(100, 20)
    print(f"\n-- baseline build: {rows:,} rows, 100 numeric + 20 categorical + score")
    train = training_frame(schema, rows)
    t = time.process_time()
    b = build_baseline(train, "bench", prediction=[SCORE], categorical=list(schema.categorical))
    total = time.process_time() - t
    t = time.process_time()
    calibrate(b)
    cal = time.process_time() - t
    result("build with calibration (CPU s)", f"{total:.2f}")
    result("of which calibration (CPU s)", f"{cal:.2f}")
    ratio("build time calibrated / uncalibrated", total / max(total - cal, 1e-9), 2.0, False)


def main(argv: Sequence[str] | None = None) -> int:
    p = parser("Calibrated vs fixed thresholds: false alarms and power by window size")
    p.add_argument(
        "--build",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also time the 1 000 000-row baseline build (default: full only)",
    )
    args = p.parse_args(argv)
    header("calibration: false alarms and power, calibrated vs fixed thresholds")
    plan = PLANS[args.size]
    min_events = DetectionSettings().min_events
    result("min_events (default)", str(min_events))
    ok = True
    for make in (_synthetic, _diamonds):
        met = run_dataset(make(), plan, min_events)
        ok &= ratio(
            "calibrated false alarms within budget at n >= min_events",
            float(met["false_alarms"]),
            1.0,
        )
        ok &= ratio("PSI 0.2 alerts in >= 95 % of windows of n >= 500", float(met["power"]), 1.0)
        ok &= ratio("calibrated power >= fixed at n >= 1000", float(met["vs_fixed"]), 1.0)
    build = args.build if args.build is not None else args.size == "full"
    if build:
        build_time(1_000_000 if args.size == "full" else 50_000)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
