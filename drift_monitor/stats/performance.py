"""Model performance metrics: pure, vectorised functions of (label, prediction) arrays.

Three tasks, each a function returning a :class:`Performance`:

- :func:`binary_metrics`: labels in {0, 1}, the predicted probability of class 1;
  the predicted class is ``score >= threshold`` (default 0.5).
- :func:`multiclass_metrics`: labels as class codes ``0..K-1``, a probability matrix
  (n, K) (predicted class = first arg-max) and/or hard predicted codes.
- :func:`regression_metrics`: numeric labels and predictions.

Values equal scikit-learn's on the same pairs (tests/unit/test_performance.py, 1e-9),
with these documented choices where scikit-learn raises or warns instead:

- No pairs: every metric is NaN (scikit-learn raises).
- Precision, recall, F1 with a zero denominator are 0.0 (scikit-learn's
  ``zero_division="warn"`` result, without the warning).
- ROC AUC needs both classes among the labels: NaN otherwise (as scikit-learn >= 1.6,
  which also warns). Multiclass ROC AUC is the one-vs-rest macro average over the
  classes *present* in the labels; deviation: scikit-learn gives NaN (or raises) when a
  column of the probability matrix has no label in the window, which would blank the
  metric of every small window of a many-class model. With every class present the two
  agree; NaN when fewer than two classes are present.
- Multiclass precision / recall / F1 are macro averages over the classes present in the
  labels or the predictions (scikit-learn's default ``labels=None``): a class absent from
  a window neither helps nor hurts it.
- Log loss clips probabilities to [eps, 1 − eps] (eps = float64 machine epsilon) and
  renormalises rows, as scikit-learn does, so a probability of exactly 0 or 1 on the
  wrong class costs −ln(eps) ≈ 36.04, never inf.
- Brier score: binary is mean((p − y)²); multiclass is the mean over rows of
  Σ_k (p_k − [y = k])² (scikit-learn's ``scale_by_half="auto"``).
- MAPE divides by max(|y|, eps) as scikit-learn does: a zero label gives a huge but
  finite term.
- Pairs where the label or a prediction is not finite are left out (``count`` says how
  many pairs were used).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Task = Literal["binary", "multiclass", "regression"]

EPS = float(np.finfo(np.float64).eps)

CLASSIFICATION_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
    "brier",
)
REGRESSION_METRICS = ("mae", "rmse", "mape")
#: Metrics where a larger value is a better model; every other metric is a loss.
HIGHER_IS_BETTER = frozenset({"accuracy", "precision", "recall", "f1", "roc_auc"})


def metric_names(task: Task) -> tuple[str, ...]:
    """The metrics computed for ``task``, in report order."""
    return REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS


@dataclass(frozen=True, slots=True)
class Performance:
    """Metrics of one set of (label, prediction) pairs.

    ``count``: pairs used; ``values``: metric name -> value (NaN when undefined, see the
    module docstring); ``classes``: classes present in the labels (classification).
    """

    task: Task
    count: int
    values: Mapping[str, float]
    classes: int = 0

    def get(self, metric: str) -> float:
        """The value of ``metric`` (NaN when it is not computed for this task)."""
        return float(self.values.get(metric, np.nan))


def _nan(task: Task) -> Performance:
    return Performance(task, 0, dict.fromkeys(metric_names(task), float("nan")))


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    """num / den, 0 where den == 0 (scikit-learn's zero_division result)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def binary_roc_auc(y: FloatArray, score: FloatArray) -> float:
    """Area under the ROC curve of ``score`` for labels ``y`` in {0, 1}.

    Ties in ``score`` are one threshold (a diagonal segment), as in scikit-learn's
    ``roc_curve``. NaN when ``y`` holds a single class or nothing.
    """
    pos = float(y.sum())
    neg = float(y.shape[0]) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(-score, kind="mergesort")
    s = score[order]
    ys = y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), ys.shape[0] - 1]
    tps = np.r_[0.0, np.cumsum(ys)[last]]
    fps = np.r_[0.0, (last + 1) - tps[1:]]
    # Trapezoids on counts (exact integers in float64), normalised once.
    area = float(np.sum(np.diff(fps) * (tps[1:] + tps[:-1])) / 2.0)
    return area / (pos * neg)


def _log_loss(codes: IntArray, proba: FloatArray) -> float:
    p = np.clip(proba, EPS, 1.0 - EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(codes.shape[0]), codes])))


