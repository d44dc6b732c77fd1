"""Categorical statistics against scipy.stats.chisquare and direct formulas."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from drift_monitor.baseline import build_baseline
from drift_monitor.stats import (
    UNSEEN,
    PreparedCategorical,
    category_key,
    chi2_goodness_of_fit,
    encode_categories,
    score_categorical,
    tally_codes,
)
from drift_monitor.stats.categorical import OTHER, score_counts
from tests.profiles import categorical


def direct_psi(a: np.ndarray, e: np.ndarray, floor: float = 1e-4) -> float:
    total = 0.0
    for ai, ei in zip(a.tolist(), e.tolist(), strict=True):
        af, ef = max(ai, floor), max(ei, floor)
        total += (af - ef) * math.log(af / ef)
    return total


def random_baseline(rng: np.random.Generator, k: int) -> PreparedCategorical:
    """Categories with proportions from training counts, as a baseline stores them."""
    counts = rng.integers(1, 5000, size=k).astype(float)
    return PreparedCategorical.build([f"c{i}" for i in range(k)], counts / counts.sum())


def chisquare(obs: np.ndarray, proportions: np.ndarray) -> tuple[float, float]:
    r = stats.chisquare(obs, proportions * obs.sum())
    return float(r.statistic), float(r.pvalue)


# ---------------------------------------------------------------------------------------
# chi2 without unseen values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(120))
def test_chi2_equals_scipy_chisquare(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 30))
    prep = random_baseline(rng, k)
    n = int(rng.choice([1, 5, 50, 1000, 100_000]))
    # A window from a perturbed distribution; sometimes categories vanish (count 0).
    window_p = rng.dirichlet(np.full(k, 0.3)) if seed % 2 else prep.expected_fractions
    counts = rng.multinomial(n, window_p).astype(np.int64)
    if seed % 5 == 0:
        counts[rng.integers(0, k)] = 0
        if counts.sum() == 0:
            counts[0] = 1
    s = score_counts(counts, 0, prep)
    assert s is not None
    stat, p = chisquare(counts.astype(float), prep.expected_fractions)
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12, abs=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12, abs=1e-300)
    assert s.unseen_ratio == 0.0
    assert s.unseen_count == 0
    assert s.n == int(counts.sum())
    assert s.counts == tuple(int(c) for c in counts)


def test_vanished_categories_count_zero_and_are_still_tested() -> None:
    prep = PreparedCategorical.build(["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1])
    values = ["a"] * 60 + ["b"] * 40  # c and d vanished
    s = score_categorical(values, prep)
    assert s is not None
    assert s.counts == (60, 40, 0, 0)
    stat, p = chisquare(np.array([60.0, 40.0, 0.0, 0.0]), prep.expected_fractions)
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12)
    assert p < 1e-3  # the vanished categories are what makes this significant


def test_chi2_goodness_of_fit_documented_degenerate_cases() -> None:
    # scipy would give p = nan with zero degrees of freedom; the function documents (0, 1).
    assert chi2_goodness_of_fit(np.array([17.0]), np.array([1.0])) == (0.0, 1.0)
    assert chi2_goodness_of_fit(np.array([0.0, 0.0]), np.array([0.5, 0.5])) == (0.0, 1.0)


def test_single_category_baseline_without_unseen_is_never_drift() -> None:
    prep = PreparedCategorical.build(["only"], [1.0])
    s = score_categorical(["only"] * 500, prep)
    assert s is not None
    assert (s.chi2_statistic, s.chi2_p_value) == (0.0, 1.0)
    assert s.psi == pytest.approx(direct_psi(np.array([1.0, 0.0]), np.array([1.0, 0.0])))
    assert s.psi == 0.0


# ---------------------------------------------------------------------------------------
# unseen values
# ---------------------------------------------------------------------------------------


def unseen_arrays(
    counts: np.ndarray, unseen: int, expected: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Observed counts and proportions as the SPEC defines them with unseen values:
    an ``__unseen__`` bucket whose proportion is floored at 1e-4, then renormalised."""
    obs = np.array([*counts.tolist(), unseen], dtype=float)
    props = np.array([*expected.tolist(), max(0.0, 1e-4)])
    return obs, props / props.sum()


@pytest.mark.parametrize("seed", range(60))
def test_chi2_with_unseen_values_equals_scipy_on_the_floored_arrays(seed: int) -> None:
    rng = np.random.default_rng(10_000 + seed)
    k = int(rng.integers(1, 20))
    prep = random_baseline(rng, k)
    n = int(rng.choice([10, 300, 20_000]))
    counts = rng.multinomial(n, prep.expected_fractions).astype(np.int64)
    unseen = int(rng.integers(1, max(2, n // 5)))
    s = score_counts(counts, unseen, prep)
    assert s is not None
    obs, props = unseen_arrays(counts, unseen, prep.expected_fractions)
    stat, p = chisquare(obs, props)
    assert math.isfinite(s.chi2_statistic)
    assert math.isfinite(s.chi2_p_value)
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12, abs=1e-300)
    assert s.unseen_count == unseen
    assert s.unseen_ratio == unseen / (counts.sum() + unseen)
    # PSI and JS: baseline categories plus __unseen__ (expected 0 -> floored at 1e-4)
    actual = obs / obs.sum()
    expected_u = np.array([*prep.expected_fractions.tolist(), 0.0])
    assert s.psi == pytest.approx(direct_psi(actual, expected_u), rel=1e-12)
    np.testing.assert_allclose(
        s.jensen_shannon,
        jensenshannon(np.maximum(actual, 1e-4), np.maximum(expected_u, 1e-4), base=2),
        rtol=1e-9,
    )


def test_a_new_category_gives_a_finite_huge_statistic() -> None:
    prep = PreparedCategorical.build(["a", "b"], [0.5, 0.5])
    values = ["a"] * 450 + ["b"] * 450 + ["brand-new"] * 100
    s = score_categorical(values, prep)
    assert s is not None
    obs, props = unseen_arrays(np.array([450, 450]), 100, prep.expected_fractions)
    stat, p = chisquare(obs, props)
    assert math.isfinite(s.chi2_statistic)
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12, abs=1e-300)
    assert s.chi2_statistic > 1e4
    assert s.unseen_ratio == 0.1
    # The unfloored formula is what the floor avoids:
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = stats.chisquare(obs, np.array([0.5, 0.5, 0.0]) * obs.sum()).statistic
    assert not math.isfinite(raw)


def test_single_category_baseline_with_unseen_values_is_tested() -> None:
    prep = PreparedCategorical.build(["only"], [1.0])
    s = score_categorical(["only"] * 95 + ["x", "y", "z", "x", "x"], prep)
    assert s is not None
    assert s.unseen_count == 5
    stat, p = chisquare(*unseen_arrays(np.array([95]), 5, prep.expected_fractions))
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12, abs=1e-300)


