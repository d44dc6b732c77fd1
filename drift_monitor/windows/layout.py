"""A model's column layout: how an event's values become window columns.

Built once per baseline load. ``extract`` validates value types on the hot path:
numeric columns take JSON numbers (bools are not numbers), categorical columns take
strings, numbers and bools (normalised with ``category_key``); null or an absent key
is missing. A wrong type or a non-finite number makes the whole event invalid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from drift_monitor.baseline.model import Baseline
from drift_monitor.decode.decoder import Event
from drift_monitor.errors import EventError
from drift_monitor.stats.categorical import OTHER, category_key
from drift_monitor.stats.prepared import PreparedCategorical

#: Code of a missing categorical value.
MISSING_CODE = -1


@dataclass(frozen=True, slots=True)
class CategoricalSlot:
    """A categorical column's lookup: category -> code, and the code of any other value
    (``k`` = unseen, or the ``__other__`` code when the baseline pooled its tail)."""

    name: str
    index: dict[str, int]
    fallback: int
    k: int


@dataclass(frozen=True, slots=True)
class ModelLayout:
    """Where each baseline column's value comes from in an event.

    ``numeric``/``categorical``: column names in a fixed order (the order of the
    window buffers). ``prediction_column``: the baseline column a scalar ``prediction``
    feeds (when the baseline has exactly one prediction column); an object
    ``prediction`` feeds the prediction columns named by its keys.
    """

    numeric: tuple[str, ...]
    categorical: tuple[CategoricalSlot, ...]
    prediction_columns: frozenset[str]
    prediction_column: str | None

    @classmethod
    def from_baseline(cls, baseline: Baseline) -> ModelLayout:
        """The layout of ``baseline``'s columns."""
        prepared = baseline.prepared()
        numeric: list[str] = []
        cats: list[CategoricalSlot] = []
        for c in baseline.columns:
            if c.kind == "numeric":
                numeric.append(c.name)
            else:
                p = prepared.get(c.name)
                if isinstance(p, PreparedCategorical):
                    k = len(p.categories)
                    fallback = p.index.get(OTHER, k) if p.pooled_other else k
                    cats.append(CategoricalSlot(c.name, dict(p.index), fallback, k))
                else:  # no categories in training: only presence is tracked
                    cats.append(CategoricalSlot(c.name, {}, 0, 0))
        segs = baseline.segments
        if segs is not None and not any(
            c.name == segs.column and c.kind == "categorical" for c in baseline.columns
        ):
            # Per-segment drift: the segment column rides along as a code per row (its
            # kept values, else __other__) even when it is not a monitored column. A
            # categorical column of the model already carries its codes.
            other = segs.other_code
            cats.append(CategoricalSlot(segs.column, segs.index(), other, other))
        preds = baseline.prediction_columns
        return cls(
            tuple(numeric),
            tuple(cats),
            frozenset(preds),
            preds[0] if len(preds) == 1 else None,
        )

    def values_of(self, event: Event) -> dict[str, Any]:
        """Feature values with the prediction merged in under its column name(s)."""
        pred = event.prediction
        if pred is None or not self.prediction_columns:
            return event.features
        merged = dict(event.features)
        if isinstance(pred, dict):
            for k, v in pred.items():
                if k in self.prediction_columns:
                    merged[k] = v
        elif self.prediction_column is not None:
            merged[self.prediction_column] = pred
        return merged

    def extract(self, event: Event) -> tuple[list[float], list[int]]:
        """(numeric values, categorical codes) of one event, in layout order.

        Missing numeric values are NaN, missing categorical values -1. Raises
        EventError("wrong_type" | "non_finite") naming the column.
        """
        values = self.values_of(event)
        nums: list[float] = []
        for name in self.numeric:
            v = values.get(name)
            if v is None:
                nums.append(math.nan)
            elif type(v) is float or (type(v) is int):
                f = float(v)
                if not math.isfinite(f):
                    raise EventError("non_finite", f"column {name!r} is not finite")
                nums.append(f)
            else:
                raise EventError(
                    "wrong_type", f"column {name!r} must be a number, got {type(v).__name__}"
                )
        codes: list[int] = []
        for slot in self.categorical:
            v = values.get(slot.name)
            if v is None:
                codes.append(MISSING_CODE)
                continue
            if isinstance(v, dict | list):
                raise EventError(
                    "wrong_type", f"column {slot.name!r} must be a string, number or bool"
                )
            if isinstance(v, float) and not math.isfinite(v):
                raise EventError("non_finite", f"column {slot.name!r} is not finite")
            key = v if type(v) is str else category_key(v)
            codes.append(slot.index.get(key, slot.fallback) if key is not None else MISSING_CODE)
        return nums, codes
