"""Vectorised category encoding equals the value-by-value definition on every input.

The definition: each value through ``category_key``, then looked up among the baseline
categories (unseen -> k, or ``__other__`` when the baseline pooled its tail; missing ->
-1). The vectorised path hashes values in C; inputs where hashing would merge values
that ``category_key`` separates (``True == 1``) must give the same codes as well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_monitor.stats import PreparedCategorical, category_key, encode_categories
from drift_monitor.stats.categorical import OTHER

CATEGORIES = ["a", "b", "3", "true", "false", "1", "2.5", "0"]


def by_definition(values: list[object], prep: PreparedCategorical) -> list[int]:
    k = len(prep.categories)
    fallback = prep.index.get(OTHER, k) if prep.pooled_other else k
    out = []
    for v in values:
        key = category_key(v)
        out.append(-1 if key is None else prep.index.get(key, fallback))
    return out


POOL: list[object] = [
    "a", "b", "3", "zz", "", "true", 3, 3.0, 1, 0, 1.0, 2.5, True, False, np.True_,
    np.int64(3), np.float64(2.5), None, float("nan"), pd.NA, "1", "0",
]  # fmt: skip


@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("seed", range(60))
def test_random_mixtures_equal_the_definition(seed: int, pooled: bool) -> None:
    rng = np.random.default_rng(seed)
    cats = [*CATEGORIES, OTHER] if pooled else CATEGORIES
    prep = PreparedCategorical.build(cats, np.full(len(cats), 1 / len(cats)), pooled_other=pooled)
    # Some inputs of one kind (the vectorised path), some mixed (the fallback).
    kinds: list[list[object]] = [
        POOL,
        POOL[:5],
        [3, 1, 0, None],
        [2.5, 3.0, float("nan")],
        [True, False, None],
    ]
    pool = kinds[seed % len(kinds)]
    values = [pool[i] for i in rng.integers(0, len(pool), int(rng.integers(0, 300)))]
    want = by_definition(values, prep)
    assert encode_categories(values, prep).tolist() == want
    assert encode_categories(iter(values), prep).tolist() == want
    series = pd.Series(values, dtype=object)
    assert encode_categories(series, prep).tolist() == want


@pytest.mark.parametrize(
    "series",
    [
        pd.Series(["a", None, "zz", "3"], dtype="string"),
        pd.Series(["a", "b", "b"], dtype="category"),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([True, False, True]),
        pd.Series([0.0, np.nan, 2.5, 3.0]),
        pd.Series([3, 1, 0]),
        pd.Series([], dtype=object),
    ],
    ids=["string", "category", "Int64", "bool", "float", "int", "empty"],
)
def test_typed_series_equal_the_definition(series: pd.Series) -> None:
    prep = PreparedCategorical.build(CATEGORIES, np.full(len(CATEGORIES), 1 / len(CATEGORIES)))
    assert encode_categories(series, prep).tolist() == by_definition(series.tolist(), prep)


def test_tuples_stay_one_value_each() -> None:
    prep = PreparedCategorical.build(["(1, 2)"], np.array([1.0]))
    assert encode_categories([(1, 2), (1, 2)], prep).tolist() == [0, 0]
