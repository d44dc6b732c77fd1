"""Encoding one event's outputs and label for the join (the baseline's :class:`TaskSpec`).

A decoded event carries ``prediction`` (a number, a class name, or an object of several
outputs keyed by the baseline's prediction columns) and ``label``. These functions turn
them into what :class:`drift_monitor.labels.store.JoinStore` keeps, or None when the
value does not fit the task (the caller counts it as an invalid label or prediction).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from drift_monitor.baseline.pairs import Pairs, TaskSpec
from drift_monitor.stats.categorical import category_key


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        x = float(value)
        return x if math.isfinite(x) else None
    return None


def encode_outputs(spec: TaskSpec, prediction: object) -> tuple[float, ...] | None:
    """The stored outputs of one prediction: ``(score,)`` (binary, in [0, 1]),
    ``(value,)`` (regression), ``(class code,)`` (hard multiclass) or the K class
    probabilities in the order of ``spec.classes`` (multiclass; from an object keyed
    by the prediction column names). None when the prediction does not fit."""
    if spec.task in ("binary", "regression"):
        if isinstance(prediction, Mapping):
            prediction = prediction.get(spec.predictions[0])
        x = _number(prediction)
        if x is None or (spec.task == "binary" and not 0.0 <= x <= 1.0):
            return None
        return (x,)
    if spec.hard:
        if isinstance(prediction, Mapping):
            prediction = prediction.get(spec.predictions[0])
        key = category_key(prediction)
        return (float(spec.classes.index(key)),) if key in spec.classes else None
    if not isinstance(prediction, Mapping):
        return None
    probs = [_number(prediction.get(c)) for c in spec.predictions]
    if any(p is None or p < 0.0 for p in probs):
        return None
    return tuple(float(p) for p in probs if p is not None)


def encode_outputs_many(
    spec: TaskSpec, predictions: Sequence[object]
) -> list[tuple[float, ...] | None]:
    """:func:`encode_outputs` of each prediction, in order. The common case (binary or
    regression, every prediction a float) is checked as one numpy array: finite, and in
    [0, 1] for binary; any other column goes value by value. Same results either way."""
    if spec.task in ("binary", "regression") and set(map(type, predictions)) == {float}:
        x = np.array(predictions, dtype=np.float64)
        good = np.isfinite(x)
        if spec.task == "binary":
            good &= (x >= 0.0) & (x <= 1.0)
        return [(v,) if g else None for v, g in zip(x.tolist(), good.tolist(), strict=True)]
    return [encode_outputs(spec, p) for p in predictions]


def encode_label(spec: TaskSpec, label: object) -> float | None:
    """The stored label: 0/1 (binary), the class code (multiclass), the value
    (regression); None for a missing label or one that is not a class of the baseline."""
    if label is None:
        return None
    if spec.task == "regression":
        return _number(label)
    if spec.task == "binary":
        x = _number(label)
        if x is None:
            key = category_key(label)
            x = float(key) if key in ("0", "1") else None
        return x if x in (0.0, 1.0) else None
    key = category_key(label)
    return float(spec.classes.index(key)) if key in spec.classes else None


def pairs_from_store(spec: TaskSpec, labels: np.ndarray, outputs: np.ndarray) -> Pairs:
    """Joined pairs as read from the store (:meth:`JoinStore.pairs`) as :class:`Pairs`."""
    y = np.asarray(labels, dtype=np.float64)
    if spec.task == "multiclass" and spec.hard:
        codes = outputs[:, 0].astype(np.int64) if outputs.size else np.zeros(0, np.int64)
        return Pairs(spec, y, np.zeros(y.shape[0]), codes)
    if spec.task == "multiclass":
        return Pairs(spec, y, np.asarray(outputs, dtype=np.float64))
    scores = outputs[:, 0] if outputs.size else np.zeros(0)
    return Pairs(spec, y, np.asarray(scores, dtype=np.float64))
