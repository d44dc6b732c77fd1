"""The columnar batch path against the per-event path with the label join on (issue 15).

As :mod:`tests.unit.pipeline.test_columnar_fuzz`, on the same hostile prediction stream,
with two models that have labels: ``a`` from a labels topic (``lt``), ``b`` from
label-only events on the prediction topic. Label events are mostly valid, often
hostile (unknown model, bad label, no event id, non-JSON, a features object), some
before their prediction, some duplicated. Both pipelines must hand the join the same
predictions and labels: the same tracked and joined counts per prediction window, the
same pairs, the same counters, and the same invalid reasons and dead letters.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config.loader import validate_config
from drift_monitor.errors import SinkError
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.pipeline.labels import LabelJoin
from drift_monitor.source.base import Record
from drift_monitor.source.memory import MemoryDeadLetters
from drift_monitor.status.state import MonitorState
from tests.unit.pipeline.test_columnar_fuzz import (
    T0,
    WINDOWS,
    _baselines,
    _batches,
    _observed,
    _stream,
)

LABEL_TOPIC = "lt"


def _labelled_baselines(directory: Path) -> None:
    """``a`` and ``b`` as in the other fuzz test, with a validation label ``truth``."""
    _baselines(directory, label="truth")


def _pipeline(tmp: Path, window: str, clock: ManualClock) -> tuple[Any, ...]:
    labels = {"max_delay_seconds": 600.0, "window_seconds": 60.0}
    cfg = validate_config(
        {
            "kafka": {
                "bootstrap_servers": ["in-memory:0"],
                "topics": ["t", LABEL_TOPIC],
                "group_id": "g",
                "topic_models": {"t": "b"},
            },
            "baselines": {"dir": str(tmp.parent / "baselines")},
            "state": {"dir": str(tmp / "state"), "audit_windows": True},
            "decode": {"max_event_bytes": 400},
            "defaults": {"window": WINDOWS[window]},
            "models": [
                {"name": "a", "labels": {**labels, "topic": LABEL_TOPIC}},
                {"name": "b", "labels": {**labels, "topic": None}},
                {"name": "c"},
            ],
        }
    )
    state = MonitorState(["a", "b", "c"], {"a": 60.0, "b": 60.0, "c": 60.0})
    dead = MemoryDeadLetters()
    baselines = BaselineRegistry(cfg)
    join = LabelJoin(cfg, baselines, state, clock=clock)
    p = Pipeline(cfg, baselines, state, clock, dead_letters=dead, labels=join)
    return p, join, state, dead


def _label_value(rng: random.Random, ids: list[str], t: float, model: str) -> bytes:
    """A label event for ``model``: mostly a label of a seen (or future) event id."""
    r = rng.random()
    if r < 0.04:
        return rng.choice([b"\xff", b"{nope", b"[]", b"null"])
    ev: dict[str, Any] = {"model": model, "label": rng.choice([0, 1, 1, 0, 0.0, 1.0])}
    if r < 0.08:
        ev["model"] = rng.choice(["zzz", "c", 5, "", None, True, {"m": model}, "x" * 300])
    elif r < 0.14:
        ev["label"] = rng.choice(
            ["yes", None, [1], 7, True, False, "1", 0.5, -0.0, 2**64 - 1, {"v": 1}]
        )
    if rng.random() < 0.95:
        ev["event_id"] = (
            rng.choice(ids) if ids and rng.random() < 0.8 else f"e{rng.randrange(10**6)}"
        )
        if rng.random() < 0.03:
            ev["event_id"] = rng.choice([7, "", True, None, {"id": "e1"}, 2**63])
    u = rng.random()
    if u < 0.75:
        ev["timestamp"] = t + rng.uniform(0, 120)
    elif u < 0.85:  # epoch ms, the common producer shape
        ev["timestamp"] = int((t + rng.uniform(0, 120)) * 1000)
    elif u < 0.9:
        ev["timestamp"] = rng.choice(
            [-1, -5.5, True, "2024-01-01T00:00:00Z", "nope", 2**64 - 1, 2**63, [1], 0]
        )
    elif u < 0.92:  # far ahead of the wall clock (in s and in ms)
        ev["timestamp"] = rng.choice([t + 10**6, int((t + 10**6) * 1000)])
    if model == "b" and rng.random() < 0.05:
        ev["features"] = {"x": 1.0}  # not label-only: a (bad) prediction event
    elif model == "b" and rng.random() < 0.03:
        ev["features"] = None  # as absent: label-only
    if model == "b" and rng.random() < 0.03:
        del ev["model"]  # the event decoder takes the record key; the label decoder too
    return json.dumps(ev).encode()


def _with_labels(rng: random.Random, records: list[Record]) -> list[Record]:
    """``records`` plus label events (on ``lt`` for ``a``, on ``t`` for ``b``) in read
    order, every partition's offsets renumbered as its log would hold them."""
    out: list[Record] = []
    ids: dict[str, list[str]] = {"a": [], "b": []}
    next_offset: dict[tuple[str, int], int] = {}

    def add(rec: Record) -> None:
        tp = (rec.topic, rec.partition)
        off = next_offset.get(tp, 0)
        next_offset[tp] = off + 1
        out.append(rec._replace(offset=off))

    for rec in records:
        if rec.value is not None:
            try:
                ev = json.loads(rec.value)
            except ValueError:
                ev = None
            if isinstance(ev, dict) and isinstance(ev.get("event_id"), str):
                model = ev.get("model") or (rec.key or b"").decode(errors="replace")
                ids.setdefault(str(model), []).append(ev["event_id"])
        add(rec)
        t = rec.timestamp_ms / 1000.0 if rec.timestamp_ms > 0 else T0
        if rng.random() < 0.25:
            value = _label_value(rng, ids["a"][-300:], t, "a")
            add(Record(LABEL_TOPIC, 0, 0, None, value, rec.timestamp_ms))
        if rng.random() < 0.25:
            value = _label_value(rng, ids["b"][-300:], t, "b")
            add(Record("t", rng.randrange(3), 0, b"b", value, rec.timestamp_ms))
    return out


