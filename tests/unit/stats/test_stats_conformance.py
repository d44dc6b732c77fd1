"""Conformance suite: every registered drift test against its scipy oracle.

One parametrised suite over the registry (the river / alibi-detect template): each
test, for each column kind it scores, on seeded samples with ties, integers, a single
value, disjoint supports, unseen and vanished categories. A test added to the registry
without an oracle here fails :func:`test_every_registered_test_has_an_oracle`.

An oracle computes ``(statistic, p_value, effect)`` the direct way from the raw window
and reference samples (scipy where scipy has the test), never from our helpers, and
says how exact the comparison is: ``rtol == 0`` means bit for bit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from drift_monitor.stats import (
    REGISTRY,
    CategoryCounts,
    DriftTest,
    NumericWindow,
    PreparedCategorical,
    PreparedNumeric,
    Score,
    drift_test,
    encode_categories,
    tally_codes,
)
from drift_monitor.stats.registry import registered_names
from tests.unit.stats.test_stats_numeric import KINDS, make_samples

FLOOR = 1e-4
DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
Triple = tuple[float, float | None, float]


# ---------------------------------------------------------------------------------------
# inputs: a numeric case is (window, reference) as raw arrays; a categorical case is
# (window values, baseline categories, baseline fractions)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumericCase:
    window: np.ndarray
    reference: np.ndarray

    def prepared(self) -> PreparedNumeric:
        ref = self.reference
        edges = np.unique(np.quantile(ref, DECILES))
        bins = np.concatenate(([-np.inf], edges, [np.inf]))
        expected = np.histogram(ref, bins=bins)[0] / ref.shape[0]
        return PreparedNumeric.build(ref, edges, expected, float(np.std(ref)))

    def fractions(self) -> tuple[np.ndarray, np.ndarray]:
        """(window, reference) PSI-bin fractions, by numpy's histogram."""
        edges = np.unique(np.quantile(self.reference, DECILES))
        bins = np.concatenate(([-np.inf], edges, [np.inf]))
        w = np.histogram(self.window, bins=bins)[0] / self.window.shape[0]
        e = np.histogram(self.reference, bins=bins)[0] / self.reference.shape[0]
        return w, e


