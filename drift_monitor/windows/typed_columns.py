"""Typed extraction: one model's features structs -> numeric and code matrices.

The twin of :class:`~drift_monitor.windows.columns.ColumnExtractor` for events decoded
by :class:`~drift_monitor.decode.typed.TypedBatchDecoder`: msgspec has already checked
the types of typed columns (numeric ``float | None``, categorical ``str | None``), so a
column that comes from the features alone is taken for every event at once with no
check at all (one ``attrgetter`` row per event -> one ``np.array``; codes by
``dict.get``). Only the prediction columns (the raw prediction merged in as
:meth:`~drift_monitor.windows.layout.ModelLayout.values_of` does) and untyped columns
(a name two models read with different kinds) go through the checked column code of
``ColumnExtractor``; an event with a value ``extract`` would reject is marked not ok,
for the per-event path. Values and codes of ok rows equal ``extract``'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from drift_monitor.decode.columnar import Envelopes
from drift_monitor.decode.typed import Kind, TypedSchema
from drift_monitor.windows.columns import (
    ColumnExtractor,
    category_codes,
    empty_columns,
    merge_prediction,
    numeric_column,
)
from drift_monitor.windows.layout import MISSING_CODE, ModelLayout


def schema_columns(layouts: Iterable[ModelLayout]) -> dict[str, Kind]:
    """Feature name -> kind over ``layouts`` (in first-seen order): ``any`` where two
    layouts read a name with different kinds."""
    out: dict[str, Kind] = {}
    for lay in layouts:
        named: list[tuple[str, Kind]] = [(n, "numeric") for n in lay.numeric]
        named += [(c.name, "categorical") for c in lay.categorical]
        for name, kind in named:
            if out.setdefault(name, kind) != kind:
                out[name] = "any"
    return out


def covers(columns: Mapping[str, Kind], layout: ModelLayout) -> bool:
    """True when every column of ``layout`` is in ``columns`` with its kind or ``any``."""
    return all(columns.get(n) in ("numeric", "any") for n in layout.numeric) and all(
        columns.get(c.name) in ("categorical", "any") for c in layout.categorical
    )


class StructExtractor:
    """Extracts the columns of ``layout`` from features structs of ``schema`` (built
    once per layout and schema; ``layout`` must be covered by the schema's columns)."""

    def __init__(self, layout: ModelLayout, schema: TypedSchema) -> None:
        assert covers(schema.columns, layout)
        self.layout = layout
        self.schema = schema
        self._lookups: list[dict[Any, int]] = [
            {**slot.index, None: MISSING_CODE} for slot in layout.categorical
        ]
        kinds, attr = schema.columns, schema.attr
        self._num = [
            (j, name, attr[name], kinds[name] == "numeric") for j, name in enumerate(layout.numeric)
        ]
        self._cat = [
            (j, slot.name, attr[slot.name], kinds[slot.name] == "categorical")
            for j, slot in enumerate(layout.categorical)
        ]

    def extract(
        self, features: list[Any], predictions: list[Any]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
        """(numeric values (events x numeric columns, NaN = missing), codes (events x
        categorical columns, -1 = missing), ok) of events given as their features
        structs and raw predictions (as ``ColumnExtractor.extract``)."""
        lay = self.layout
        n = len(features)
        ok, nums, codes, with_pred = empty_columns(lay, n, predictions)
        pcols = lay.prediction_columns if with_pred else frozenset()
        plain = [(j, a) for j, name, a, typed in self._num if typed and name not in pcols]
        if plain:
            where = [j for j, _ in plain]
            nums[:, where] = _floats(attrgetter(*(a for _, a in plain)), features, len(where))
        for j, name, a, typed in self._num:
            if typed and name not in pcols:
                continue
            col = self._column(name, a, features, predictions, pcols)
            nums[:, j] = numeric_column(col, ok)
        plain = [(j, a) for j, name, a, typed in self._cat if typed and name not in pcols]
        if plain:
            rows = list(map(attrgetter(*(a for _, a in plain)), features))
            cols = zip(*rows, strict=True) if len(plain) > 1 else (rows,)
            for (j, _), values in zip(plain, cols, strict=True):
                fallback = lay.categorical[j].fallback
                found = map(self._lookups[j].get, values, repeat(fallback, n))
                codes[:, j] = np.fromiter(found, np.int32, n)
        for j, name, a, typed in self._cat:
            if typed and name not in pcols:
                continue
            col = self._column(name, a, features, predictions, pcols)
            codes[:, j] = category_codes(lay.categorical[j], self._lookups[j], col, ok)
        return nums, codes, ok

    def _column(
        self,
        name: str,
        attr: str,
        features: list[Any],
        predictions: list[Any],
        pcols: frozenset[str],
    ) -> list[Any]:
        """Raw values of column ``name`` (attribute ``attr``), the prediction merged in."""
        col = list(map(attrgetter(attr), features))
        if name not in pcols:
            return col
        return merge_prediction(self.layout, name, col, predictions)


def _floats(get: attrgetter[Any], features: list[Any], k: int) -> npt.NDArray[np.float64]:
    """The (events x k) values ``get`` takes from each struct (None -> NaN)."""
    n = len(features)
    try:  # no None: one pass over the floats, without numpy's shape discovery
        rows = map(get, features)
        flat = chain.from_iterable(rows) if k > 1 else rows
        return np.fromiter(flat, np.float64, n * k).reshape(n, k)
    except TypeError:  # a missing value
        return np.array(list(map(get, features)), dtype=np.float64).reshape(n, k)


_Columns = tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.bool_]]


