"""One window evaluation: drift-monitor against a FAST-style numpy reference, scipy per
column, and Evidently.

Two shapes (``--size full``):

(a) 20 numeric + 5 categorical features and a score, 100 000-row baseline,
    10 000-event window;
(b) 100 numeric + 20 categorical features and a score, 1 000 000-row baseline
    (reference sample capped at the default 100 000 values), 100 000-event window.

``ours``: :func:`evaluate_window` on a :class:`WindowData` (every column, every default
test, decisions included), the baseline prepared once beforehand as the daemon does at
load. ``fast``: a FAST-style numpy reference (``bench/fast_reference.py``: sorted reference
with prefix sums prepared once, searchsorted KS, bincount PSI, prefix-sum Wasserstein,
scipy's p-values; statistics only, no decisions); target: ours <= 1.0x its time, and
every statistic equal. ``scipy``: the same statistics computed column by column the direct way
(``ks_2samp``, ``wasserstein_distance``, ``chisquare``, PSI with ``np.histogram``,
``jensenshannon``) on the same data; every statistic is asserted equal to ours.
``evidently``: ``Report([DataDriftPreset()])`` on the window and the training frame
(skipped with a message when ``evidently`` is not importable: ``pip install evidently``).

    .venv/bin/python -m bench.evaluation [--size small|full] [--no-evidently]
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from bench import fast_reference
from bench.data import SCORE, Schema, columns, training_frame
from bench.report import header, parser, ratio, result
from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.evaluation.evaluate import evaluate_window
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.evaluation.settings import DetectionSettings
from drift_monitor.stats.categorical import encode_categories
from drift_monitor.stats.prepared import PreparedCategorical
from drift_monitor.windows.data import WindowData

FLOOR = 1e-4
TARGET_VS_EVIDENTLY = 20.0
#: ours / the FAST-style reference, at most (issue: "a window <= 1.0x the reference").
TARGET_VS_FAST = 1.0
EVIDENTLY_REFERENCE_ROWS = 100_000
#: Relative tolerance for statistics that are not computed by the very same float
#: operations as scipy's (the unit tests' rtol; the largest relative difference actually
#: seen is reported - summation order, ~1e-13, up to ~1e-12 for a tiny Jensen-Shannon).
REL_TOL = 1e-9


@dataclass(frozen=True)
class Shape:
    name: str
    n_numeric: int
    n_categorical: int
    baseline_rows: int
    window: int


SHAPES = {
    "full": [
        Shape("a", 20, 5, 100_000, 10_000),
        Shape("b", 100, 20, 1_000_000, 100_000),
    ],
    "small": [
        Shape("a", 20, 5, 20_000, 2_000),
        Shape("b", 100, 20, 20_000, 2_000),
    ],
}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(min, median) CPU seconds of ``repeat`` calls, and the last return value.

    CPU time of this process (all its threads), not wall time: on a shared machine
    the wall clock also counts the time other processes held the cores.
    """
    times = []
    out = None
    for _ in range(repeat):
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return min(times), statistics.median(times), out


