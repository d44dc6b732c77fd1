"""The one place a window type name picks its runtime."""

from __future__ import annotations

import random

from drift_monitor.windows.count import CountWindows
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import WindowRuntime
from drift_monitor.windows.settings import WindowSettings
from drift_monitor.windows.time_windows import SlidingWindows, TumblingWindows


def open_windows(
    model: str,
    settings: WindowSettings,
    layout: ModelLayout,
    rng: random.Random | None = None,
    keep_ids: bool = False,
) -> WindowRuntime:
    """The runtime of ``settings.type`` for ``model`` (the only dispatch on the type)."""
    kinds: dict[str, type[CountWindows | TumblingWindows | SlidingWindows]] = {
        "tumbling": TumblingWindows,
        "sliding": SlidingWindows,
        "count": CountWindows,
    }
    return kinds[settings.type](model, settings, layout, rng=rng, keep_ids=keep_ids)
