"""Rebalances while events flow: two daemons in one group, then a third joins, then one
is stopped with SIGTERM. After each rebalance settles every partition is owned by
exactly one live daemon; at the end every event is in exactly one evaluated window
(the window audit logs of all three), each (model, window) is evaluated once, and the
group's committed offsets are at the end of every partition.

Events are keyed by model (model k on partition k), so each window lives in one
process at a time; a window open when its partition moves is dropped by the old owner
and rebuilt from the committed offset by the new one (the commit metadata's
``closed_until`` says which windows were already evaluated).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition as KTopicPartition

from tests.services.daemon import DaemonProcess, read_audit, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import BackgroundProducer, encode, timed_events, window_start

pytestmark = pytest.mark.kafka

PARTITIONS = 6
MODELS = [f"model-{k}" for k in range(PARTITIONS)]
PER_MODEL = 3000  # 15 windows of 10 s (200 events each) per model
WINDOW_S = 10.0  # short windows: one closes somewhere every ~0.2 s while events flow
RATE = 900.0  # events/s over all models: ~20 s of traffic
SETTLE_S = 45.0
#: A split counts as settled once every daemon's /status said the same for this long:
#: longer than the daemon's health round (2 s), which refreshes /status's ``kafka``.
STABLE_S = 2.5


def _owned(d: DaemonProcess) -> frozenset[str]:
    """Partitions ``d`` says it owns (``/status`` lag: assigned and fetched)."""
    doc = d.status()
    return frozenset(doc["kafka"]["lag"]) if doc["kafka"]["assigned"] else frozenset()


def _split(live: Sequence[DaemonProcess], every: set[str]) -> dict[str, frozenset[str]] | None:
    """Each live daemon owns at least one partition, no partition has two owners, and
    together they own every partition; None until then."""
    owned = {d.name: _owned(d) for d in live}
    counts = Counter(tp for tps in owned.values() for tp in tps)
    if all(owned.values()) and set(counts) == every and max(counts.values()) == 1:
        return owned
    return None


def _settled(
    live: Sequence[DaemonProcess], every: set[str]
) -> Callable[[], dict[str, frozenset[str]] | None]:
    """A probe for :func:`wait_for`: the split of :func:`_split`, once it has stayed the
    same for :data:`STABLE_S` (a /status read during a rebalance may be a round old)."""
    seen: list[tuple[float, dict[str, frozenset[str]] | None]] = [(time.monotonic(), None)]

    def probe() -> dict[str, frozenset[str]] | None:
        now, owned = time.monotonic(), _split(live, every)
        since, last = seen[0]
        if owned is None or owned != last:
            seen[0] = (now, owned)
            return None
        return owned if now - since >= STABLE_S else None

    return probe


def _committed(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (-1 when none)."""
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        out = {}
        for p in range(PARTITIONS):
            om = c.committed(KTopicPartition(topic, p))
            out[p] = -1 if om is None else int(om)
        return out
    finally:
        c.close()


def test_join_and_leave_while_events_flow(
    kafka_broker: KafkaBroker,
    daemons: Callable[..., DaemonProcess],
    baselines_dir: Callable[..., Path],
    unique: Callable[[str], str],
) -> None:
    topic, group = unique("rebalance"), unique("rebalance-group")
    kafka_broker.create_topic(topic, partitions=PARTITIONS)
    common: dict[str, Any] = {
        "topics": [topic],
        "group_id": group,
        "models": MODELS,
        "baselines_dir": baselines_dir(*MODELS),
        "audit_windows": True,
        "window_seconds": WINDOW_S,
    }
    every = {f"{topic}/{p}" for p in range(PARTITIONS)}
    a, b, c = (daemons(n, **common) for n in ("a", "b", "c"))
    for d in (a, b):
        d.spawn()
    for d in (a, b):
        d.wait_ready()

    t0 = window_start()
    per_model = [timed_events(m, PER_MODEL, t0, seed=1400 + k) for k, m in enumerate(MODELS)]
    evs = [e for side_by_side in zip(*per_model, strict=True) for e in side_by_side]
    prod = BackgroundProducer(
        kafka_broker.bootstrap,
        topic,
        encode(evs),
        [e["model"].encode() for e in evs],
        rate=RATE,
        chunk=300,
        partitions=[MODELS.index(e["model"]) for e in evs],
    ).start()
    started = time.monotonic()

    def settled(live: Sequence[DaemonProcess], what: str) -> dict[str, frozenset[str]]:
        owned = wait_for(_settled(live, every), SETTLE_S, what)
        print(
            f"\n[rebalance] {what} after {time.monotonic() - started:.1f}s: "
            + ", ".join(f"{n} {sorted(tps)}" for n, tps in owned.items())
        )
        return owned

    settled([a, b], "a and b splitting the partitions")
    wait_for(lambda: prod.sent >= len(evs) // 4, 60, "a quarter of the events sent")
    c.start()
    settled([a, b, c], "a, b and c splitting the partitions")
    wait_for(lambda: prod.sent >= len(evs) // 2, 60, "half of the events sent")
    b.sigterm()
    settled([a, c], "a and c splitting the partitions after b stopped")
    prod.join()

    # Every window of every model evaluated (the last one by its idle timeout).
    expected: dict[tuple[str, float], set[str]] = {}
    for e in evs:
        ts = dt.datetime.fromisoformat(e["timestamp"]).timestamp()
        start = math.floor(ts / WINDOW_S) * WINDOW_S
        expected.setdefault((e["model"], start), set()).add(e["event_id"])

    def audits() -> dict[str, list[dict[str, Any]]]:
        return {d.name: read_audit(d.audit_path) for d in (a, b, c)}

    def all_evaluated() -> dict[str, list[dict[str, Any]]] | None:
        got = audits()
        seen = {(w["model"], w["start"]) for ws in got.values() for w in ws}
        return got if seen >= expected.keys() else None

    got = wait_for(all_evaluated, 60, "every (model, window) in an audit log")
    evaluated: Counter[tuple[str, float]] = Counter()
    for name, windows in got.items():
        for w in windows:
            key = (w["model"], w["start"])
            evaluated[key] += 1
            assert set(w["ids"]) == expected[key], f"{name}: window {key} is partial"
            assert len(w["ids"]) == len(expected[key]), f"{name}: window {key} has duplicates"
    twice = {k: n for k, n in evaluated.items() if n > 1}
    print(
        f"[rebalance] {len(evs)} events in {len(expected)} windows; audited per daemon: "
        + ", ".join(f"{n} {len(ws)}" for n, ws in got.items())
    )
    assert not twice, f"windows evaluated more than once: {twice}"

    # The group's offsets reach the end of every partition (a and c commit within 2 s).
    ends = Counter(MODELS.index(e["model"]) for e in evs)
    wait_for(
        lambda: _committed(kafka_broker.bootstrap, group, topic) == dict(ends),
        30,
        f"committed offsets at the partition ends {dict(ends)}",
    )
    for d in (a, c):
        d.sigterm()
