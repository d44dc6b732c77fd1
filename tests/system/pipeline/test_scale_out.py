"""Two daemons in one consumer group split a topic's partitions: with events keyed by
model, each model is evaluated in exactly one process and together they count every
event once; a model spread over partitions is flagged in /status ``warnings``."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.services.daemon import DaemonProcess, Metrics, audit_ids, read_audit, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import (
    BackgroundProducer,
    encode,
    produce,
    timed_events,
    window_start,
)

pytestmark = pytest.mark.kafka

PARTITIONS = 4
KEYED = [f"model-{k}" for k in range(PARTITIONS)]
SPREAD = "spread"
PER_MODEL = 1300  # one full 60 s window (1200 events) and a bit of the next


def _owned(d: DaemonProcess) -> set[str]:
    """Partitions ``d`` reports lag for (i.e. owns and has fetched)."""
    doc = d.status()
    return set(doc["kafka"]["lag"]) if doc["kafka"]["assigned"] else set()


def test_two_processes_split_the_partitions(
    kafka_broker: KafkaBroker,
    daemons: Callable[..., DaemonProcess],
    baselines_dir: Callable[..., Path],
    unique: Callable[[str], str],
) -> None:
    topic = unique("scale")
    kafka_broker.create_topic(topic, partitions=PARTITIONS)
    common = {
        "topics": [topic],
        "group_id": unique("scale-group"),
        "models": [*KEYED, SPREAD],
        "baselines_dir": baselines_dir(*KEYED, SPREAD),
    }
    a = daemons("a", **common).start()
    b = daemons("b", **common).start()
    every = {f"{topic}/{p}" for p in range(PARTITIONS)}

    def split() -> tuple[set[str], set[str]] | None:
        owned_a, owned_b = _owned(a), _owned(b)
        ok = owned_a and owned_b and not owned_a & owned_b and owned_a | owned_b == every
        return (owned_a, owned_b) if ok else None

    owned_a, owned_b = wait_for(split, 60, "both processes owning disjoint partitions")
    print(f"\n[scale-out] a owns {sorted(owned_a)}, b owns {sorted(owned_b)}")

    # Keyed by model, model k on partition k.
    t0 = window_start()
    values: list[bytes] = []
    keys: list[bytes | None] = []
    parts: list[int | None] = []
    for k, model in enumerate(KEYED):
        evs = timed_events(model, PER_MODEL, t0, seed=600 + k)
        values += encode(evs)
        keys += [model.encode()] * PER_MODEL
        parts += [k] * PER_MODEL
    produce(kafka_broker.bootstrap, topic, values, keys, partitions=parts)

    def all_counted() -> tuple[Metrics, Metrics] | None:
        ma, mb = a.metrics(), b.metrics()
        total = ma.total("drift_monitor_events_total") + mb.total("drift_monitor_events_total")
        return (ma, mb) if total >= len(values) else None

    ma, mb = wait_for(all_counted, 60, "every keyed event counted by one of the processes")
    for k, model in enumerate(KEYED):
        acc_a = ma.value("drift_monitor_events_total", model=model, outcome="accepted")
        acc_b = mb.value("drift_monitor_events_total", model=model, outcome="accepted")
        owner = "a" if f"{topic}/{k}" in owned_a else "b"
        assert (acc_a, acc_b) == ((PER_MODEL, 0) if owner == "a" else (0, PER_MODEL)), model
    assert ma.total("drift_monitor_events_total") + mb.total("drift_monitor_events_total") == (
        len(values)
    )

    # Each model's windows are evaluated in exactly one process (its partition's owner).
    def evaluated() -> dict[str, list[str]] | None:
        done: dict[str, list[str]] = {}
        for name, d in (("a", a), ("b", b)):
            m = d.metrics()
            for model in KEYED:
                if m.get("drift_monitor_window_events", model=model) == PER_MODEL - 1200:
                    done.setdefault(model, []).append(name)
        return done if len(done) == len(KEYED) else None

    where = wait_for(evaluated, 30, "the last window of every keyed model evaluated")
    assert all(len(procs) == 1 for procs in where.values()), where
    for name, d in (("a", a), ("b", b)):
        assert not d.status()["warnings"], f"{name} warns about keyed traffic"

    # One model without a key, spread over every partition: a fraction in each process.
    spread = encode(timed_events(SPREAD, 800, t0, seed=700))
    produce(
        kafka_broker.bootstrap,
        topic,
        spread,
        [None] * len(spread),
        partitions=[i % PARTITIONS for i in range(len(spread))],
    )
    key = f"partial_traffic:{SPREAD}"

    def warned() -> list[str] | None:
        names = [n for n, d in (("a", a), ("b", b)) if key in d.status()["warnings"]]
        return names or None

    names = wait_for(warned, 30, f"/status warnings[{key!r}] in one of the processes")
    for n in names:
        message = {"a": a, "b": b}[n].status()["warnings"][key]
        print(f"[scale-out] {n}: {message}")
        assert SPREAD in message

    def spread_accepted() -> float:
        return sum(
            d.metrics().value("drift_monitor_events_total", model=SPREAD, outcome="accepted")
            for d in (a, b)
        )

    wait_for(lambda: spread_accepted() >= len(spread), 30, f"every {SPREAD} event accepted")
    assert spread_accepted() == len(spread)
    a.sigterm()
    b.sigterm()


def test_a_process_joining_mid_stream_loses_nothing(
    kafka_broker: KafkaBroker,
    daemons: Callable[..., DaemonProcess],
    baselines_dir: Callable[..., Path],
    unique: Callable[[str], str],
) -> None:
    """A rebalance while events flow: partitions move from the first process to the
    second one, which re-reads them from the committed offsets. Together their audit
    logs hold every event, in complete windows."""
    topic = unique("join")
    kafka_broker.create_topic(topic, partitions=PARTITIONS)
    common = {
        "topics": [topic],
        "group_id": unique("join-group"),
        "models": KEYED,
        "baselines_dir": baselines_dir(*KEYED),
        "audit_windows": True,
    }
    a = daemons("a", **common).start()
    t0 = window_start()
    per_model = [timed_events(m, 2500, t0, seed=900 + k) for k, m in enumerate(KEYED)]
    evs = [e for side_by_side in zip(*per_model, strict=True) for e in side_by_side]
    values = encode(evs)
    prod = BackgroundProducer(
        kafka_broker.bootstrap,
        topic,
        values,
        [e["model"].encode() for e in evs],
        rate=700,
        partitions=[KEYED.index(e["model"]) for e in evs],
    ).start()
    wait_for(lambda: a.accepted() >= 1500, 60, "a consuming")
    b = daemons("b", **common).start()
    prod.join()
    ids = {e["event_id"] for e in evs}

    def audited() -> dict[str, int]:
        return audit_ids([*read_audit(a.audit_path), *read_audit(b.audit_path)])

    wait_for(lambda: ids <= audited().keys(), 60, "every event id audited by a or b")
    expected: dict[tuple[str, float], set[str]] = {}
    for e in evs:
        ts = dt.datetime.fromisoformat(e["timestamp"]).timestamp()
        expected.setdefault((e["model"], math.floor(ts / 60.0) * 60.0), set()).add(e["event_id"])
    for name, d in (("a", a), ("b", b)):
        for w in read_audit(d.audit_path):
            assert set(w["ids"]) == expected[(w["model"], w["start"])], (name, w["start"])
    counts = audited()
    print(
        f"\n[rebalance] {len(ids)} events; a audited {len(read_audit(a.audit_path))} windows, "
        f"b {len(read_audit(b.audit_path))}; ids audited more than once: "
        f"{sum(n > 1 for n in counts.values())}"
    )
    assert read_audit(b.audit_path), "b took over partitions and evaluated their windows"
    a.sigterm()
    b.sigterm()