def interleaved(
    fns: dict[str, Callable[[], Any]], repeat: int
) -> dict[str, tuple[float, float, Any]]:
    """:func:`timed` of several callables, called in turn ``repeat`` times each."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    last: dict[str, Any] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.process_time()
            last[name] = fn()
            times[name].append(time.process_time() - t)
    return {name: (min(ts), statistics.median(ts), last[name]) for name, ts in times.items()}


def window_frame(schema: Schema, n: int, seed: int, drift: float) -> pd.DataFrame:
    """``n`` production rows (slightly drifted: ``drift`` standard deviations)."""
    return pd.DataFrame(columns(schema, n, np.random.default_rng(seed), drift))


def window_data(baseline: Baseline, df: pd.DataFrame) -> WindowData:
    """The window as the daemon's buffers hold it: float64 per numeric column (NaN =
    missing), category codes per categorical column."""
    prepared = baseline.prepared()
    numeric: dict[str, np.ndarray] = {}
    categorical: dict[str, np.ndarray] = {}
    for col in baseline.columns:
        if col.kind == "numeric":
            numeric[col.name] = df[col.name].to_numpy(dtype=np.float64)
        else:
            prep = prepared[col.name]
            assert isinstance(prep, PreparedCategorical)
            categorical[col.name] = encode_categories(df[col.name], prep)
    return WindowData(events=len(df), numeric=numeric, categorical=categorical)


# -- scipy, column by column -------------------------------------------------------------


def _psi(a: np.ndarray, e: np.ndarray) -> float:
    a = np.maximum(a, FLOOR)
    e = np.maximum(e, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def scipy_window(baseline: Baseline, data: WindowData) -> dict[tuple[str, str], float]:
    """Every statistic of every column computed directly with scipy / numpy:
    (column, test) -> value (p-values under ``<test>_p``)."""
    out: dict[tuple[str, str], float] = {}
    for col in baseline.columns:
        p = col.profile
        if isinstance(p, NumericProfile):
            x = data.numeric[col.name]
            w = x[np.isfinite(x)]
            ref = p.reference_sample
            ks = sps.ks_2samp(w, ref, method="auto")
            out[(col.name, "ks")] = float(ks.statistic)
            out[(col.name, "ks_p")] = float(ks.pvalue)
            wd = float(sps.wasserstein_distance(w, ref))
            out[(col.name, "wasserstein")] = wd / p.std if p.std > 0 else wd
            bins = np.concatenate(([-np.inf], p.inner_edges, [np.inf]))
            counts = np.histogram(w, bins=bins)[0]
            a = counts / counts.sum()
            e = p.expected_fractions
            out[(col.name, "psi")] = _psi(a, e)
            out[(col.name, "jensen_shannon")] = float(
                jensenshannon(np.maximum(a, FLOOR), np.maximum(e, FLOOR), base=2)
            )
        elif isinstance(p, CategoricalProfile):
            codes = data.categorical[col.name]
            k = len(p.categories)
            counts = np.bincount(codes[codes >= 0], minlength=k + 1)
            n = counts.sum()
            e = p.fractions
            if counts[k] > 0:
                props = np.append(e, FLOOR)
                props = props / props.sum()
                obs = counts
            else:
                props = e
                obs = counts[:k]
            chi = sps.chisquare(obs, props * n)
            out[(col.name, "chi2")] = float(chi.statistic)
            out[(col.name, "chi2_p")] = float(chi.pvalue)
            a = counts / n
            eu = np.append(e, 0.0)
            out[(col.name, "psi")] = _psi(a, eu)
            out[(col.name, "jensen_shannon")] = float(
                jensenshannon(np.maximum(a, FLOOR), np.maximum(eu, FLOOR), base=2)
            )
    return out


def compare(
    ours: WindowResult, theirs: dict[tuple[str, str], float], rel_tol: float = REL_TOL
) -> tuple[int, int, float]:
    """Assert every statistic equal; (values compared, bit-identical, max rel. diff)."""
    compared = identical = 0
    worst = 0.0
    for col in ours.columns:
        for test, tr in col.tests.items():
            pairs = [(test, tr.statistic)]
            if tr.p_value is not None:
                pairs.append((f"{test}_p", tr.p_value))
            for key, mine in pairs:
                ref = theirs[(col.name, key)]
                compared += 1
                if mine == ref:
                    identical += 1
                    continue
                rel = abs(mine - ref) / max(abs(ref), 1e-300)
                # KS is computed with scipy's own integer counts: it must be bit-identical.
                assert not key.startswith("ks"), (col.name, key, mine, ref)
                assert rel <= rel_tol, (col.name, key, mine, ref, rel)
                worst = max(worst, rel)
    return compared, identical, worst


# -- Evidently -----------------------------------------------------------------------------


def evidently_available() -> bool:
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry calls from Evidently
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    try:
        import evidently  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def evidently_run(
    schema: Schema, reference: pd.DataFrame, current: pd.DataFrame
) -> Callable[[], Any]:
    """A callable running Evidently's data drift preset on ``current`` vs ``reference``."""
    from evidently import DataDefinition, Dataset, Report  # noqa: PLC0415
    from evidently.presets import DataDriftPreset  # noqa: PLC0415

    definition = DataDefinition(
        numerical_columns=[*schema.numeric, SCORE],
        categorical_columns=list(schema.categorical),
    )

    def run() -> Any:
        ref = Dataset.from_pandas(reference, data_definition=definition)
        cur = Dataset.from_pandas(current, data_definition=definition)
        return Report([DataDriftPreset()]).run(cur, ref)

    return run


# -- main --------------------------------------------------------------------------------


