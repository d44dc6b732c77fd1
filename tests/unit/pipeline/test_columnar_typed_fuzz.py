"""The typed (msgspec) columnar path against the per-event path, on hostile batches.

As :mod:`tests.unit.pipeline.test_columnar_fuzz` (the same value generator and
observations), with what only the typed path could get wrong: renamed envelope fields,
feature names that are not Python identifiers, a column two models read with different
kinds (``y``: numeric for ``a``, categorical for ``b``), unknown top-level and feature
fields holding what orjson and msgspec may read differently (1e999, invalid UTF-8,
integers outside 64 bits, nesting, lone surrogates), and a baseline change mid-stream
(other layouts: the types are rebuilt). The typed path must take a real share.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.decode.typed import TypedBatchDecoder
from drift_monitor.errors import SinkError
from drift_monitor.source.base import Record
from tests.unit.pipeline.test_columnar_fuzz import (
    COUNTRIES,
    T0,
    WINDOWS,
    _batches,
    _observed,
    _pipeline,
    _stream,
)

#: The generator's names -> this test's (JSON text as json.dumps writes keys).
RENAMES = {
    b'"model": ': b'"m": ',
    b'"features": ': b'"f.eats": ',
    b'"event_id": ': b'"id": ',
    b'"timestamp": ': b'"@ts": ',
    b'"prediction": ': b'"out": ',
    b'"x": ': b'"x-1": ',
    b'"z": ': b'"z z": ',
}
ODD = [
    b"1e999", b'"\xff"', b"18446744073709551616", b"-9223372036854775809", b"-0.0",
    b'[1, {"q": 1e999}]', b'{"d": [[1]]}', b'"\\ud800"', b"9" * 320, b"true", b"null",
    b"3", b'"s"', b"2.5", b'{"k": 1}', b'"\\u00e9"',
]  # fmt: skip


def _baselines(directory: Path, version: str = "1") -> None:
    """``a``: x-1, y, z z (numeric), country, plan; ``b``: x-1, y (categorical!),
    country, plan. Version "2" gives ``a`` another layout (no ``z z``, a new
    categorical column ``new col``)."""
    rng = np.random.default_rng(5)
    n = 400
    df = pd.DataFrame(
        {
            "x-1": rng.normal(0, 1, n),
            "y": rng.integers(0, 50, n).astype(float),
            "z z": rng.gamma(2.0, 2.0, n),
            "country": rng.choice(COUNTRIES[:4], n),
            "plan": rng.choice(["free", "pro", "team"], n),
            "score": rng.random(n),
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    b_frame = df.drop(columns=["z z"]).rename(columns={"score": "p"})
    b_frame["y"] = b_frame["y"].astype(int).astype(str)
    a_frame, a_cats = df, ["country", "plan"]
    if version == "2":
        a_frame = df.drop(columns=["z z"]).assign(**{"new col": rng.choice(["u", "v"], n)})
        a_cats = [*a_cats, "new col"]
    for name, frame, prediction, cats in (
        ("a", a_frame, "score", a_cats),
        ("b", b_frame, "p", ["country", "plan", "y"]),
    ):
        base = build_baseline(
            frame, name, version=version, prediction=[prediction], categorical=cats
        )
        path = directory / f"{name}.dmb"
        save_baseline(base, path)
        stamp = int(version) * 10**18
        os.utime(path, ns=(stamp, stamp))  # a new file identity for the registry


#: The decode section: every envelope field renamed (see RENAMES).
DECODE = {
    "max_event_bytes": 460,
    "model_field": "m",
    "features_field": "f.eats",
    "event_id_field": "id",
    "timestamp_field": "@ts",
    "prediction_field": "out",
}


def _retyped(rng: random.Random, rec: Record) -> Record:
    """``rec`` with the renamed fields, and often an unknown field holding an odd value."""
    v = rec.value
    if v is None:
        return rec
    for a, b in RENAMES.items():
        v = v.replace(a, b)
    r = rng.random()
    name = rng.choice([b"meta", b"trace", b"k%d" % rng.randrange(200)])
    odd = rng.choice(ODD) if rng.random() < 0.3 else rng.choice([b"1", b'"v"', b"0.5"])
    if r < 0.15 and v.startswith(b'{"'):
        v = v.replace(b"{", b'{"%s": %s, ' % (name, odd), 1)
    elif r < 0.3:
        v = v.replace(b'"f.eats": {"', b'"f.eats": {"%s": %s, "' % (name, odd), 1)
    elif r < 0.35:  # an odd value in a column the layouts read
        col = rng.choice([b"x-1", b"y", b"z z", b"country"])
        v = v.replace(b'"f.eats": {', b'"f.eats": {"%s": %s, ' % (col, rng.choice(ODD)), 1)
    return Record(rec.topic, rec.partition, rec.offset, rec.key, v, rec.timestamp_ms)


@pytest.mark.parametrize("window", sorted(WINDOWS))
@pytest.mark.parametrize("seed", range(3))
def test_typed_batches_equal_record_by_record(
    tmp_path: Path, window: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed_count = [0, 0]
    decode = TypedBatchDecoder.decode

    def counted(self: TypedBatchDecoder, *args: Any) -> Any:
        env = decode(self, *args)
        typed_count[0] += 0 if env.typed is None else int(env.typed.sum())
        typed_count[1] += len(env.ok)
        return env

    monkeypatch.setattr(TypedBatchDecoder, "decode", counted)
    _baselines(tmp_path / "baselines")
    rng = random.Random(seed)
    records = [_retyped(rng, r) for r in _stream(rng, 3000)]
    fail_at = sorted(rng.sample(range(1, 10), 3))
    sides = []
    fails: list[list[int]] = []
    for columnar in (True, False):
        clock = ManualClock(T0 + 60)
        fails.append(list(fail_at))
        p, log, state, dead = _pipeline(tmp_path, window, clock, fails[-1], DECODE)
        p.columnar_min_batch = 1 if columnar else 10**9
        sides.append((p, log, state, dead, clock))
    stops = [0, 0]
    batches = _batches(random.Random(seed + 100), records)
    for k, batch in enumerate(batches):
        if k == len(batches) // 2:  # a baseline change: other layouts, rebuilt types
            _baselines(tmp_path / "baselines", version="2")
            for side, (p, *_) in enumerate(sides):
                planned = fails[side][:]
                fails[side].clear()  # a's windows close: no planned failure there
                assert "a" in p.reload_baselines()
                fails[side].extend(planned)
        if rng.random() < 0.05:  # a rebalance: re-read from what may be committed
            for p, *_ in sides:
                p.committed(p.commit_positions())
                p.reset()
        results = []
        for side, (p, log, state, dead, clock) in enumerate(sides):
            latest = max(r.timestamp_ms for r in batch) / 1000.0
            clock.advance(max(0.0, latest + 5.0 - clock.now()))
            todo = batch
            while todo:
                try:
                    p.process(todo)
                    todo = []
                except SinkError:
                    stops[side] += 1
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
            except SinkError:
                stops[side] += 1
    assert _observed(*sides[0][:4]) == _observed(*sides[1][:4])
    assert stops[0] == stops[1] > 0
    events = sides[0][2].events
    assert events[("a", "accepted")] > 100 and events[("b", "accepted")] > 100
    assert sides[0][1], "no window was evaluated"
    assert typed_count[0] > 0.15 * typed_count[1], typed_count
