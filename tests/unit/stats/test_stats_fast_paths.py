"""The per-window fast paths against scipy and against the direct computations.

Wasserstein from the reference's prefix sums sums in another order than scipy: it is
held to 1e-9 relative (what SPEC-level equality means for it), to exactly 0 for equal
samples, and checked on data far from zero, where prefix sums lose digits unless
centred. PSI-bin fractions of a sorted window and the distinct-value counts are the
same integers as the direct way, so they are compared with ``==``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from drift_monitor.stats import PreparedNumeric, bin_fractions, wasserstein_sorted
from drift_monitor.stats.numeric import bin_fractions_sorted
from drift_monitor.stats.prepared import distinct_sorted
from drift_monitor.stats.registry import drift_test
from drift_monitor.stats.score import NumericWindow
from tests.unit.stats.test_stats_numeric import KINDS, make_samples

RTOL = 1e-9


def prepared_of(ref: np.ndarray, std: float) -> PreparedNumeric:
    edges = np.unique(np.quantile(ref, [0.25, 0.5, 0.75]))
    return PreparedNumeric.build(ref, edges, bin_fractions(ref, edges), std)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n_w", "n_ref"), [(2, 9), (1_000, 1_000), (100_000, 100_000)])
def test_prefix_sum_wasserstein_equals_scipy(kind: str, n_w: int, n_ref: int) -> None:
    nw = n_ref if kind == "identical" else n_w
    w, ref = make_samples(kind, nw, n_ref, seed=n_w + 11)
    expected = float(stats.wasserstein_distance(w, ref))
    prep = prepared_of(ref, 0.0)
    got = drift_test("wasserstein").numeric(prep, NumericWindow.of(w))  # type: ignore[misc]
    direct = wasserstein_sorted(np.sort(w), np.sort(ref), 0.0)
    if expected == 0.0:
        assert got.statistic == 0.0 and direct == 0.0
        return
    assert got.statistic == direct  # the prepared prefix sums are the same floats
    np.testing.assert_allclose(got.statistic, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("location", [0.0, 1e3, 1e6, 1.7e9])
@pytest.mark.parametrize("shift", [0.0, 0.01, 1.0])
def test_prefix_sums_keep_precision_far_from_zero(location: float, shift: float) -> None:
    rng = np.random.default_rng(int(location) % 1000 + int(shift * 100))
    ref = rng.normal(location, 10.0, 100_000)
    w = rng.normal(location + shift * 10.0, 10.0, 100_000)
    got = wasserstein_sorted(np.sort(w), np.sort(ref), 10.0)
    expected = float(stats.wasserstein_distance(w, ref)) / 10.0
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=0)


@pytest.mark.parametrize("seed", range(30))
def test_sorted_bin_fractions_and_distinct_counts_are_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = np.arange(-3.0, 3.5, 0.5)
    values = np.sort(rng.choice(grid, size=int(rng.integers(1, 500))))
    edges = np.unique(rng.choice(grid, size=int(rng.integers(1, 8))))
    assert bin_fractions_sorted(values, edges).tolist() == bin_fractions(values, edges).tolist()
    uniq, at_most = distinct_sorted(values)
    want_u, want_c = np.unique(values, return_counts=True)
    assert uniq.tolist() == want_u.tolist()
    assert at_most.tolist() == np.cumsum(want_c).tolist()


@pytest.mark.parametrize("decimals", [0, 1, None])
@pytest.mark.parametrize("seed", range(4))
def test_reference_ranks_equal_two_searchsorted(decimals: int | None, seed: int) -> None:
    # PreparedNumeric.ranks: one search into the reference's distinct values (when they
    # are few: whole numbers, one decimal) or the two searches (raw floats); the counts
    # are the same integers either way, below the reference, above it and on its values.
    rng = np.random.default_rng(seed)
    ref = rng.lognormal(3.0, 1.0, 20_000)
    window = np.concatenate([rng.lognormal(3.2, 1.1, 3_000), [-5.0, 0.0, 1e6], ref[:50]])
    if decimals is not None:
        ref, window = np.round(ref, decimals), np.round(window, decimals)
    prepared = prepared_of(ref, float(np.std(ref)))
    assert bool(prepared.ref_distinct.shape[0]) == (decimals is not None)
    uniq = np.unique(window)
    below, upto = prepared.ranks(uniq)
    s = prepared.ref_sorted
    assert np.array_equal(below, np.searchsorted(s, uniq, side="left"))
    assert np.array_equal(upto, np.searchsorted(s, uniq, side="right"))
