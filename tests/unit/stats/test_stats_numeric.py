"""Numeric statistics against scipy (and independent references) on the same samples.

The implementation promises the very floats ``scipy.stats.ks_2samp`` returns, so KS is
compared with ``==``. Every expected number here is computed from the samples, never
hard-coded.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from _pytest.mark.structures import ParameterSet
from scipy import stats
from scipy.spatial.distance import jensenshannon

from drift_monitor.baseline import build_baseline
from drift_monitor.stats import (
    FRACTION_FLOOR,
    PreparedNumeric,
    bin_fractions,
    jensen_shannon,
    ks_2samp_sorted,
    psi,
    score_numeric,
    wasserstein_sorted,
)
from tests.profiles import numeric

# ---------------------------------------------------------------------------------------
# sample generators
# ---------------------------------------------------------------------------------------

KINDS = (
    "normal",  # same distribution
    "shifted",  # location + scale change
    "ties",  # continuous data rounded: many ties within and across samples
    "integers",  # Poisson counts: few distinct integer values
    "one_value_window",  # a single distinct value in the window only
    "one_value_both",  # a single distinct value in both (same or different)
    "disjoint",  # every window value above (or below) every reference value
    "identical",  # the window is a permutation of the reference
)


def make_samples(kind: str, n_w: int, n_ref: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(window, reference), unsorted, float64."""
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=n_w), rng.normal(size=n_ref)
    if kind == "shifted":
        return rng.normal(0.3, 1.3, size=n_w), rng.normal(size=n_ref)
    if kind == "ties":
        return np.round(rng.normal(0.1, 1, size=n_w), 1), np.round(rng.normal(size=n_ref), 1)
    if kind == "integers":
        lam = 3.0 + (seed % 3)
        return rng.poisson(lam, n_w).astype(float), rng.poisson(3.0, n_ref).astype(float)
    if kind == "one_value_window":
        return np.full(n_w, 1.0), rng.integers(0, 3, n_ref).astype(float)
    if kind == "one_value_both":
        value = 2.0 if seed % 2 else -7.5
        return np.full(n_w, value), np.full(n_ref, 2.0)
    if kind == "disjoint":
        w, ref = rng.uniform(10, 11, n_w), rng.uniform(0, 1, n_ref)
        return (w, ref) if seed % 2 else (-w, ref)
    if kind == "identical":
        ref = np.round(rng.normal(size=n_ref), 2)
        return rng.permutation(ref), ref
    raise AssertionError(kind)


# Both sizes <= 10 000: scipy's "auto" picks the exact distribution.
EXACT_SIZES = [
    (1, 1),
    (1, 2),
    (2, 1),
    (2, 2),
    (3, 3),
    (1, 3),
    (3, 2),
    (5, 8),
    (10, 10),
    (7, 100),
    (100, 7),
    (50, 50),
    (64, 96),
    (250, 1000),
    (1000, 250),
    (999, 1000),
    (1000, 1000),
    (3000, 7001),
    (4096, 10_000),
    (10_000, 10_000),
    (10_000, 3),
]
# Either size > 10 000: Smirnov's asymptotic distribution.
ASYMPTOTIC_SIZES = [
    (1, 100_000),
    (2, 100_000),
    (3, 100_000),
    (10, 100_000),
    (500, 100_000),
    (10_000, 100_000),
    (10_001, 100_000),
    (25_000, 100_000),
    (10_001, 10),
    (12_000, 9_000),
]


def _cases(sizes: list[tuple[int, int]], reps: int, seed0: int) -> list[ParameterSet]:
    cases: list[ParameterSet] = []
    seed = seed0
    for n_w, n_ref in sizes:
        for kind in KINDS:
            for _ in range(reps):
                seed += 1
                # "identical" needs equal sizes: the window is a permutation of the ref.
                nw, nr = (max(n_w, n_ref),) * 2 if kind == "identical" else (n_w, n_ref)
                cases.append(pytest.param(kind, nw, nr, seed, id=f"{kind}-{nw}x{nr}-s{seed}"))
    return cases


