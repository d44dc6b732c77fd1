"""The credit model's event stream for the incident tests, window by window.

Each window is ``per_window`` events of the bundled synthetic credit data (clean, or
drifted by :data:`DEFAULT_DRIFT`), with event timestamps evenly spaced inside the
window's event-time bounds, so every window closes with exactly its own events. The
events and the baseline are the shared ones of tests/services/streams.py; what is the
incident tests' own is the plan of clean and drifted windows and the baseline version.
"""

from __future__ import annotations

from pathlib import Path

from drift_monitor.demo.dataset import DEFAULT_DRIFT, drifted_columns
from tests.services import streams
from tests.services.streams import MODEL

__all__ = ["BASELINE_VERSION", "DRIFTED", "MODEL", "stream", "write_baseline"]

BASELINE_VERSION = "incidents-1"
#: The columns DEFAULT_DRIFT changes (the features it moves, then the score).
DRIFTED = frozenset(drifted_columns(DEFAULT_DRIFT))


def write_baseline(directory: Path) -> Path:
    """Build the credit baseline (20 000 training rows) into ``directory/credit.dmb``."""
    return streams.write_baseline(
        directory, BASELINE_VERSION, source="tests.incidents: training_frame(20000, seed=7)"
    )


def stream(
    plan: str, start: float, size: float, per_window: int, *, seed: int = 100
) -> list[list[bytes]]:
    """Windows by ``plan``: one letter per window, ``c`` clean, ``d`` drifted; each the
    JSON events of its window ``[start + i * size, start + (i + 1) * size)``."""
    windows: list[list[bytes]] = []
    for i, kind in enumerate(plan):
        if kind not in "cd":
            raise ValueError(f"plan letters are 'c' and 'd', got {kind!r}")
        windows.append(
            streams.encode(
                streams.window_events(
                    MODEL,
                    start + i * size,
                    size,
                    per_window,
                    seed=seed + i,
                    drift=DEFAULT_DRIFT if kind == "d" else None,
                )
            )
        )
    return windows
