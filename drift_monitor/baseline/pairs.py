"""(label, prediction) pairs of a model, in the encoded form the metrics take.

One rule decides a model's task from its label and prediction columns (``infer_task``)
and is stored in the baseline, so the daemon and ``check`` use the build's decision:

- two or more prediction columns: ``multiclass``, one probability column per class; the
  class of a column is its name, or the part after its last ``_`` (``p_fraud`` ->
  ``fraud``); every label value must name one of them;
- one numeric prediction column with labels in {0, 1} (or bool) and predictions in
  [0, 1]: ``binary`` (the prediction is the probability of class 1);
- one numeric prediction column otherwise with numeric labels: ``regression``;
- one non-numeric prediction column (predicted class names): ``multiclass`` on hard
  predictions (ROC AUC, log loss and Brier are then undefined).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from drift_monitor.errors import InputError
from drift_monitor.stats.categorical import category_key
from drift_monitor.stats.performance import (
    Performance,
    Task,
    binary_metrics,
    multiclass_metrics,
    regression_metrics,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """How a model's outputs and labels are read: the task, the label column, the
    prediction columns, the class names (classification; for multiclass with
    probabilities, ``classes[k]`` is the class of ``predictions[k]``; for binary,
    ``("0", "1")``) and the decision threshold of binary scores."""

    task: Task
    label: str
    predictions: tuple[str, ...]
    classes: tuple[str, ...] = ()
    threshold: float = 0.5
    hard: bool = False


@dataclass(frozen=True, slots=True)
class Pairs:
    """Encoded pairs. ``y``: labels (0/1, class codes, or values); ``scores``: binary
    probabilities or regression predictions (1-D) or class probabilities (n, K);
    ``predicted``: hard class codes (multiclass without probabilities) or None."""

    spec: TaskSpec
    y: FloatArray
    scores: FloatArray
    predicted: IntArray | None = None

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def take(self, idx: npt.NDArray[np.intp]) -> Pairs:
        """The pairs at positions ``idx`` (a bootstrap resample or a window's subset)."""
        pred = None if self.predicted is None else self.predicted[idx]
        return Pairs(self.spec, self.y[idx], self.scores[idx], pred)

    def metrics(self) -> Performance:
        """The task's metrics of these pairs (:mod:`drift_monitor.stats.performance`)."""
        s = self.spec
        if s.task == "binary":
            return binary_metrics(self.y, self.scores, s.threshold)
        if s.task == "regression":
            return regression_metrics(self.y, self.scores)
        codes = self.y.astype(np.int64)
        if self.predicted is not None:
            return multiclass_metrics(codes, predicted=self.predicted, n_classes=len(s.classes))
        return multiclass_metrics(codes, self.scores, n_classes=len(s.classes))


def _class_of(column: str) -> str:
    return column.rsplit("_", 1)[-1] if "_" in column else column


def _keys(series: pd.Series) -> list[str | None]:
    return [category_key(v) for v in series.tolist()]


def infer_task(
    df: pd.DataFrame, label: str, predictions: Sequence[str], source: str = "input"
) -> TaskSpec:
    """Decide the task from the data (rule in the module docstring). Raises
    :class:`InputError` naming the column when the columns do not fit any task."""
    _require(df, label, predictions, source)
    lab = df[label].dropna()
    if len(lab) == 0:
        raise InputError(f"{source}: label column {label!r} has no values; nothing to score")
    preds = tuple(predictions)
    if len(preds) >= 2:
        classes = tuple(_class_of(c) for c in preds)
        if len(set(classes)) != len(classes):
            raise InputError(f"{source}: prediction columns {preds} name the same class twice")
        unknown = sorted({k for k in _keys(lab) if k is not None} - set(classes))
        if unknown:
            raise InputError(
                f"{source}: label value {unknown[0]!r} of column {label!r} has no probability "
                f"column (classes from --prediction: {', '.join(classes)}); name the columns "
                "<anything>_<class>"
            )
        return TaskSpec("multiclass", label, preds, classes)
    pred = df[preds[0]]
    if not pd.api.types.is_numeric_dtype(pred.dtype) or pd.api.types.is_bool_dtype(pred.dtype):
        classes = tuple(sorted({k for k in _keys(lab) + _keys(pred) if k is not None}))
        return TaskSpec("multiclass", label, preds, classes, hard=True)
    numeric_label = pd.api.types.is_numeric_dtype(lab.dtype)
    values = pd.to_numeric(lab, errors="coerce") if numeric_label else None
    p = pred.dropna()
    if values is not None and bool(values.isin([0, 1]).all()) and bool(p.between(0, 1).all()):
        return TaskSpec("binary", label, preds, ("0", "1"))
    if values is None:
        raise InputError(
            f"{source}: label column {label!r} is not numeric but prediction {preds[0]!r} "
            "is; for classification give one probability column per class (--prediction "
            "p_a,p_b) or predicted class names"
        )
    return TaskSpec("regression", label, preds)


def _require(df: pd.DataFrame, label: str, predictions: Sequence[str], source: str) -> None:
    if not predictions:
        raise InputError(f"label {label!r} needs the model output(s): pass --prediction COL")
    for name in (label, *predictions):
        if name not in df.columns:
            raise InputError(
                f"{source}: column {name!r} is missing "
                f"(columns: {', '.join(map(str, df.columns[:20]))})"
            )


def pairs_from_frame(df: pd.DataFrame, spec: TaskSpec, source: str = "input") -> Pairs:
    """The labelled rows of ``df`` encoded for ``spec`` (rows whose label is missing are
    left out). Raises :class:`InputError` naming the column for values that do not fit."""
    _require(df, spec.label, spec.predictions, source)
    labelled = df[df[spec.label].notna()]
    lab = labelled[spec.label]
    if spec.task in {"regression", "binary"}:
        y = _numeric(lab, spec.label, source)
        s = _numeric(labelled[spec.predictions[0]], spec.predictions[0], source)
        if spec.task == "binary" and not bool(np.all((y == 0) | (y == 1))):
            raise InputError(f"{source}: label column {spec.label!r} must hold 0/1 (binary)")
        return Pairs(spec, y, s)
    index = {c: i for i, c in enumerate(spec.classes)}
    codes = np.array([index.get(k, -1) if k is not None else -1 for k in _keys(lab)])
    if np.any(codes < 0):
        bad = next(k for k, c in zip(_keys(lab), codes, strict=True) if c < 0)
        raise InputError(
            f"{source}: label {bad!r} of column {spec.label!r} is not a class of the "
            f"baseline ({', '.join(spec.classes)}); rebuild the baseline with it"
        )
    y = codes.astype(np.float64)
    if spec.hard:
        pk = _keys(labelled[spec.predictions[0]])
        pred = np.array([index.get(k, -1) if k is not None else -1 for k in pk])
        keep = pred >= 0  # a missing or unknown predicted class: not a scorable pair
        return Pairs(spec, y[keep], np.zeros(int(keep.sum())), pred[keep].astype(np.int64))
    proba = np.column_stack([_numeric(labelled[c], c, source) for c in spec.predictions])
    return Pairs(spec, y, proba)


def _numeric(series: pd.Series, name: str, source: str) -> FloatArray:
    try:
        values = pd.to_numeric(series, errors="raise")
    except (ValueError, TypeError):
        raise InputError(f"{source}: column {name!r} must be numeric for this task") from None
    return values.to_numpy(dtype=np.float64, na_value=np.nan)
