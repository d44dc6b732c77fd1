"""NullStack / EmptyCells (many columns at once) against the scalar NullTable and
rare_empty_mass, bit for bit: the calibrated decision must not change by vectorising."""

from __future__ import annotations

import numpy as np
import pytest

from drift_monitor.stats.calibration import (
    GRID,
    TAIL_PROBS,
    WASSERSTEIN_GRID,
    NullTable,
    fraction_nulls,
    rare_empty_mass,
    wasserstein_null,
)
from drift_monitor.stats.null_stack import EmptyCells, NullStack

#: Below, inside and above the size grids, on and between grid points.
SIZES = [1, 7, 50, 51, 100, 137, 500, 999, 1_000, 2_000, 3_000, 4_321, 10_000, 99_999, 10**5, 10**6]


def _tables(test: str) -> dict[str, NullTable]:
    rng = np.random.default_rng(3)
    out: dict[str, NullTable] = {}
    for j in range(6):
        if test == "wasserstein":
            ref = np.sort(rng.normal(0.0, 1.0 + j, 2_000 + 500 * j))
            out[f"c{j}"] = wasserstein_null(ref, float(ref.std()), f"c{j}")
        else:
            e = rng.dirichlet(np.full(4 + 3 * j, 0.7))
            # population 0 (no inflation) on one column: the other branch of the factor
            out[f"c{j}"] = fraction_nulls(e, 0.0 if j == 2 else 10_000.0 * (j + 1), f"c{j}")[test]
    return out


@pytest.mark.parametrize("test", ["psi", "jensen_shannon", "wasserstein"])
def test_stack_equals_scalar_tables_bit_for_bit(test: str) -> None:
    tables = _tables(test)
    stack = NullStack.build(test, tables)
    names = list(tables)
    rows = np.array([stack.index[c] for c in names for _ in SIZES], dtype=np.intp)
    ns = [n for _ in names for n in SIZES]
    q = stack.quantiles_at(rows, ns)
    for k, (r, n) in enumerate(zip(rows.tolist(), ns, strict=True)):
        expected = tables[names[r]].quantiles_at(n)
        assert q[k].tobytes() == expected.tobytes(), (names[r], n)
    # statistics: 0, below the median, between stored points, on one, beyond the last
    for scale in (0.0, 0.3, 0.999, 1.0, 1.7, 3.0, 10.0):
        stats = q[:, 5] * scale if scale != 1.0 else q[:, 7].copy()
        got = stack.p_values(rows, q, stats)
        for k, (r, n) in enumerate(zip(rows.tolist(), ns, strict=True)):
            want = tables[names[r]].p_value(float(stats[k]), n)
            assert got[k] == want, (names[r], n, scale, got[k], want)
    # levels: above the first stored probability, between, on one, below the last
    for level in (0.7, 0.5, 0.3, 0.05, 0.0123, TAIL_PROBS[-1], 4.1e-5, 1e-7):
        levels = [level] * rows.shape[0]
        got = stack.thresholds(rows, q, levels)
        for k, (r, n) in enumerate(zip(rows.tolist(), ns, strict=True)):
            want = tables[names[r]].threshold(level, n)
            assert got[k] == want, (names[r], n, level, got[k], want)


def test_stack_grid_matches_the_tables() -> None:
    assert NullStack.build("psi", _tables("psi")).logs.tobytes() == np.log(GRID).tobytes()
    w = NullStack.build("wasserstein", _tables("wasserstein"))
    assert w.logs.tobytes() == np.log(np.asarray(WASSERSTEIN_GRID, dtype=np.float64)).tobytes()


def test_empty_cells_equal_rare_empty_mass() -> None:
    rng = np.random.default_rng(5)
    fractions = {
        "ten": np.full(10, 0.1),
        "skewed": rng.dirichlet(np.full(12, 0.3)),
        "tiny": np.array([1 - 3e-5, 1e-5, 2e-5]),  # every cell but one under the floor
        "none": np.array([]),
        "one": np.array([1.0]),
    }
    cells = EmptyCells.build(fractions)
    for n in (1, 5, 30, 100, 101, 300, 2_000, 10**5):
        names = list(fractions)
        got = cells.masses([cells.index[c] for c in names], [n] * len(names))
        bounds = cells.bounds([cells.index[c] for c in names], [n] * len(names))
        for name, g, bound in zip(names, got, bounds, strict=True):
            assert g == rare_empty_mass(fractions[name], n), (name, n)
            assert bound >= g, (name, n, bound, g)  # the skip of the exact sum relies on it
