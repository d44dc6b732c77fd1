"""Performance metrics equal scikit-learn's on the same pairs (1e-9), over seeded cases."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn import metrics as skm

from drift_monitor.stats.performance import (
    binary_metrics,
    binary_roc_auc,
    multiclass_metrics,
    regression_metrics,
    shortfall,
)

TOL = 1e-9


def _close(ours: float, theirs: float) -> None:
    assert math.isclose(ours, float(theirs), rel_tol=TOL, abs_tol=TOL), (ours, theirs)


def _binary_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(len(name) * 7919)
    n = 500
    if name == "balanced":
        y = rng.integers(0, 2, n)
        s = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    elif name == "imbalanced":
        y = (rng.uniform(size=n) < 0.03).astype(int)
        s = np.clip(0.2 * y + rng.beta(2, 5, n), 0, 1)
    elif name == "ties":
        y = rng.integers(0, 2, n)
        s = np.round(rng.uniform(size=n) * 0.5 + 0.4 * y, 1).astype(np.float64)  # ~10 scores
    elif name == "extreme_probabilities":
        y = rng.integers(0, 2, n)
        s = rng.choice([0.0, 1.0, 0.5, 1e-20, 1 - 1e-17], size=n)
    elif name == "all_predicted_negative":
        y = rng.integers(0, 2, n)
        s = rng.uniform(0, 0.4, n)
    elif name == "tiny":
        y = np.array([1, 0, 1])
        s = np.array([0.9, 0.9, 0.1])
    else:
        raise AssertionError(name)
    return y, s


BINARY_CASES = [
    "balanced",
    "imbalanced",
    "ties",
    "extreme_probabilities",
    "all_predicted_negative",
    "tiny",
]


@pytest.mark.parametrize("case", BINARY_CASES)
def test_binary_equals_sklearn(case: str) -> None:
    y, s = _binary_case(case)
    got = binary_metrics(y, s)
    pred = (s >= 0.5).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division warnings: we assert the value
        _close(got.get("accuracy"), skm.accuracy_score(y, pred))
        _close(got.get("precision"), skm.precision_score(y, pred, zero_division=0))
        _close(got.get("recall"), skm.recall_score(y, pred, zero_division=0))
        _close(got.get("f1"), skm.f1_score(y, pred, zero_division=0))
        _close(got.get("roc_auc"), skm.roc_auc_score(y, s))
        _close(got.get("log_loss"), skm.log_loss(y, s, labels=[0, 1]))
        _close(got.get("brier"), skm.brier_score_loss(y, s, pos_label=1))
    assert got.count == y.shape[0]


def test_binary_one_class_present() -> None:
    y = np.zeros(50, dtype=int)
    s = np.linspace(0, 1, 50)
    got = binary_metrics(y, s)
    assert math.isnan(got.get("roc_auc"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # scikit-learn >= 1.6 returns NaN with a warning (older versions raise).
        assert math.isnan(skm.roc_auc_score(y, s))
    pred = (s >= 0.5).astype(int)
    _close(got.get("precision"), skm.precision_score(y, pred, zero_division=0))
    _close(got.get("recall"), skm.recall_score(y, pred, zero_division=0))
    _close(got.get("f1"), skm.f1_score(y, pred, zero_division=0))
    _close(got.get("log_loss"), skm.log_loss(y, s, labels=[0, 1]))
    _close(got.get("brier"), skm.brier_score_loss(y, s, pos_label=1))


def test_binary_probabilities_at_zero_and_one_are_finite() -> None:
    got = binary_metrics([1, 0], [0.0, 1.0])
    assert math.isclose(got.get("log_loss"), -math.log(np.finfo(float).eps), rel_tol=1e-12)
    _close(got.get("log_loss"), skm.log_loss([1, 0], [0.0, 1.0]))


def test_empty_and_non_finite() -> None:
    for perf in (
        binary_metrics([], []),
        multiclass_metrics(np.zeros(0, int), np.zeros((0, 3))),
        regression_metrics([], []),
    ):
        assert perf.count == 0
        assert all(math.isnan(v) for v in perf.values.values())
    got = binary_metrics([1, 0, 1, np.nan], [0.8, 0.2, np.nan, 0.5])
    assert got.count == 2
    with pytest.raises(ValueError, match="0 or 1"):
        binary_metrics([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="differ"):
        binary_metrics([1, 0], [0.1])


def _multiclass_case(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(len(name) * 104729)
    n, k = 600, 4
    y = rng.integers(0, k, n)
    if name == "missing_class":
        y = np.where(y == 2, 0, y)  # class 2 never occurs in the labels
    if name == "imbalanced":
        y = rng.choice(k, size=n, p=[0.85, 0.1, 0.04, 0.01])
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    if name == "ties":
        logits = np.round(logits)  # tied scores within a class column
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    return y, p


@pytest.mark.parametrize("case", ["random", "missing_class", "imbalanced", "ties"])
def test_multiclass_equals_sklearn(case: str) -> None:
    y, p = _multiclass_case(case)
    got = multiclass_metrics(y, p)
    pred = np.argmax(p, axis=1)
    k = p.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _close(got.get("accuracy"), skm.accuracy_score(y, pred))
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            _close(got.get(name), fn(y, pred, average="macro", zero_division=0))
        _close(got.get("log_loss"), skm.log_loss(y, p, labels=list(range(k))))
        _close(got.get("brier"), skm.brier_score_loss(y, p, labels=list(range(k))))
    present = np.unique(y)
    if present.shape[0] == k:
        _close(got.get("roc_auc"), skm.roc_auc_score(y, p, multi_class="ovr", average="macro"))
    else:
        # Documented deviation: macro over the classes present (sklearn gives NaN).
        ovr = [skm.roc_auc_score(y == c, p[:, c]) for c in present]
        _close(got.get("roc_auc"), float(np.mean(ovr)))
    assert got.classes == present.shape[0]


def test_multiclass_hard_predictions_only() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 200)
    pred = np.where(rng.uniform(size=200) < 0.7, y, rng.integers(0, 3, 200))
    got = multiclass_metrics(y, predicted=pred, n_classes=3)
    _close(got.get("f1"), skm.f1_score(y, pred, average="macro"))
    assert math.isnan(got.get("roc_auc")) and math.isnan(got.get("log_loss"))


def test_multiclass_single_class_present_auc_nan() -> None:
    y = np.zeros(10, dtype=int)
    p = np.full((10, 3), 1 / 3)
    assert math.isnan(multiclass_metrics(y, p).get("roc_auc"))


@pytest.mark.parametrize("case", ["normal", "zeros_in_labels", "heavy_tail"])
def test_regression_equals_sklearn(case: str) -> None:
    rng = np.random.default_rng(len(case))
    y = rng.normal(10, 3, 400)
    if case == "zeros_in_labels":
        y[::17] = 0.0
    if case == "heavy_tail":
        y = rng.standard_t(2, 400) * 100
    p = y + rng.normal(0, 1, 400)
    got = regression_metrics(y, p)
    _close(got.get("mae"), skm.mean_absolute_error(y, p))
    _close(got.get("rmse"), skm.root_mean_squared_error(y, p))
    _close(got.get("mape"), skm.mean_absolute_percentage_error(y, p))


def test_auc_matches_rank_formula_with_ties() -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 1000).astype(float)
    s = rng.integers(0, 5, 1000).astype(float)
    r = rankdata(s)
    pos = y.sum()
    mw = (r[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (len(y) - pos))
    _close(binary_roc_auc(y, s), mw)


def test_shortfall_direction() -> None:
    assert shortfall("roc_auc", 0.80, 0.85) == pytest.approx(0.05)
    assert shortfall("log_loss", 0.50, 0.40) == pytest.approx(0.10)
    assert shortfall("mae", 1.0, 2.0) == pytest.approx(-1.0)