def _assert_same_as_scipy(w: np.ndarray, ref: np.ndarray) -> None:
    expected = stats.ks_2samp(w, ref, method="auto")
    d, p = ks_2samp_sorted(np.sort(w), np.sort(ref))
    assert isinstance(d, float)
    assert isinstance(p, float)
    assert d == float(expected.statistic), (d, expected.statistic)
    assert p == float(expected.pvalue), (p, expected.pvalue)
    assert 0.0 <= d <= 1.0
    assert 0.0 <= p <= 1.0


# ---------------------------------------------------------------------------------------
# KS
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "n_w", "n_ref", "seed"), _cases(EXACT_SIZES, 2, 0))
def test_ks_equals_scipy_exact_branch(kind: str, n_w: int, n_ref: int, seed: int) -> None:
    w, ref = make_samples(kind, n_w, n_ref, seed)
    assert max(w.shape[0], ref.shape[0]) <= 10_000
    _assert_same_as_scipy(w, ref)


@pytest.mark.parametrize(("kind", "n_w", "n_ref", "seed"), _cases(ASYMPTOTIC_SIZES, 1, 10_000))
def test_ks_equals_scipy_asymptotic_branch(kind: str, n_w: int, n_ref: int, seed: int) -> None:
    w, ref = make_samples(kind, n_w, n_ref, seed)
    assert max(w.shape[0], ref.shape[0]) > 10_000
    _assert_same_as_scipy(w, ref)


@pytest.mark.parametrize("seed", range(40))
def test_ks_equals_scipy_random_sizes_and_mixtures(seed: int) -> None:
    """Random sizes on both sides of the 10 000 switch and data mixing ties, integers
    and continuous values, so neither branch is tested only on tidy inputs."""
    rng = np.random.default_rng(1000 + seed)
    n_w = int(rng.choice([1, 2, 3, int(rng.integers(4, 300)), int(rng.integers(300, 12_000))]))
    n_ref = int(rng.choice([1, 2, int(rng.integers(3, 10_001)), int(rng.integers(10_001, 60_000))]))

    def draw(n: int, shift: float) -> np.ndarray:
        parts = [
            rng.normal(shift, 1, n),
            np.round(rng.normal(shift, 1, n), 1),
            rng.integers(-2, 3, n).astype(float),
        ]
        pick = rng.integers(0, 3, n)
        return np.choose(pick, parts)

    _assert_same_as_scipy(draw(n_w, float(rng.choice([0.0, 0.05, 0.5]))), draw(n_ref, 0.0))


def test_ks_statistic_is_one_for_disjoint_samples() -> None:
    # The reference for D here is the definition: the ECDFs never overlap.
    w, ref = make_samples("disjoint", 40, 60, seed=1)
    d, p = ks_2samp_sorted(np.sort(w), np.sort(ref))
    assert d == 1.0
    assert p == float(stats.ks_2samp(w, ref).pvalue)
    assert p < 1e-10


def test_ks_statistic_is_zero_for_identical_samples() -> None:
    w, ref = make_samples("identical", 500, 500, seed=2)
    d, p = ks_2samp_sorted(np.sort(w), np.sort(ref))
    assert (d, p) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("w", "ref"),
    [(np.empty(0), np.arange(3.0)), (np.arange(3.0), np.empty(0)), (np.empty(0), np.empty(0))],
)
def test_ks_rejects_empty_samples(w: np.ndarray, ref: np.ndarray) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ks_2samp_sorted(w, ref)


# ---------------------------------------------------------------------------------------
# Wasserstein
# ---------------------------------------------------------------------------------------

