"""The demo's stream: the synthetic credit model's predictions, a recession half-way
through, and each prediction's label (did the loan default?) as a label-only event
about :data:`LABEL_DELAY_WINDOWS` windows later; :data:`LABELS_MISSING` of them never
arrive. Deterministic: the same arguments give the same records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from drift_monitor.demo.dataset import DEFAULT_DRIFT, LABEL, events, production_frame

MODEL = "credit"
WINDOW_SECONDS = 300.0
#: Labels arrive this many windows (of event time) after their prediction, ± half a window.
LABEL_DELAY_WINDOWS = 2.0
#: Share of predictions whose label never arrives.
LABELS_MISSING = 0.03


@dataclass(frozen=True, slots=True)
class DemoRecord:
    """One record of the demo stream: its window index (for pacing), event time (epoch
    ms) and value; ``label`` for a label-only event."""

    window: int
    ts_ms: int
    value: bytes
    label: bool


def demo_stream(windows: int, per_window: int, start: dt.datetime) -> list[DemoRecord]:
    """Every record in arrival order: clean windows first, then the recession, each
    prediction's label about :data:`LABEL_DELAY_WINDOWS` windows after it (so the last
    windows' labels arrive after the last prediction)."""
    rate = per_window / WINDOW_SECONDS
    half = windows // 2
    clean = production_frame(per_window * half, seed=11, with_label=True)
    drifted = production_frame(
        per_window * (windows - half), seed=12, drift=DEFAULT_DRIFT, with_label=True
    )
    t_drift = start + dt.timedelta(seconds=WINDOW_SECONDS * half)
    drift_stamp = t_drift.isoformat().replace("+00:00", "Z")
    t0 = start.timestamp()
    predictions: list[tuple[dict[str, Any], int]] = []
    labels = clean[LABEL].tolist()
    for i, ev in enumerate(events(clean, MODEL, start, rate, seed=1)):
        if ev["timestamp"] >= drift_stamp:
            break  # keep the clean part inside the first half of the windows
        predictions.append((ev, int(labels[i])))
    labels = drifted[LABEL].tolist()
    predictions += [
        (ev, int(labels[i])) for i, ev in enumerate(events(drifted, MODEL, t_drift, rate, seed=2))
    ]
    rng = np.random.default_rng(3)
    delays = (LABEL_DELAY_WINDOWS + rng.uniform(-0.5, 0.5, len(predictions))) * WINDOW_SECONDS
    arrives = rng.random(len(predictions)) >= LABELS_MISSING
    records: list[DemoRecord] = []
    for (ev, y), delay, has in zip(predictions, delays.tolist(), arrives.tolist(), strict=True):
        ts = dt.datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00")).timestamp()
        ms = round(ts * 1000)
        records.append(DemoRecord(int((ts - t0) // WINDOW_SECONDS), ms, orjson.dumps(ev), False))
        if has:
            label_ms = ms + round(delay * 1000)
            label = {"model": MODEL, "event_id": ev["event_id"], "label": y, "timestamp": label_ms}
            window = int((label_ms / 1000 - t0) // WINDOW_SECONDS)
            records.append(DemoRecord(window, label_ms, orjson.dumps(label), True))
    records.sort(key=lambda r: (r.ts_ms, r.label))
    return records
