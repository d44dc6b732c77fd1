"""Baselines and event streams for the SRE tests: the demo dataset's ``credit`` model,
its training baseline, and events on a fixed event-time grid (so window boundaries
are known exactly)."""

from __future__ import annotations

import datetime as dt
import functools
import time
from pathlib import Path
from typing import Any

import orjson

from drift_monitor.baseline import Baseline, build_baseline, save_baseline
from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    SCORE,
    events,
    production_frame,
    training_frame,
)

MODEL = "credit"
TRAINING_VERSION = "sre-train-20000-seed7"
#: Drifted by DEFAULT_DRIFT: one numeric and one categorical column (the dashboard's
#: per-feature panels include tests of both kinds).
DRIFTED_NUMERIC = "annual_income"
DRIFTED_CATEGORICAL = "loan_purpose"


@functools.cache
def training_baseline() -> Baseline:
    """The demo dataset's training baseline of model ``credit`` (built once per session)."""
    return build_baseline(
        training_frame(20_000, seed=7),
        MODEL,
        prediction=[SCORE],
        version=TRAINING_VERSION,
        source="drift_monitor.demo.dataset.training_frame(20000, seed=7)",
    )


def write_baseline(directory: Path) -> Path:
    """Save the training baseline as ``<directory>/credit.dmb``; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    save_baseline(training_baseline(), directory / f"{MODEL}.dmb")
    return directory


def iso(ts: float) -> str:
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def aligned_past(window_s: float, hours_ago: float = 2.0) -> float:
    """An epoch time ``hours_ago`` in the past aligned to a ``window_s`` boundary (in the
    past so that no event is ahead of its broker timestamp)."""
    t = time.time() - hours_ago * 3600.0
    return t - (t % window_s)


def window_events(
    start: float, window_s: float, n: int, *, seed: int, drifted: bool
) -> list[dict[str, Any]]:
    """``n`` events of the window ``[start, start + window_s)``, evenly spread inside it,
    clean or drifted by :data:`DEFAULT_DRIFT`."""
    frame = production_frame(n, seed, DEFAULT_DRIFT if drifted else None)
    out = []
    now = dt.datetime.now(dt.UTC)
    for i, ev in enumerate(events(frame, MODEL, now, 1.0, seed=seed)):
        ev["timestamp"] = iso(start + (i + 0.5) * window_s / n)
        out.append(ev)
    return out


def encode(evs: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in evs]
