"""The values of one window, column by column: what the window runtime hands to
evaluation (and what ``check`` builds from a file). Lives with the windows, which
produce it; evaluation only reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class WindowData:
    """A window's values, column by column, each array ``events`` long.

    A baseline column absent from both mappings counts as entirely missing.
    ``start``/``end``: event-time bounds in epoch seconds (None offline).
    """

    events: int
    numeric: Mapping[str, FloatArray] = field(default_factory=dict)
    categorical: Mapping[str, IntArray] = field(default_factory=dict)
    start: float | None = None
    end: float | None = None
