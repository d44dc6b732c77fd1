"""The columnar batch path (pipeline/batch.py) against the per-event path, on hostile
batches from a seeded generator: wrong types, missing fields, NaN/inf, huge numbers,
unicode, nesting, non-JSON bytes, tombstones, mixed and unknown models, keys as models,
future, late and out-of-range timestamps, re-reads after a rewind, a sink that fails.

Two pipelines with the same config and clock get the same batches, one forced through
the columnar path (``columnar_min_batch = 1``), one through ``_one`` record by record.
They must agree on everything a user or the commit path sees: the windows evaluated
(bounds, counts, sampled values and codes, event ids), ``events_total`` by outcome,
invalid reasons, replays, dead letters (record, reason, detail, in order), what may be
committed, and where a SinkError stopped.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.config.loader import validate_config
from drift_monitor.errors import SinkError
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.source.base import Record, RecordBatch
from drift_monitor.source.memory import MemoryDeadLetters
from drift_monitor.status.state import MonitorState
from drift_monitor.windows.runtime import ClosedWindow

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
NUMERIC = ("x", "y", "z")
CATEGORICAL = ("country", "plan")
COUNTRIES = ("US", "IN", "BR", "DE", "ünï", "日本")


def _baselines(directory: Path, label: str | None = None) -> None:
    """Baselines ``a`` (x, y, z, country, plan; prediction ``score``) and ``b`` (no z;
    prediction ``p``) under ``directory``; with ``label``, a 0/1 validation label of
    that name drawn from the score, so both carry a performance section."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame(
        {
            "x": rng.normal(0, 1, n),
            "y": rng.integers(0, 50, n).astype(float),
            "z": rng.gamma(2.0, 2.0, n),
            "country": rng.choice(COUNTRIES[:4], n),
            "plan": rng.choice(["free", "pro", "team"], n),
            "score": rng.random(n),
        }
    )
    if label is not None:
        df[label] = (rng.random(n) < df["score"].to_numpy()).astype(int)
    directory.mkdir(parents=True, exist_ok=True)
    b_frame = df.drop(columns=["z"]).rename(columns={"score": "p"})
    for name, frame, prediction in (("a", df, "score"), ("b", b_frame, "p")):
        base = build_baseline(
            frame,
            name,
            version="1",
            prediction=[prediction],
            categorical=CATEGORICAL,
            label=label,
        )
        save_baseline(base, directory / f"{name}.dmb")


WINDOWS: dict[str, dict[str, Any]] = {
    "tumbling": {
        "type": "tumbling",
        "size_seconds": 60.0,
        "allowed_lateness_seconds": 5.0,
        "max_events": 100,
    },
    "sliding": {
        "type": "sliding",
        "size_seconds": 60.0,
        "slide_seconds": 20.0,
        "allowed_lateness_seconds": 3.0,
        "max_events": 150,
    },
    "count": {"type": "count", "size_events": 70, "max_events": 100},
}


def _pipeline(
    tmp: Path,
    window: str,
    clock: ManualClock,
    fail: list[int],
    decode: dict[str, Any] | None = None,
) -> tuple[Any, ...]:
    """(pipeline of models a, b, c, its window log, state, dead letters); ``fail``: the
    window closes (by count) whose hook raises SinkError; ``decode``: the decode section
    (default: ``max_event_bytes`` 400)."""
    cfg = validate_config(
        {
            "kafka": {
                "bootstrap_servers": ["in-memory:0"],
                "topics": ["t"],
                "group_id": "g",
                "topic_models": {"t": "b"},
            },
            "baselines": {"dir": str(tmp / "baselines")},
            "state": {"dir": str(tmp / "state"), "audit_windows": True},
            "decode": decode or {"max_event_bytes": 400},
            "defaults": {"window": WINDOWS[window]},
            "models": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
        }
    )
    log: list[Any] = []

    def hook(result: WindowResult, window: ClosedWindow) -> None:
        if fail and fail[0] == len(log):
            fail.pop(0)
            raise SinkError("webhooks", "outbox", "disk full")
        log.append(_window(window))

    state = MonitorState(["a", "b", "c"], {"a": 60.0, "b": 60.0, "c": 60.0})
    dead = MemoryDeadLetters()
    p = Pipeline(cfg, BaselineRegistry(cfg), state, clock, hooks=[hook], dead_letters=dead)
    return p, log, state, dead