W_SIZES = [(1, 1), (1, 5), (3, 2), (10, 10), (100, 37), (2000, 5000), (5000, 100_000)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n_w", "n_ref"), W_SIZES)
def test_wasserstein_over_scale_equals_scipy(kind: str, n_w: int, n_ref: int) -> None:
    nw = n_ref if kind == "identical" else n_w
    w, ref = make_samples(kind, nw, n_ref, seed=n_w * 7 + n_ref)
    raw = stats.wasserstein_distance(w, ref)
    for scale in (1.0, 0.37, 2.5, float(np.std(ref)) or 1.0):
        got = wasserstein_sorted(np.sort(w), np.sort(ref), scale)
        np.testing.assert_allclose(got, raw / scale, rtol=1e-9, atol=0)


@pytest.mark.parametrize("scale", [0.0, -1.0])
def test_wasserstein_zero_or_negative_scale_is_the_raw_distance(scale: float) -> None:
    w, ref = make_samples("shifted", 300, 1000, seed=3)
    got = wasserstein_sorted(np.sort(w), np.sort(ref), scale)
    np.testing.assert_allclose(got, stats.wasserstein_distance(w, ref), rtol=1e-9, atol=0)
    assert got > 0.1  # a real shift: the comparison above is not 0 == 0


def test_wasserstein_of_constant_samples_is_their_distance() -> None:
    w, ref = np.full(10, 3.0), np.full(4, 1.0)
    got = wasserstein_sorted(w, ref, 0.0)
    assert got == pytest.approx(stats.wasserstein_distance(w, ref), rel=1e-12)
    assert got == pytest.approx(2.0, rel=1e-12)


# ---------------------------------------------------------------------------------------
# PSI bins
# ---------------------------------------------------------------------------------------


def reference_bin_fractions(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """Bins (-inf, e0), [e0, e1), ..., [ek, +inf) counted one value at a time."""
    counts = [0] * (len(inner_edges) + 1)
    for v in values.tolist():
        i = 0
        while i < len(inner_edges) and v >= inner_edges[i]:
            i += 1
        counts[i] += 1
    total = len(values)
    if total == 0:
        return np.zeros(len(counts))
    return np.array([c / total for c in counts])


def histogram_bin_fractions(values: np.ndarray, inner_edges: np.ndarray) -> np.ndarray:
    """numpy's histogram: bins [a, b) (the last closed, but its right edge is +inf)."""
    edges = np.concatenate(([-np.inf], inner_edges, [np.inf]))
    counts, _ = np.histogram(values, bins=edges)
    fractions: np.ndarray = counts / counts.sum()
    return fractions


@pytest.mark.parametrize("seed", range(60))
def test_bin_fractions_matches_independent_references(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Small integer and half-integer grids: many values fall exactly on an edge.
    grid = np.arange(-3.0, 3.5, 0.5)
    values = rng.choice(grid, size=int(rng.integers(1, 60)))
    if seed % 3 == 0:
        values = np.concatenate((values, rng.normal(size=20)))
    edges = np.unique(rng.choice(grid, size=int(rng.integers(1, 8))))
    expected = reference_bin_fractions(values, edges)
    got = bin_fractions(values, edges)
    assert got.shape == (edges.shape[0] + 1,)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(got, histogram_bin_fractions(values, edges), rtol=1e-15)
    assert math.isclose(float(got.sum()), 1.0, rel_tol=1e-12)


def test_bin_fractions_value_on_an_edge_goes_to_the_upper_bin() -> None:
    edges = np.array([1.0, 2.0])
    for v, bin_index in [(0.999, 0), (1.0, 1), (1.5, 1), (2.0, 2), (5.0, 2)]:
        got = bin_fractions(np.array([v]), edges)
        assert got.tolist() == [1.0 if i == bin_index else 0.0 for i in range(3)], v
    np.testing.assert_array_equal(
        bin_fractions(np.array([1.0, 1.0, 2.0, 0.0]), edges),
        reference_bin_fractions(np.array([1.0, 1.0, 2.0, 0.0]), edges),
    )


def test_bin_fractions_negative_zero_equals_the_zero_edge() -> None:
    got = bin_fractions(np.array([-0.0]), np.array([0.0]))
    assert got.tolist() == reference_bin_fractions(np.array([-0.0]), np.array([0.0])).tolist()
    assert got.tolist() == [0.0, 1.0]


def test_bin_fractions_of_empty_input_is_all_zeros() -> None:
    got = bin_fractions(np.empty(0), np.array([0.0, 1.0]))
    np.testing.assert_array_equal(got, np.zeros(3))


# ---------------------------------------------------------------------------------------
# PSI and Jensen–Shannon
# ---------------------------------------------------------------------------------------


def direct_psi(a: np.ndarray, e: np.ndarray, floor: float = 1e-4) -> float:
    total = 0.0
    for ai, ei in zip(a.tolist(), e.tolist(), strict=True):
        af, ef = max(ai, floor), max(ei, floor)
        total += (af - ef) * math.log(af / ef)
    return total


def random_fractions(rng: np.random.Generator, k: int, zeros: bool) -> np.ndarray:
    f = rng.dirichlet(np.full(k, rng.uniform(0.2, 3.0)))
    if zeros:
        f[rng.random(k) < 0.3] = 0.0
        if f.sum() == 0:
            f[0] = 1.0
        f = f / f.sum()
    return f


@pytest.mark.parametrize("seed", range(60))
def test_psi_equals_direct_formula(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 15))
    a = random_fractions(rng, k, zeros=seed % 2 == 0)
    e = random_fractions(rng, k, zeros=seed % 3 == 0)
    got = psi(a, e)
    assert got == pytest.approx(direct_psi(a, e), rel=1e-12, abs=1e-15)
    assert math.isfinite(got)
    assert got >= 0.0


def test_psi_floor_is_the_spec_value_and_applies_to_both_sides() -> None:
    assert FRACTION_FLOOR == 1e-4
    a, e = np.array([0.0, 1.0]), np.array([0.5, 0.5])
    assert psi(a, e) == pytest.approx(direct_psi(a, e), rel=1e-12)
    assert psi(e, a) == pytest.approx(direct_psi(e, a), rel=1e-12)
    # fractions under the floor count as the floor, so they do not change PSI
    tiny = np.array([1e-9, 1.0])
    assert psi(tiny, e) == psi(a, e)


def test_psi_of_identical_fractions_is_zero() -> None:
    f = np.array([0.1, 0.0, 0.4, 0.5])
    assert psi(f, f) == 0.0


@pytest.mark.parametrize("seed", range(60))
def test_jensen_shannon_equals_scipy_on_floored_fractions(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    k = int(rng.integers(2, 15))
    a = random_fractions(rng, k, zeros=seed % 2 == 0)
    e = random_fractions(rng, k, zeros=seed % 3 == 0)
    expected = jensenshannon(np.maximum(a, 1e-4), np.maximum(e, 1e-4), base=2)
    got = jensen_shannon(a, e)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)
    assert 0.0 <= got <= 1.0


def test_jensen_shannon_extremes() -> None:
    f = np.array([0.25, 0.25, 0.5])
    assert jensen_shannon(f, f) == 0.0
    a, e = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    expected = jensenshannon(np.maximum(a, 1e-4), np.maximum(e, 1e-4), base=2)
    np.testing.assert_allclose(jensen_shannon(a, e), expected, rtol=1e-9)
    assert jensen_shannon(a, e) > 0.99  # nearly disjoint: close to the maximum 1


# ---------------------------------------------------------------------------------------
# PSI bins in a built baseline and score_numeric end to end
# ---------------------------------------------------------------------------------------

DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def _training_columns(n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    with_bad = rng.normal(size=n)
    with_bad[rng.random(n) < 0.05] = np.nan
    with_bad[rng.random(n) < 0.01] = np.inf
    with_bad[rng.random(n) < 0.01] = -np.inf
    zeros = rng.exponential(size=n)
    zeros[rng.random(n) < 0.85] = 0.0
    return {
        "normal": rng.normal(5, 2, n),
        "lognormal": rng.lognormal(0, 1.5, n),
        "few_integers": rng.integers(0, 4, n).astype(float),  # duplicate quantiles
        "mostly_zero": zeros,  # 0 is the 10 %..80 % quantile: one edge remains
        "with_nan_inf": with_bad,
        "constant": np.full(n, 7.0),
    }


@pytest.fixture(scope="module")
def training_frame() -> pd.DataFrame:
    return pd.DataFrame(_training_columns(20_000))


@pytest.mark.parametrize(
    "column", ["normal", "lognormal", "few_integers", "mostly_zero", "with_nan_inf", "constant"]
)
def test_baseline_psi_edges_are_deduplicated_deciles_of_the_full_column(
    training_frame: pd.DataFrame, column: str
) -> None:
    baseline = build_baseline(training_frame, "m", version="1", sample_size=1000)
    profile = numeric(baseline.column(column))
    col = training_frame[column].to_numpy()
    finite = col[np.isfinite(col)]
    expected_edges = np.unique(np.quantile(finite, DECILES))
    np.testing.assert_array_equal(profile.inner_edges, expected_edges)
    np.testing.assert_array_equal(
        profile.expected_fractions, reference_bin_fractions(finite, expected_edges)
    )
    if column in ("few_integers", "mostly_zero", "constant"):
        assert profile.inner_edges.shape[0] < 9  # duplicates were removed


def test_baseline_bins_parameter_sets_the_quantile_grid(training_frame: pd.DataFrame) -> None:
    baseline = build_baseline(training_frame, "m", version="1", bins=4, sample_size=1000)
    col = training_frame["normal"].to_numpy()
    profile = numeric(baseline.column("normal"))
    np.testing.assert_array_equal(profile.inner_edges, np.quantile(col, [0.25, 0.5, 0.75]))
    np.testing.assert_array_equal(
        profile.expected_fractions, reference_bin_fractions(col, profile.inner_edges)
    )


@pytest.mark.parametrize(("shift", "n_w"), [(0.0, 800), (0.4, 800), (1.5, 50), (0.0, 12_000)])
def test_score_numeric_matches_scipy_and_references(
    training_frame: pd.DataFrame, shift: float, n_w: int
) -> None:
    baseline = build_baseline(training_frame, "m", version="1", sample_size=5_000)
    profile = numeric(baseline.column("normal"))
    prep = baseline.prepared()["normal"]
    assert isinstance(prep, PreparedNumeric)
    rng = np.random.default_rng(int(shift * 10) + n_w)
    w = rng.normal(5 + shift * 2, 2, n_w)
    ref = profile.reference_sample

    s = score_numeric(w, prep)
    assert s is not None
    assert s.n == n_w
    expected_ks = stats.ks_2samp(w, ref, method="auto")
    assert s.ks_statistic == float(expected_ks.statistic)
    assert s.ks_p_value == float(expected_ks.pvalue)
    np.testing.assert_allclose(
        s.wasserstein, stats.wasserstein_distance(w, ref) / profile.std, rtol=1e-9
    )
    actual = reference_bin_fractions(w, profile.inner_edges)
    assert s.psi == pytest.approx(direct_psi(actual, profile.expected_fractions), rel=1e-12)
    np.testing.assert_allclose(
        s.jensen_shannon,
        jensenshannon(
            np.maximum(actual, 1e-4), np.maximum(profile.expected_fractions, 1e-4), base=2
        ),
        rtol=1e-9,
    )


def test_score_numeric_constant_baseline_uses_the_raw_wasserstein_distance(
    training_frame: pd.DataFrame,
) -> None:
    baseline = build_baseline(training_frame, "m", version="1", sample_size=1000)
    prep = baseline.prepared()["constant"]
    assert isinstance(prep, PreparedNumeric)
    assert prep.std == 0.0
    w = np.array([7.0, 7.0, 9.0, 10.0])
    s = score_numeric(w, prep)
    assert s is not None
    np.testing.assert_allclose(
        s.wasserstein, stats.wasserstein_distance(w, prep.ref_sorted), rtol=1e-9
    )
    assert s.wasserstein > 0


def test_score_numeric_of_an_empty_window_is_none(training_frame: pd.DataFrame) -> None:
    baseline = build_baseline(training_frame, "m", version="1", sample_size=1000)
    prep = baseline.prepared()["normal"]
    assert isinstance(prep, PreparedNumeric)
    assert score_numeric(np.empty(0), prep) is None