def run_shape(shape: Shape, use_evidently: bool, repeat: int) -> dict[str, float]:
    schema = Schema(shape.n_numeric, shape.n_categorical)
    cols = shape.n_numeric + shape.n_categorical + 1
    print(
        f"-- ({shape.name}) {shape.n_numeric} numeric + {shape.n_categorical} categorical "
        f"+ score = {cols} columns, {shape.baseline_rows:,}-row baseline, "
        f"{shape.window:,}-event window"
    )
    t = time.perf_counter()
    train = training_frame(schema, shape.baseline_rows)
    baseline = build_baseline(
        train, "bench", version="bench", prediction=[SCORE], categorical=list(schema.categorical)
    )
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    baseline.prepared()
    prep_s = time.perf_counter() - t
    result(
        f"({shape.name}) baseline",
        f"generated + built in {build_s:.1f} s, prepared (once per load) in {prep_s * 1e3:.0f} ms",
    )
    current = window_frame(schema, shape.window, seed=99, drift=0.1)
    enc_s, _, data = timed(lambda: window_data(baseline, current), 1)
    result(
        f"({shape.name}) window columns",
        f"{enc_s * 1e3:.0f} ms CPU to turn the {shape.window:,}-row frame into columns "
        f"({shape.n_categorical} categorical columns encoded, vectorised)",
    )
    settings = DetectionSettings()  # the default: calibrated thresholds
    fixed = DetectionSettings(threshold_mode="fixed")
    fast = fast_reference.prepare(baseline)
    evaluate_window(baseline, data, settings)  # first call: the decision's per-load tables

    # Interleaved call by call, so that all three see the same machine load; each gets
    # the same number of calls (the minimum of more samples would favour one side).
    runs = interleaved(
        {
            "ours": lambda: evaluate_window(baseline, data, settings),
            "fixed": lambda: evaluate_window(baseline, data, fixed),
            "fast": lambda: fast_reference.window(fast, data),
        },
        2 * repeat,
    )
    (ours_min, ours_med, ours), (fast_min, fast_med, fast_stats) = runs["ours"], runs["fast"]
    result(
        f"({shape.name}) ours: evaluate_window",
        f"{ours_min * 1e3:.1f} ms CPU (min of {2 * repeat}, interleaved with the fast "
        f"reference; median {ours_med * 1e3:.1f} ms), status {ours.status.label}, "
        f"{len(ours.drifted)} drifted columns; calibrated decisions included "
        f"(thresholds.mode fixed: {runs['fixed'][0] * 1e3:.1f} ms)",
    )
    f_compared, f_identical, f_worst = compare(ours, fast_stats)
    result(
        f"({shape.name}) fast numpy reference",
        f"{fast_min * 1e3:.1f} ms CPU (min of {2 * repeat}, median {fast_med * 1e3:.1f} "
        f"ms); {f_compared} statistics equal to ours ({f_identical} bit-identical, the "
        f"rest within {f_worst:.1e} relative); {fast_reference.OMITS}",
    )
    ratio(
        f"({shape.name}) ours / fast reference (time)",
        ours_min / fast_min,
        TARGET_VS_FAST,
        higher_is_better=False,
    )
    sp_min, sp_med, theirs = timed(lambda: scipy_window(baseline, data), max(1, repeat // 2))
    compared, identical, worst = compare(ours, theirs)
    result(
        f"({shape.name}) scipy per column",
        f"{sp_min * 1e3:.1f} ms CPU (median {sp_med * 1e3:.1f} ms)",
    )
    result(
        f"({shape.name}) statistics vs scipy",
        f"{compared} values equal: {identical} bit-identical (every KS D and p-value), "
        f"the rest within {worst:.1e} relative (asserted <= {REL_TOL:g})",
    )
    ratio(f"({shape.name}) scipy / ours (speed-up)", sp_min / ours_min, None)
    out = {"ours": ours_min, "scipy": sp_min, "fast": fast_min}
    if use_evidently:
        # Evidently gets at most EVIDENTLY_REFERENCE_ROWS training rows: the reference
        # size our two-sample tests use (so a 1M-row baseline is not held against it).
        reference = train
        if len(train) > EVIDENTLY_REFERENCE_ROWS:
            reference = train.sample(EVIDENTLY_REFERENCE_ROWS, random_state=0)
        ev_s, _, _ = timed(evidently_run(schema, reference, current), 1)
        result(
            f"({shape.name}) evidently DataDriftPreset",
            f"{ev_s:.2f} s CPU (one run after a warm-up on other data; reference "
            f"{len(reference):,} rows, current {len(current):,})",
        )
        ratio(f"({shape.name}) evidently / ours (speed-up)", ev_s / ours_min, TARGET_VS_EVIDENTLY)
        out["evidently"] = ev_s
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--no-evidently", action="store_true", help="skip the Evidently comparison")
    p.add_argument("--repeat", type=int, help="timed calls of each side are 2x this (default 5)")
    args = p.parse_args(argv)
    # A 2 000-event window takes 15-70 ms: more calls for a stable minimum.
    repeat = args.repeat or 5
    header("evaluation: one window, every column, every default test")
    use_evidently = not args.no_evidently and evidently_available()
    if args.no_evidently:
        print("evidently: skipped (--no-evidently)")
    elif not use_evidently:
        print(
            "evidently: not installed - skipping the Evidently comparison "
            "(`.venv/bin/pip install evidently` to include it)"
        )
    else:
        import evidently  # noqa: PLC0415

        print(f"evidently: {evidently.__version__}")
        # Warm-up: imports, lazy registries and first-call costs are not the comparison.
        warm = Schema(3, 2)
        evidently_run(warm, training_frame(warm, 2_000), window_frame(warm, 500, 1, 0.0))()
    for shape in SHAPES[args.size]:
        run_shape(shape, use_evidently, repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