@dataclass(frozen=True)
class CategoricalCase:
    window: list[str | None]
    categories: list[str]
    fractions: np.ndarray

    def prepared(self) -> PreparedCategorical:
        return PreparedCategorical.build(self.categories, self.fractions)

    def observed(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(counts over categories + __unseen__, baseline fractions + 0, present n),
        counted value by value."""
        seen = Counter(v for v in self.window if v is not None)
        counts = [seen.get(c, 0) for c in self.categories]
        unseen = sum(n for v, n in seen.items() if v not in self.categories)
        return (
            np.array([*counts, unseen], dtype=float),
            np.append(self.fractions, 0.0),
            sum(counts) + unseen,
        )


# Sizes on both sides of KS's exact/asymptotic switch (10 000) and CvM's (20).
NUMERIC_SIZES = [(2, 3), (5, 17), (20, 20), (21, 40), (300, 1_000), (2_000, 12_000)]


def numeric_cases() -> list[Any]:
    out: list[Any] = []
    seed = 0
    for n_w, n_ref in NUMERIC_SIZES:
        for kind in KINDS:
            seed += 1
            nw, nr = (max(n_w, n_ref),) * 2 if kind == "identical" else (n_w, n_ref)
            w, ref = make_samples(kind, nw, nr, seed)
            out.append(pytest.param(NumericCase(w, ref), id=f"{kind}-{nw}x{nr}"))
    return out


def categorical_cases() -> list[Any]:
    rng = np.random.default_rng(7)
    cats = [f"c{i}" for i in range(8)]
    base = rng.dirichlet(np.full(8, 1.0))
    cases: dict[str, list[str | None]] = {
        "same": list(rng.choice(cats, 2_000, p=base)),
        "shifted": list(rng.choice(cats, 2_000, p=rng.dirichlet(np.full(8, 1.0)))),
        "unseen": [*rng.choice(cats, 950, p=base), *(["new-a"] * 30), *(["new-b"] * 20)],
        "vanished": [c for c in rng.choice(cats, 3_000, p=base) if c not in ("c0", "c3")],
        "one_category": ["c5"] * 400,
        "all_unseen": ["zzz"] * 150,
        "with_missing": [*rng.choice(cats, 500, p=base), *([None] * 80)],
        "tiny": ["c1", "c2", "c2"],
    }
    out: list[Any] = [
        pytest.param(CategoricalCase(v, cats, base), id=name) for name, v in cases.items()
    ]
    only: list[str | None] = [*(["only"] * 90), *(["x"] * 10)]
    single = CategoricalCase(only, ["only"], np.array([1.0]))
    out.append(pytest.param(single, id="single_baseline_category"))
    return out


# ---------------------------------------------------------------------------------------
# oracles: name -> kind -> (function of the case, rtol)
# ---------------------------------------------------------------------------------------


def _psi_direct(a: np.ndarray, e: np.ndarray) -> float:
    return math.fsum(
        (max(x, FLOOR) - max(y, FLOOR)) * math.log(max(x, FLOOR) / max(y, FLOOR))
        for x, y in zip(a.tolist(), e.tolist(), strict=True)
    )


def _js(a: np.ndarray, e: np.ndarray) -> float:
    return float(jensenshannon(np.maximum(a, FLOOR), np.maximum(e, FLOOR), base=2))


def ks_oracle(c: NumericCase) -> Triple:
    r = stats.ks_2samp(c.window, c.reference, method="auto")
    return float(r.statistic), float(r.pvalue), float(r.statistic)


def psi_numeric_oracle(c: NumericCase) -> Triple:
    v = _psi_direct(*c.fractions())
    return v, None, v


def js_numeric_oracle(c: NumericCase) -> Triple:
    v = _js(*c.fractions())
    return v, None, v


def wasserstein_oracle(c: NumericCase) -> Triple:
    raw = float(stats.wasserstein_distance(c.window, c.reference))
    std = float(np.std(c.reference))
    v = raw / std if std > 0 else raw
    return v, None, v


def cramervonmises_oracle(c: NumericCase) -> Triple:
    r = stats.cramervonmises_2samp(c.window, c.reference, method="auto")
    nx, ny = c.window.shape[0], c.reference.shape[0]
    t = float(r.statistic)
    return t, float(r.pvalue), t * (nx + ny) / (nx * ny)


def chi2_oracle(c: CategoricalCase) -> Triple:
    obs, _, n = c.observed()
    props = c.fractions
    if obs[-1] > 0:  # unseen values: an __unseen__ bucket floored at 1e-4, renormalised
        props = np.append(props, FLOOR)
        props = props / props.sum()
    else:
        obs = obs[:-1]
    if len(obs) < 2:
        return 0.0, 1.0, 0.0  # one category: nothing to compare (scipy: nan)
    r = stats.chisquare(obs, props * n)
    return float(r.statistic), float(r.pvalue), math.sqrt(float(r.statistic) / n)


def psi_categorical_oracle(c: CategoricalCase) -> Triple:
    obs, e, n = c.observed()
    v = _psi_direct(obs / n, e)
    return v, None, v


def js_categorical_oracle(c: CategoricalCase) -> Triple:
    obs, e, n = c.observed()
    v = _js(obs / n, e)
    return v, None, v


Oracle = Callable[[object], Triple]
#: test name -> column kind -> (oracle, rtol of the comparison; 0 = bit for bit)
ORACLES: dict[str, dict[str, tuple[Callable[..., Triple], float]]] = {
    "ks": {"numeric": (ks_oracle, 0.0)},
    "chi2": {"categorical": (chi2_oracle, 1e-12)},
    "psi": {"numeric": (psi_numeric_oracle, 1e-12), "categorical": (psi_categorical_oracle, 1e-12)},
    "wasserstein": {"numeric": (wasserstein_oracle, 1e-9)},
    "cramervonmises": {"numeric": (cramervonmises_oracle, 0.0)},
    "jensen_shannon": {
        "numeric": (js_numeric_oracle, 1e-9),
        "categorical": (js_categorical_oracle, 1e-9),
    },
}


def _pairs(kind: str) -> list[object]:
    return [pytest.param(t.name, id=t.name) for t in REGISTRY if t.supports(kind)]


def score_of(test: DriftTest, case: NumericCase | CategoricalCase) -> Score:
    if isinstance(case, NumericCase):
        assert test.numeric is not None
        return test.numeric(case.prepared(), NumericWindow.of(case.window))
    assert test.categorical is not None
    prep = case.prepared()
    counts, unseen = tally_codes(encode_categories(case.window, prep), len(prep.categories))
    return test.categorical(prep, CategoryCounts(counts, unseen))


def assert_conforms(test: DriftTest, kind: str, case: NumericCase | CategoricalCase) -> None:
    oracle, rtol = ORACLES[test.name][kind]
    want_stat, want_p, want_effect = oracle(case)
    got = score_of(test, case)
    assert isinstance(got.statistic, float)
    assert isinstance(got.effect, float)
    assert (got.p_value is None) == (not test.has_p_value)
    for name, mine, ref in (
        ("statistic", got.statistic, want_stat),
        ("effect", got.effect, want_effect),
        ("p_value", got.p_value, want_p),
    ):
        if ref is None:
            assert mine is None, name
            continue
        assert mine is not None, name
        assert math.isfinite(mine), (name, mine)
        if rtol == 0:
            assert mine == ref, (name, mine, ref)
        else:
            np.testing.assert_allclose(mine, ref, rtol=rtol, atol=1e-15, err_msg=name)
    if got.p_value is not None:
        assert 0.0 <= got.p_value <= 1.0


@pytest.mark.parametrize("case", numeric_cases())
@pytest.mark.parametrize("name", _pairs("numeric"))
def test_numeric_test_equals_its_oracle(name: str, case: NumericCase) -> None:
    assert_conforms(drift_test(name), "numeric", case)


@pytest.mark.parametrize("case", categorical_cases())
@pytest.mark.parametrize("name", _pairs("categorical"))
def test_categorical_test_equals_its_oracle(name: str, case: CategoricalCase) -> None:
    assert_conforms(drift_test(name), "categorical", case)


def test_every_registered_test_has_an_oracle() -> None:
    assert set(ORACLES) == set(registered_names())
    for t in REGISTRY:
        assert set(ORACLES[t.name]) == set(t.kinds), t.name


@pytest.mark.parametrize("name", registered_names())
def test_registry_entry_is_coherent(name: str) -> None:
    t = drift_test(name)
    assert t.statistic_metric.startswith("feature_")
    assert t.statistic_help
    if t.has_p_value:
        assert t.p_value_metric is not None
        assert t.p_value_metric.startswith("feature_")
        assert t.p_value_metric.endswith("_p_value")
    assert 0 <= t.levels.warning <= t.levels.alert
    assert t.label and t.html_label


def test_metric_families_are_distinct_across_tests() -> None:
    families: Sequence[str | None] = [
        f for t in REGISTRY for f in (t.statistic_metric, t.p_value_metric) if f
    ]
    assert len(families) == len(set(families))