def _window(w: ClosedWindow) -> tuple[Any, ...]:
    return (
        w.model,
        w.start,
        w.end,
        w.events,
        w.data.events,
        {k: v.tobytes() for k, v in w.data.numeric.items()},
        {k: v.tobytes() for k, v in w.data.categorical.items()},
        w.event_ids,
    )


def _value(rng: random.Random, t: float) -> bytes | None:
    """One record value: mostly valid, often hostile."""
    r = rng.random()
    if r < 0.03:
        return None
    if r < 0.05:
        return rng.choice([b"\xff\xfe", b"{not json", b"[1,2]", b'"s"', b"1e400", b"", b"{}"])
    model: Any = rng.choice(["a", "a", "b", "b", "c", "zzz", "", 7, None, "a" * 300])
    ev: dict[str, Any] = {}
    if model is not None or rng.random() < 0.5:
        ev["model"] = model
    ts: Any = t
    k = rng.random()
    if k < 0.1:
        ts = int(t * 1000)
    elif k < 0.15:
        ts = f"2026-01-01T{int((t - T0) // 3600) % 24:02d}:{int((t - T0) // 60) % 60:02d}:00Z"
    elif k < 0.18:
        ts = rng.choice([None, True, -5, "garbage", [1], T0 + 10**7, 1e300, 10**30, "9999-12-31"])
    elif k < 0.22:
        ts = t - rng.uniform(30, 400)  # late, or in an older pane
    elif k < 0.24:
        ts = t + rng.uniform(100, 3000)  # a suspect for the watermark
    if ts is not None or rng.random() < 0.5:
        ev["timestamp"] = ts
    if rng.random() < 0.9:
        ev["event_id"] = rng.choice([f"e{rng.randrange(10**6)}", 5, True, None, "é"])
    feats: dict[str, Any] = {}
    for name in NUMERIC:
        q = rng.random()
        if q < 0.85:
            feats[name] = round(rng.gauss(0, 3), 3) if rng.random() < 0.7 else rng.randrange(60)
        elif q < 0.9:
            pass  # absent
        elif q < 0.93:
            feats[name] = None
        else:
            feats[name] = rng.choice([True, "1.5", [1], {"v": 1}, 2**70, -(2**63), "NaN"])
    for name in CATEGORICAL:
        q = rng.random()
        if q < 0.85:
            feats[name] = rng.choice([*COUNTRIES, "free", "pro", "team", "new"])
        elif q < 0.9:
            feats[name] = None
        else:
            feats[name] = rng.choice([3, 3.0, 2.5, False, ["x"], {"y": 1}, "\u0000", "\ud800"])
    if rng.random() < 0.97:
        ev["features"] = feats if rng.random() < 0.98 else rng.choice([[1], "f", 3])
    p = rng.random()
    if p < 0.58:
        ev["prediction"] = round(rng.random(), 4)
    elif p < 0.6:  # floats a score cannot be (the label join's one-array check)
        ev["prediction"] = rng.choice([1.5, -0.25, 1e300, -0.0, 1.0])
    elif p < 0.7:
        ev["prediction"] = {"score": rng.random(), "p": rng.choice([0.5, "x", None]), "o": 1}
    elif p < 0.75:
        ev["prediction"] = rng.choice(["cls", True, None, [0.1], 1, 0, 2**64 - 1, {"p": 0.3}])
    text = json.dumps(ev, ensure_ascii=rng.random() < 0.5, allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )
    if rng.random() < 0.02:
        text = text.replace(b"3.", b"3e999", 1)  # overflows a double: non_finite
    if rng.random() < 0.01:
        text = text.replace(b"1", b"18446744073709551616", 1)  # > u64
    if rng.random() < 0.01:
        text += b" " * 300  # too large
    return text


