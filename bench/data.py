"""The benchmarks' data: a realistic event schema, training frames and baselines, and
SPEC-shaped event streams generated fast enough to produce millions of events.

(See docs/BENCHMARKS.md for the schema: 20 numeric features of five kinds, categorical
ones with Zipf-like tails, a score.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.baseline.model import Baseline

#: The prediction column of the benchmark models.
SCORE = "score"
#: Event time of the first event (2026-01-01T00:00:00Z).
T0 = 1_767_225_600.0
#: Training rows of the benchmark baselines (= reference sample size, up to 100 000).
BASELINE_ROWS = {"small": 20_000, "full": 100_000}


#: Categorical features: name -> (categories, probabilities) (Zipf-like tails).
def _zipf(k: int, s: float) -> np.ndarray:
    w: np.ndarray = 1.0 / np.arange(1, k + 1) ** s
    return np.asarray(w / w.sum())


_CATEGORICAL: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "country": (
        ("US", "IN", "BR", "DE", "GB", "FR", "MX", "ID", "NG", "JP", "CA", "ES"),
        _zipf(12, 1.1),
    ),
    "channel": (("web", "app", "branch", "broker"), np.array([0.45, 0.3, 0.15, 0.1])),
    "device": (("android", "ios", "desktop"), np.array([0.5, 0.3, 0.2])),
    "merchant": (tuple(f"m{i:02d}" for i in range(40)), _zipf(40, 1.0)),
    "plan": (("free", "basic", "plus", "pro", "team"), np.array([0.4, 0.25, 0.15, 0.12, 0.08])),
}


@dataclass(frozen=True)
class Schema:
    """``n_numeric`` numeric features ``f00..``, categorical features (the first five are
    the named ones above, more are synthetic), and a score."""

    n_numeric: int = 20
    n_categorical: int = 5

    @property
    def numeric(self) -> list[str]:
        return [f"f{i:02d}" for i in range(self.n_numeric)]

    @property
    def integral(self) -> frozenset[str]:
        """Numeric features holding whole numbers (written as JSON integers)."""
        return frozenset(n for i, n in enumerate(self.numeric) if i % 5 in (1, 4))

    @property
    def categorical(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        names = list(_CATEGORICAL)
        for i in range(self.n_categorical):
            if i < len(names):
                out[names[i]] = _CATEGORICAL[names[i]]
            else:
                k = 3 + (i * 7) % 30
                out[f"c{i:02d}"] = (tuple(f"v{j}" for j in range(k)), _zipf(k, 0.8))
        return out


def columns(schema: Schema, n: int, rng: np.random.Generator, drift: float = 0.0) -> dict[str, Any]:
    """``n`` rows of every feature and the score, column by column (numpy arrays; NaN =
    missing numeric value, None = missing category). ``drift`` (0 = training
    distribution) shifts every third numeric feature by ``drift`` standard deviations
    and moves categorical mass from the first category to the last."""
    out: dict[str, Any] = {}
    logit = np.full(n, -1.5)
    for i, name in enumerate(schema.numeric):
        kind = i % 5
        if kind == 0:  # amounts: log-normal, 2 decimals
            mu, sd = 3.5 + 0.1 * i, 0.9
            x = np.round(np.exp(rng.normal(mu, sd, n)), 1)
            shift = np.exp(mu + sd * sd / 2) * 0.5
        elif kind == 1:  # ages / tenures: integers
            x = np.floor(rng.gamma(3.0 + i % 4, 6.0, n))
            shift = 6.0 * np.sqrt(3.0 + i % 4)
        elif kind == 2:  # ratios in [0, 1]
            x = np.round(rng.beta(2.0, 5.0, n), 3)
            shift = 0.16
        elif kind == 3:  # standardised scores
            x = np.round(rng.normal(0.0, 1.0, n), 2)
            shift = 1.0
        else:  # counts
            x = rng.poisson(4.0 + i % 7, n).astype(np.float64)
            shift = np.sqrt(4.0 + i % 7)
        if drift and i % 3 == 0:
            x = x + drift * shift
        if i % 4 == 3:  # some features are sometimes missing
            x[rng.random(n) < 0.03] = np.nan
        logit = logit + 0.1 * np.nan_to_num((x - np.nanmean(x)) / (np.nanstd(x) + 1e-12))
        out[name] = x
    for name, (cats, probs) in schema.categorical.items():
        p = probs.copy()
        if drift:
            moved = min(p[0] * 0.8, 0.25 * drift)
            p[0] -= moved
            p[-1] += moved
        codes = rng.choice(len(cats), size=n, p=p)
        values = np.asarray(cats, dtype=object)[codes]
        values[rng.random(n) < 0.01] = None
        logit = logit + 0.2 * (codes == 0)
        out[name] = values
    out[SCORE] = np.round(1.0 / (1.0 + np.exp(-logit)), 4)
    return out


def training_frame(schema: Schema, n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` training rows (features and score) in the training distribution."""
    return pd.DataFrame(columns(schema, n, np.random.default_rng(seed)))


