"""Batch extraction: one model's events -> numeric and code matrices, in layout order.

The columnar twin of :meth:`~drift_monitor.windows.layout.ModelLayout.extract`: a
column is taken from every event at once and checked by the set of its value types;
only a column holding an unusual type (a bool in a numeric column, a number in a
categorical one) is looked at value by value. An event with a value ``extract`` would
reject is marked not ok, for the per-event path to reject with the exact reason; its
row is then garbage. Values and codes of ok rows equal ``extract``'s.
"""

from __future__ import annotations

import math
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from drift_monitor.stats.categorical import category_key
from drift_monitor.windows.layout import MISSING_CODE, CategoricalSlot, ModelLayout

_NONE = type(None)
_NUMERIC_TYPES: frozenset[type] = frozenset({float, int, _NONE})
_STRING_TYPES: frozenset[type] = frozenset({str, _NONE})


class ColumnExtractor:
    """Extracts the columns of ``layout`` from batches of events (built once per layout)."""

    def __init__(self, layout: ModelLayout) -> None:
        self.layout = layout
        # category -> code, and a missing value -> MISSING_CODE, in one lookup.
        self._lookups: list[dict[Any, int]] = [
            {**slot.index, None: MISSING_CODE} for slot in layout.categorical
        ]

    def extract(
        self, features: list[dict[str, Any]], predictions: list[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
        """(numeric values (events x numeric columns, NaN = missing), codes (events x
        categorical columns, -1 = missing), ok) of events given as their features
        objects and raw predictions."""
        lay = self.layout
        n = len(features)
        ok, nums, codes, with_pred = empty_columns(lay, n, predictions)
        done_num = self._plain_rows(lay.numeric, features, with_pred, _NUMERIC_TYPES)
        if done_num is not None:
            where, rows = done_num
            nums[:, where] = np.array(rows, dtype=np.float64).reshape(n, len(where))
        done_cat = self._plain_rows(
            [c.name for c in lay.categorical], features, with_pred, _STRING_TYPES
        )
        if done_cat is not None:
            where, rows = done_cat
            for j, values in zip(where, zip(*rows, strict=True), strict=True):
                slot = lay.categorical[j]
                codes[:, j] = list(map(self._lookups[j].get, values, repeat(slot.fallback, n)))
        for j, name in enumerate(lay.numeric):
            if done_num is not None and j in done_num[0]:
                continue
            col = self._column(name, features, predictions, with_pred)
            nums[:, j] = numeric_column(col, ok)
        for j, slot in enumerate(lay.categorical):
            if done_cat is not None and j in done_cat[0]:
                continue
            col = self._column(slot.name, features, predictions, with_pred)
            codes[:, j] = category_codes(slot, self._lookups[j], col, ok)
        return nums, codes, ok

    def _plain_rows(
        self,
        names: tuple[str, ...] | list[str],
        features: list[dict[str, Any]],
        with_pred: bool,
        types: frozenset[type],
    ) -> tuple[list[int], list[tuple[Any, ...]]] | None:
        """(column indexes, one tuple per event) of the columns ``names`` that come
        from the features object alone, when every event has all of them and every
        value's type is in ``types`` (one ``itemgetter`` per event: the common case);
        None otherwise (then each column is taken on its own)."""
        pcols = self.layout.prediction_columns if with_pred else frozenset()
        where = [j for j, name in enumerate(names) if name not in pcols]
        if len(where) < 2:
            return None
        get = itemgetter(*(names[j] for j in where))
        try:
            rows = list(map(get, features))
        except KeyError:
            return None
        if not set(map(type, chain.from_iterable(rows))) <= types:
            return None
        return where, rows

    def _column(
        self, name: str, features: list[dict[str, Any]], predictions: list[Any], with_pred: bool
    ) -> list[Any]:
        """Column ``name`` of every event, the prediction merged in as
        :meth:`ModelLayout.values_of` does."""
        col = list(map(dict.get, features, repeat(name, len(features))))
        if not with_pred or name not in self.layout.prediction_columns:
            return col
        return merge_prediction(self.layout, name, col, predictions)


def empty_columns(
    layout: ModelLayout, n: int, predictions: list[Any]
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64], npt.NDArray[np.int32], bool]:
    """What an extractor fills for ``n`` events of ``layout``: (ok, all True; numeric
    values, events x numeric columns; codes, events x categorical columns; whether any
    of the raw ``predictions`` is merged into prediction columns)."""
    ok = np.ones(n, dtype=np.bool_)
    nums = np.empty((n, len(layout.numeric)), dtype=np.float64)
    codes = np.empty((n, len(layout.categorical)), dtype=np.int32)
    with_pred = bool(layout.prediction_columns) and predictions.count(None) != n
    return ok, nums, codes, with_pred


def merge_prediction(
    layout: ModelLayout, name: str, col: list[Any], predictions: list[Any]
) -> list[Any]:
    """Column ``name`` (``col``: its feature values, one per event; None = absent) with
    the raw predictions merged in as :meth:`ModelLayout.values_of` does: an object
    prediction's key ``name``, else a scalar prediction for the single prediction
    column; a new list."""
    single = name == layout.prediction_column
    if single and dict not in set(map(type, predictions)):  # the common case: scores
        if predictions.count(None) == 0:
            return list(predictions)
        return [v if p is None else p for v, p in zip(col, predictions, strict=True)]
    out: list[Any] = []
    for v, p in zip(col, predictions, strict=True):
        if p is None:
            out.append(v)
        elif isinstance(p, dict):
            out.append(p.get(name, v))
        elif single:
            out.append(p)
        else:
            out.append(v)
    return out


def numeric_column(col: list[Any], ok: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """The float values of one numeric column's raw values (NaN = missing); ``ok`` set
    False where ``extract`` would reject the value (a bool, a string... or infinity)."""
    if not set(map(type, col)) <= _NUMERIC_TYPES:
        good = [type(v) is float or type(v) is int or v is None for v in col]
        ok &= good
        col = [v if g else None for v, g in zip(col, good, strict=True)]
    arr = np.array(col, dtype=np.float64)
    inf = np.isinf(arr)
    if inf.any():  # not from orjson, but a caller may hand in any object
        ok &= ~inf
    return arr


def category_codes(
    slot: CategoricalSlot, lookup: dict[Any, int], col: list[Any], ok: npt.NDArray[np.bool_]
) -> list[int]:
    """Codes of one categorical column's raw values (``lookup``: ``slot.index`` with
    None -> MISSING_CODE); ``ok`` set False where ``extract`` would reject the value."""
    if set(map(type, col)) <= _STRING_TYPES:
        return list(map(lookup.get, col, repeat(slot.fallback, len(col))))
    return _codes_one_by_one(slot, col, ok)


def _codes_one_by_one(
    slot: CategoricalSlot, col: list[Any], ok: npt.NDArray[np.bool_]
) -> list[int]:
    """Codes of a column with numbers, bools or worse in it (``extract``'s rules)."""
    out: list[int] = []
    for i, v in enumerate(col):
        if v is None:
            out.append(MISSING_CODE)
            continue
        if isinstance(v, dict | list) or (isinstance(v, float) and not math.isfinite(v)):
            ok[i] = False
            out.append(MISSING_CODE)
            continue
        key = v if type(v) is str else category_key(v)
        out.append(slot.index.get(key, slot.fallback) if key is not None else MISSING_CODE)
    return out