def _stream(rng: random.Random, n: int) -> list[Record]:
    out = []
    offsets = [0, 0, 0]
    t = T0
    for _ in range(n):
        t += rng.expovariate(1 / 0.6)
        part = rng.randrange(3)
        key = rng.choice([b"a", b"b", None, b"\xff", b"zzz"])
        ms = int(t * 1000) if rng.random() < 0.97 else rng.choice([-1, int((t + 10**5) * 1000)])
        out.append(Record("t", part, offsets[part], key, _value(rng, t), ms))
        offsets[part] += 1
    return out


def _batches(rng: random.Random, records: list[Record]) -> list[list[Record]]:
    """Poll-like batches: grouped by partition, each in offset order."""
    out = []
    i = 0
    while i < len(records):
        n = rng.choice([1, 5, 40, 200, 600])
        chunk = records[i : i + n]
        i += n
        out.append(sorted(chunk, key=lambda r: (r.partition, r.offset)))
    return out


def _observed(p: Pipeline, log: list[Any], state: MonitorState, dead: MemoryDeadLetters) -> Any:
    return (
        list(log),
        dict(state.events),
        dict(state.invalid_reasons),
        dict(state.replayed),
        [(r.partition, r.offset, reason, detail) for r, reason, detail in dead.records],
        p.commit_positions(),
        p.first_offsets_read(),
    )


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("seed", range(4))
def test_columnar_batches_equal_record_by_record(tmp_path: Path, window: str, seed: int) -> None:
    """Both sides get lists of records (seeds 0, 1) or, as from a Kafka source,
    RecordBatches (seeds 2, 3: the columnar side reads their columns, the per-event side
    their records built one by one)."""
    columns = seed >= 2
    _baselines(tmp_path / "baselines")
    rng = random.Random(seed)
    records = _stream(rng, 3000)
    fail_at = sorted(rng.sample(range(1, 10), 3))
    sides = []
    for columnar in (True, False):
        clock = ManualClock(T0 + 60)
        p, log, state, dead = _pipeline(tmp_path, window, clock, list(fail_at))
        p.columnar_min_batch = 1 if columnar else 10**9
        sides.append((p, log, state, dead, clock))
    stops = [0, 0]
    for batch in _batches(random.Random(seed + 100), records):
        if rng.random() < 0.05:  # a rebalance: re-read from what may be committed
            for p, *_ in sides:
                p.committed(p.commit_positions())
                p.reset()
        dead_fails = rng.random() < 0.05  # a dead-letter send fails in this batch
        results = []
        for side, (p, log, state, dead, clock) in enumerate(sides):
            if dead_fails:
                dead.fail("topic does not exist", on_send=True)
            latest = max(r.timestamp_ms for r in batch) / 1000.0
            clock.advance(max(0.0, latest + 5.0 - clock.now()))
            todo: Sequence[Record] = batch
            while todo:
                try:
                    p.process(RecordBatch.of(todo) if columns else todo)
                    todo = []
                except SinkError:
                    stops[side] += 1
                    dead.heal()
                    # As the loop: the failed record and the rest are read again.
                    at = {tp: pr.next_offset for tp, pr in p.offsets.positions()}
                    todo = [r for r in todo if r.offset >= at.get((r.topic, r.partition), 0)]
                    p.reset()
            results.append(_observed(p, log, state, dead))
        assert results[0] == results[1]
    for side, (p, *_) in enumerate(sides):
        while True:
            try:
                p.close_all_windows()
                break
            except SinkError:  # a failure planned for a later window: the retry works
                stops[side] += 1
    assert _observed(*sides[0][:4]) == _observed(*sides[1][:4])
    assert stops[0] == stops[1] > 0, (len(sides[0][1]), sides[0][2].events)
    events = sides[0][2].events
    assert events[("a", "accepted")] > 100 and events[("-", "invalid")] > 20
    assert window == "count" or sum(v for (m, o), v in events.items() if o == "late") > 0
    assert sides[0][1], "no window was evaluated"
    assert len(sides[0][3].records) > 50
