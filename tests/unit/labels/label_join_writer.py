"""A consume loop in miniature for the kill -9 test: applies a deterministic stream of
predictions and labels to a JoinStore in batches; after each batch it flushes the
store and only then "commits" its offset (an atomically replaced file), as the daemon
commits Kafka offsets only after a successful flush. Restarted, it re-reads from the
committed offset, so batches between a flush and a commit are applied twice.

    python -m tests.unit.labels.label_join_writer STORE_PATH OFFSET_FILE
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from drift_monitor.labels.store import JoinStore, Label, Prediction

T0 = 1_767_225_600.0
BATCH = 40
N_EVENTS = 6_000


def stream() -> list[tuple[str, int, float]]:
    """(kind, event index, value): every event's prediction; a label for 70 % of them
    arriving 0-300 records later (some before their prediction); 5 % of labels sent
    twice and 5 % of predictions re-sent (a producer retry)."""
    rng = np.random.default_rng(42)
    slots: list[tuple[float, tuple[str, int, float]]] = []
    for i in range(N_EVENTS):
        slots.append((float(i), ("p", i, float(rng.uniform()))))
        if rng.uniform() < 0.05:
            slots.append((i + rng.uniform(1, 50), ("p", i, -1.0)))
        if rng.uniform() < 0.7:
            at = i + rng.uniform(-20, 300)  # negative: the label comes first
            value = float(rng.integers(0, 2))
            slots.append((at, ("l", i, value)))
            if rng.uniform() < 0.05:
                slots.append((at + rng.uniform(1, 100), ("l", i, value)))
    slots.sort(key=lambda s: s[0])
    return [s[1] for s in slots]


def expected() -> dict[int, float]:
    """Event index -> label, for every event that gets one."""
    return {i: v for kind, i, v in stream() if kind == "l"}


def scores() -> dict[int, float]:
    """Event index -> the score of its first prediction (re-sends carry -1)."""
    out: dict[int, float] = {}
    for kind, i, v in stream():
        if kind == "p" and i not in out:
            out[i] = v
    return out


def main(store_path: str, offset_file: str) -> int:
    """Apply the stream from the committed offset to the end; print ``done``."""
    records = stream()
    first = scores()
    offset_path = Path(offset_file)
    offset = int(offset_path.read_text()) if offset_path.exists() else 0
    # Offset commits may lag the flushed state (they are periodic in the daemon): replay
    # three batches that are already in the store, so every restart re-applies records.
    offset = max(0, offset - 3 * BATCH)
    store = JoinStore(store_path)
    while offset < len(records):
        batch = records[offset : offset + BATCH]
        preds = [
            Prediction(f"ev-{i}", i // 500, T0 + 60.0 * (i // 500 + 1), T0 + i, (first[i],))
            for kind, i, _ in batch
            if kind == "p"
        ]
        labels = [Label(f"ev-{i}", v, T0 + i + 1) for kind, i, v in batch if kind == "l"]
        store.apply("m", preds, labels)
        store.flush()
        offset += len(batch)
        tmp = offset_path.with_suffix(".tmp")
        with open(tmp, "w") as fh:
            fh.write(str(offset))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, offset_path)
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
