"""The credit model's event stream for the incident tests, window by window.

Each window is ``per_window`` events of the bundled synthetic credit data (clean, or
drifted by :data:`DEFAULT_DRIFT`), with event timestamps evenly spaced inside the
window's event-time bounds, so every window closes with exactly its own events.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    SCORE,
    DriftScenario,
    drifted_columns,
    events,
    production_frame,
    training_frame,
)

MODEL = "credit"
BASELINE_VERSION = "incidents-1"
#: The columns DEFAULT_DRIFT changes (the features it moves, then the score).
DRIFTED = frozenset(drifted_columns(DEFAULT_DRIFT))


def write_baseline(directory: Path) -> Path:
    """Build the credit baseline (20 000 training rows) into ``directory/credit.dmb``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{MODEL}.dmb"
    save_baseline(
        build_baseline(
            training_frame(20_000, seed=7),
            MODEL,
            prediction=[SCORE],
            version=BASELINE_VERSION,
            source="tests.incidents: training_frame(20000, seed=7)",
        ),
        path,
    )
    return path


def _iso(t: float) -> str:
    return (
        dt.datetime.fromtimestamp(t, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def window_events(
    start: float,
    size: float,
    per_window: int,
    *,
    drift: DriftScenario | None,
    seed: int,
) -> list[bytes]:
    """JSON events of one window ``[start, start + size)`` (epoch seconds)."""
    frame = production_frame(per_window, seed=seed, drift=drift)
    out: list[bytes] = []
    step = size / per_window
    origin = dt.datetime.fromtimestamp(start, dt.UTC)
    for j, ev in enumerate(events(frame, MODEL, origin, per_window / size, seed=seed)):
        ev["timestamp"] = _iso(start + (j + 0.5) * step)
        out.append(orjson.dumps(ev))
    return out


def stream(
    plan: str, start: float, size: float, per_window: int, *, seed: int = 100
) -> list[list[bytes]]:
    """Windows by ``plan``: one letter per window, ``c`` clean, ``d`` drifted."""
    windows: list[list[bytes]] = []
    for i, kind in enumerate(plan):
        if kind not in "cd":
            raise ValueError(f"plan letters are 'c' and 'd', got {kind!r}")
        windows.append(
            window_events(
                start + i * size,
                size,
                per_window,
                drift=DEFAULT_DRIFT if kind == "d" else None,
                seed=seed + i,
            )
        )
    return windows