def binary_metrics(
    labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float = 0.5
) -> Performance:
    """Binary classification metrics of ``scores`` (probability of class 1, in [0, 1])
    against ``labels`` (0/1 or bool). Precision, recall and F1 are of class 1 at
    ``score >= threshold``. Edge cases: see the module docstring."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.shape[0]}) and scores ({s.shape[0]}) differ in length")
    keep = np.isfinite(y) & np.isfinite(s)
    y, s = y[keep], s[keep]
    n = int(y.shape[0])
    if n == 0:
        return _nan("binary")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("binary labels must be 0 or 1")
    pred = (s >= threshold).astype(np.float64)
    tp = float(np.sum(pred * y))
    fp = float(np.sum(pred)) - tp
    fn = float(np.sum(y)) - tp
    counts = _ratio(np.array([tp, tp, 2 * tp]), np.array([tp + fp, tp + fn, 2 * tp + fp + fn]))
    both = np.column_stack([1.0 - s, s])
    values = {
        "accuracy": float(np.mean(pred == y)),
        "precision": float(counts[0]),
        "recall": float(counts[1]),
        "f1": float(counts[2]),
        "roc_auc": binary_roc_auc(y, s),
        "log_loss": _log_loss(y.astype(np.int64), both),
        "brier": float(np.mean((s - y) ** 2)),
    }
    return Performance("binary", n, values, classes=int(np.unique(y).shape[0]))


def multiclass_metrics(
    labels: npt.ArrayLike,
    proba: npt.ArrayLike | None = None,
    *,
    predicted: npt.ArrayLike | None = None,
    n_classes: int | None = None,
) -> Performance:
    """Multiclass metrics of class codes ``labels`` (ints ``0..K-1``).

    ``proba``: an (n, K) matrix of class probabilities (rows summing to 1); the predicted
    class is its first arg-max unless ``predicted`` (hard codes) is given. Without
    ``proba``, ROC AUC, log loss and Brier are NaN. ``n_classes`` (K) defaults to the
    matrix width, else to the largest code + 1. Macro averages: see the module docstring.
    """
    y = np.asarray(labels, dtype=np.int64).ravel()
    p = None if proba is None else np.asarray(proba, dtype=np.float64)
    if p is not None and (p.ndim != 2 or p.shape[0] != y.shape[0]):
        raise ValueError(f"proba must be ({y.shape[0]}, K), got {p.shape}")
    if predicted is not None:
        pred = np.asarray(predicted, dtype=np.int64).ravel()
    elif p is not None:
        pred = np.argmax(p, axis=1) if p.shape[1] else np.zeros(0, dtype=np.int64)
    else:
        raise ValueError("multiclass_metrics needs proba or predicted")
    if pred.shape != y.shape:
        raise ValueError(f"labels ({y.shape[0]}) and predictions ({pred.shape[0]}) differ")
    if p is not None:
        keep = np.all(np.isfinite(p), axis=1)
        y, pred, p = y[keep], pred[keep], p[keep]
    n = int(y.shape[0])
    if n == 0:
        return _nan("multiclass")
    k = n_classes or (p.shape[1] if p is not None else int(max(y.max(), pred.max())) + 1)
    if y.min() < 0 or y.max() >= k or pred.min() < 0 or pred.max() >= k:
        raise ValueError(f"class codes must be in 0..{k - 1}")
    true_n = np.bincount(y, minlength=k).astype(np.float64)
    pred_n = np.bincount(pred, minlength=k).astype(np.float64)
    tp = np.bincount(y[y == pred], minlength=k).astype(np.float64)
    seen = (true_n + pred_n) > 0
    values = {
        "accuracy": float(tp.sum() / n),
        "precision": float(np.mean(_ratio(tp, pred_n)[seen])),
        "recall": float(np.mean(_ratio(tp, true_n)[seen])),
        "f1": float(np.mean(_ratio(2 * tp, true_n + pred_n)[seen])),
        "roc_auc": float("nan"),
        "log_loss": float("nan"),
        "brier": float("nan"),
    }
    if p is not None:
        onehot = np.zeros_like(p)
        onehot[np.arange(n), y] = 1.0
        present = np.flatnonzero(true_n > 0)
        if present.shape[0] >= 2:
            aucs = [binary_roc_auc(onehot[:, c], p[:, c]) for c in present]
            values["roc_auc"] = float(np.mean(aucs))
        values["log_loss"] = _log_loss(y, p)
        values["brier"] = float(np.mean(np.sum((p - onehot) ** 2, axis=1)))
    return Performance("multiclass", n, values, classes=int((true_n > 0).sum()))


def regression_metrics(labels: npt.ArrayLike, predictions: npt.ArrayLike) -> Performance:
    """MAE, RMSE and MAPE (a fraction, not a percentage) of ``predictions`` against
    ``labels``, in the labels' units (MAPE unitless). Edge cases: module docstring."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(predictions, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.shape[0]}) and predictions ({p.shape[0]}) differ")
    keep = np.isfinite(y) & np.isfinite(p)
    y, p = y[keep], p[keep]
    if y.shape[0] == 0:
        return _nan("regression")
    err = np.abs(y - p)
    values = {
        "mae": float(np.mean(err)),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(err / np.maximum(np.abs(y), EPS))),
    }
    return Performance("regression", int(y.shape[0]), values)


def shortfall(metric: str, observed: float, baseline: float) -> float:
    """How much worse ``observed`` is than ``baseline`` (positive = worse), in the
    metric's units: ``baseline - observed`` for scores, ``observed - baseline`` for
    losses (see :data:`HIGHER_IS_BETTER`). NaN when either is NaN."""
    return baseline - observed if metric in HIGHER_IS_BETTER else observed - baseline