# ---------------------------------------------------------------------------------------
# encoding, missing values, unseen ratio
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (3, "3"),
        (3.0, "3"),
        ("3", "3"),
        (np.int64(3), "3"),
        (np.int8(3), "3"),
        (np.float32(3.0), "3"),
        (np.float64(3.0), "3"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (0.1, repr(0.1)),
        (True, "true"),
        (False, "false"),
        (np.bool_(True), "true"),
        ("True", "True"),  # a string is kept as it is
        ("", ""),
        (None, None),
        (float("nan"), None),
        (np.nan, None),
        (np.float32("nan"), None),
        (pd.NA, None),
        (pd.NaT, None),
    ],
)
def test_category_key_normalisation(value: object, key: str | None) -> None:
    assert category_key(value) == key


def test_three_spellings_of_three_are_one_category() -> None:
    prep = PreparedCategorical.build(["3", "4"], [0.5, 0.5])
    codes = encode_categories([3, 3.0, "3", np.int64(3), 4, None, float("nan"), "5", 5.5], prep)
    assert codes.tolist() == [0, 0, 0, 0, 1, -1, -1, 2, 2]
    counts, unseen = tally_codes(codes, 2)
    assert counts.tolist() == [4, 1]
    assert unseen == 2


@pytest.mark.parametrize("seed", range(20))
def test_encode_and_tally_match_a_counter(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cats = [f"v{i}" for i in range(int(rng.integers(1, 12)))]
    prep = PreparedCategorical.build(cats, np.full(len(cats), 1 / len(cats)))
    pool: list[object] = [*cats, "new1", "new2", None, float("nan")]
    values = [pool[i] for i in rng.integers(0, len(pool), size=int(rng.integers(0, 400)))]
    counts, unseen = tally_codes(encode_categories(values, prep), len(cats))
    c = Counter(category_key(v) for v in values)
    assert counts.tolist() == [c[x] for x in cats]
    assert unseen == c["new1"] + c["new2"]
    s = score_categorical(values, prep)
    present = len(values) - c[None]
    if present == 0:
        assert s is None
    else:
        assert s is not None
        assert s.n == present  # missing values are not part of n
        assert s.unseen_ratio == pytest.approx((c["new1"] + c["new2"]) / present, rel=1e-15)


def test_all_missing_window_has_no_scores() -> None:
    prep = PreparedCategorical.build(["a"], [1.0])
    assert score_categorical([None, float("nan"), pd.NA], prep) is None
    assert score_categorical([], prep) is None


# ---------------------------------------------------------------------------------------
# the pooled __other__ bucket (cardinality cap)
# ---------------------------------------------------------------------------------------


def test_pooled_other_collects_tail_and_unseen_values() -> None:
    train = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 6 + ["e"] * 4})
    b = build_baseline(train, "m", version="1", max_categories=3)
    profile = categorical(b.column("c"))
    assert profile.categories == ("a", "b", OTHER)
    assert profile.counts == (50, 30, 20)
    assert profile.pooled_other is True
    assert profile.distinct == 5
    prep = b.prepared()["c"]
    assert isinstance(prep, PreparedCategorical)
    # A training tail value and a value never seen both count as __other__, not unseen.
    s = score_categorical(["a", "b", "c", "e", "zzz", None], prep)
    assert s is not None
    assert s.counts == (1, 1, 3)
    assert s.unseen_count == 0
    assert s.unseen_ratio == 0.0
    stat, p = chisquare(np.array([1.0, 1.0, 3.0]), np.array([0.5, 0.3, 0.2]))
    assert s.chi2_statistic == pytest.approx(stat, rel=1e-12)
    assert s.chi2_p_value == pytest.approx(p, rel=1e-12)


def test_no_pooling_at_the_cap() -> None:
    train = pd.DataFrame({"c": list("aabbc")})
    b = build_baseline(train, "m", version="1", max_categories=3)
    profile = categorical(b.column("c"))
    assert profile.pooled_other is False
    assert profile.categories == ("a", "b", "c")
    prep = b.prepared()["c"]
    assert isinstance(prep, PreparedCategorical)
    s = score_categorical(["zzz"], prep)
    assert s is not None
    assert s.unseen_count == 1


def test_max_categories_one_pools_everything() -> None:
    b = build_baseline(pd.DataFrame({"c": list("aabbc")}), "m", version="1", max_categories=1)
    profile = categorical(b.column("c"))
    assert profile.categories == (OTHER,)
    assert profile.counts == (5,)
    assert UNSEEN not in profile.categories