class Extractors:
    """Each model's extractors, for envelopes of a batch that are partly typed."""

    def __init__(self) -> None:
        self._plain: dict[str, ColumnExtractor] = {}
        self._typed: dict[str, StructExtractor] = {}

    def extract(
        self,
        model: str,
        layout: ModelLayout,
        env: Envelopes,
        rows: npt.NDArray[np.int64],
        schema: TypedSchema | None,
    ) -> _Columns:
        """(numeric values, codes, ok) of ``model``'s records ``rows`` of ``env``: the
        typed ones from their structs (decoded with ``schema``), the others from their
        features objects (:class:`ColumnExtractor`); a typed record is not ok (the
        per-event path takes it) if the schema does not cover ``layout``."""
        row_list = rows.tolist()
        feats = [env.features[j] for j in row_list]
        preds = [env.predictions[j] for j in row_list]
        typed = env.typed[rows] if env.typed is not None else np.zeros(len(rows), np.bool_)
        if typed.all():
            return self._structs(model, layout, feats, preds, schema)
        ex = self._plain.get(model)
        if ex is None or ex.layout is not layout:
            ex = self._plain[model] = ColumnExtractor(layout)
        if not typed.any():
            return ex.extract(feats, preds)
        n = len(rows)
        nums = np.empty((n, len(layout.numeric)), dtype=np.float64)
        cats = np.empty((n, len(layout.categorical)), dtype=np.int32)
        good = np.empty(n, dtype=np.bool_)
        for part in (typed, ~typed):
            at = np.flatnonzero(part)
            f, p = [feats[i] for i in at.tolist()], [preds[i] for i in at.tolist()]
            got = self._structs(model, layout, f, p, schema) if part is typed else ex.extract(f, p)
            nums[at], cats[at], good[at] = got
        return nums, cats, good

    def _structs(
        self,
        model: str,
        layout: ModelLayout,
        feats: list[Any],
        preds: list[Any],
        schema: TypedSchema | None,
    ) -> _Columns:
        n = len(feats)
        if schema is None or not covers(schema.columns, layout):  # not expected: per event
            nums = np.full((n, len(layout.numeric)), np.nan)
            cats = np.full((n, len(layout.categorical)), MISSING_CODE, dtype=np.int32)
            return nums, cats, np.zeros(n, dtype=np.bool_)
        sx = self._typed.get(model)
        if sx is None or sx.layout is not layout or sx.schema is not schema:
            sx = self._typed[model] = StructExtractor(layout, schema)
        return sx.extract(feats, preds)