def _join_state(join: LabelJoin) -> Any:
    """What the join holds per model: windows' coverage, their pairs, its counters."""
    out = {}
    for name, m in sorted(join.models.items()):
        windows = m.store.windows(name, include_final=True)
        pairs = {
            w.window_id: tuple(a.tobytes() for a in m.store.pairs(name, w.window_id))
            for w in windows
        }
        out[name] = (
            [(w.window_id, w.tracked, w.joined) for w in windows],
            pairs,
            m.store.counters(name),
            dict(m.rejected),
            (m.predicted_until, m.labelled_until),
        )
    return out


@pytest.mark.parametrize("window", ["tumbling", "sliding"])
@pytest.mark.parametrize("seed", range(3))
def test_columnar_batches_feed_the_label_join_as_record_by_record(
    tmp_path: Path, window: str, seed: int
) -> None:
    _labelled_baselines(tmp_path / "baselines")
    rng = random.Random(seed)
    records = _with_labels(random.Random(seed + 7), _stream(rng, 2000))
    sides = []
    for columnar in (True, False):
        clock = ManualClock(T0 + 60)
        p, join, state, dead = _pipeline(tmp_path / f"side{int(columnar)}", window, clock)
        p.columnar_min_batch = 1 if columnar else 10**9
        sides.append((p, join, state, dead, clock))
    for batch in _batches(random.Random(seed + 100), records):
        rebalance = rng.random() < 0.05
        for p, join, _state, _dead, clock in sides:
            if rebalance:  # as the checkpointer: the join is flushed before a commit
                join.flush()
                p.committed(p.commit_positions())
                p.reset()
            latest = max(r.timestamp_ms for r in batch) / 1000.0
            clock.advance(max(0.0, latest + 5.0 - clock.now()))
            try:
                p.process(batch)
            except SinkError as err:  # no sink fails here: a failure is a bug
                raise AssertionError(err) from err
        observed = [
            (_observed(p, [], state, dead), _join_state(join)) for p, join, state, dead, _ in sides
        ]
        assert observed[0] == observed[1]
    # The join saw real traffic on both label paths, bad label events included (the
    # counters run since the store was opened; old windows are forgotten).
    p, join, state, dead, _ = sides[0]
    join.flush()
    final = _join_state(join)
    for model in ("a", "b"):
        counters = final[model][2]
        assert counters.predictions > 10 and counters.joined > 5, (model, counters)
    reasons = state.invalid_reasons
    assert any(r.startswith("label_") for r in reasons), reasons
    for _, join, *_ in sides:
        join.close()