def model_names(n: int) -> list[str]:
    """``n`` model names (``m00``...)."""
    return [f"m{i:02d}" for i in range(n)]


@dataclass
class EventStream:
    """Generates SPEC-shaped event values (~330 bytes of JSON) in batches.

    Feature rows are drawn from a pool of ``pool`` distinct rows generated with numpy
    (so producing millions of events costs ~1 us each, not a JSON dump of a dict);
    each event gets its own model, event id and event time. Events are spread uniformly
    at random over ``models``; event time advances by ``1 / rate`` seconds per event
    overall (each model sees ``rate / len(models)`` events per second of event time).
    ``partition_of`` maps a model to its partition (keyed by model: a model lives on
    one partition). ``drift`` (settable between batches) selects the distribution.
    """

    schema: Schema
    models: Sequence[str]
    rate: float
    partitions: int = 1
    seed: int = 7
    t0: float = T0
    drift: float = 0.0
    pool: int = 65_536

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._index = 0
        self._keys = [m.encode() for m in self.models]
        self._pools: dict[float, list[bytes]] = {}

    def partition_of(self, model_index: int) -> int:
        return model_index % self.partitions

    @property
    def produced(self) -> int:
        """Events generated so far."""
        return self._index

    def seek(self, index: int) -> None:
        """Give the next event the event time of event number ``index``."""
        self._index = index

    def _pool(self) -> list[bytes]:
        rows = self._pools.get(self.drift)
        if rows is None:
            rng = np.random.default_rng([self.seed, len(self._pools)])
            cols = columns(self.schema, self.pool, rng, self.drift)
            names = [*self.schema.numeric, *self.schema.categorical]
            integral = self.schema.integral
            lists = [
                [
                    None if v != v else int(v) if name in integral else v  # NaN -> null
                    for v in cols[name].tolist()
                ]
                for name in names
            ]
            dumps = orjson.dumps
            rows = [
                dumps(dict(zip(names, row, strict=True))) + b',"prediction":' + dumps(score)
                for row, score in zip(zip(*lists, strict=True), cols[SCORE].tolist(), strict=True)
            ]
            self._pools[self.drift] = rows
        return rows

    def batch(self, n: int) -> tuple[list[bytes], list[int], list[bytes], list[int]]:
        """The next ``n`` events: (record keys, partitions, values, event times in ms)."""
        rng = self._rng
        pool = self._pool()
        rows = rng.integers(0, len(pool), n).tolist()
        model_idx = rng.integers(0, len(self.models), n).tolist()
        ts_ms = np.round((self.t0 + (self._index + np.arange(n)) / self.rate) * 1000)
        ts_list = ts_ms.astype(np.int64).tolist()
        ids = rng.integers(0, 2**48, n).tolist()
        self._index += n
        keys = self._keys
        template = b'{"model":"%b","event_id":"%012x","timestamp":%d,"features":%b}'
        values = [
            template % (keys[m], i, t, pool[r])
            for m, i, t, r in zip(model_idx, ids, ts_list, rows, strict=True)
        ]
        return (
            [keys[m] for m in model_idx],
            [self.partition_of(m) for m in model_idx],
            values,
            ts_list,
        )


def batches(stream: EventStream, total: int, size: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """``total`` events of ``stream`` in batches of at most ``size``."""
    left = total
    while left > 0:
        n = min(size, left)
        left -= n
        yield stream.batch(n)


def write_baselines(
    directory: Path, schema: Schema, models: Sequence[str], rows: int = 100_000
) -> Baseline:
    """One baseline per model (the same training data), saved as ``<model>.dmb``."""
    df = training_frame(schema, rows)
    base = build_baseline(
        df,
        models[0],
        version="bench",
        prediction=[SCORE],
        categorical=list(schema.categorical),
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = base
    for m in models:
        out = save_baseline(
            dataclasses.replace(base, model=m, _prepared={}), directory / f"{m}.dmb"
        )
    return out
