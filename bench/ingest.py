"""Ingest throughput: the daemon against a bare kafka-python consumer loop.

Produces N realistic events (20 numeric + 5 categorical features and a score, keyed by
model over 8 models and 4 partitions) to a fresh topic, then measures on that topic:

(a) ``bare``: a kafka-python consumer (same settings as the daemon's) that only polls
    and decodes every value with orjson - the floor any Python consumer pays;
(b) ``daemon``: :class:`Monitor` in-process on a :class:`KafkaEventSource` with a fresh
    group: decode, validate, window (tumbling 5 min, ~10 000 events per model-window at
    full size) and evaluate every closed window with all default tests;
(c) ``memory``: the same Monitor on a :class:`MemorySource` holding the same records
    (no Kafka client): our own cost per event.

``bare`` runs before and after ``daemon``; their mean is the baseline. Rates count from
the first record received (the group join is reported separately).

    .venv/bin/python -m bench.ingest [--size small|full] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench._common import (
    EventStream,
    Schema,
    app_config,
    create_topic,
    delete_topic,
    header,
    kafka,
    model_names,
    parser,
    produce,
    rate,
    ratio,
    result,
    validated,
    write_baselines,
)
from drift_monitor.config import AppConfig
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import EventSource, Record
from drift_monitor.source.memory import MemorySource

SIZES = {"small": 20_000, "full": 1_000_000}
MODELS = 8
PARTITIONS = 4
WINDOWS = 12  # event-time windows per model over the whole stream
WINDOW_SECONDS = 300.0
TARGET = 0.70  # daemon / bare


def bare_loop(bootstrap: str, topic: str, total: int) -> tuple[float, float]:
    """Poll + orjson.loads every value until ``total``; (join seconds, seconds from the
    first record to the last)."""
    from kafka import KafkaConsumer  # noqa: PLC0415

    t0 = time.perf_counter()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=5000,
    )
    loads = orjson.loads
    n = 0
    first = None
    try:
        while n < total:
            batches = consumer.poll(timeout_ms=200, max_records=5000)
            for msgs in batches.values():
                if first is None:
                    first = time.perf_counter()
                for m in msgs:
                    loads(m.value)
                n += len(msgs)
        end = time.perf_counter()
    finally:
        consumer.close(autocommit=False)
    assert first is not None
    return first - t0, end - first


def _processed(monitor: Monitor) -> int:
    return sum(monitor.state.events.values())


def run_monitor(config: AppConfig, source: EventSource, total: int) -> tuple[float, float, int]:
    """Run the daemon's consume loop until ``total`` events are counted; (seconds to the
    first processed batch, seconds from there to the last, windows evaluated)."""
    t0 = time.perf_counter()
    monitor = Monitor(config, source)
    monitor.start_background()
    first = None
    try:
        while True:
            monitor.run_once()
            done = _processed(monitor)
            if first is None and done:
                first = time.perf_counter()
            if done >= total:
                break
        end = time.perf_counter()
        windows = sum(monitor.state.windows_closed.values())
    finally:
        monitor.shutdown()
    assert first is not None
    return first - t0, end - first, windows


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--bootstrap", help="use this broker instead of starting a private one")
    p.add_argument("--events", type=int, help="override the number of events")
    args = p.parse_args(argv)
    total = args.events or SIZES[args.size]
    header(f"ingest: {total:,} events, {MODELS} models, {PARTITIONS} partitions")
    models = model_names(MODELS)
    per_window = total / (MODELS * WINDOWS)
    event_rate = per_window * MODELS / WINDOW_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        write_baselines(work / "baselines", Schema(), models)
        result("baselines", f"{MODELS} x 100,000 training rows in {time.perf_counter() - t:.1f} s")
        with kafka(args.bootstrap) as bootstrap:
            topic = f"bench-ingest-{uuid.uuid4().hex[:8]}"
            create_topic(bootstrap, topic, PARTITIONS)
            stream = EventStream(Schema(), models, event_rate, PARTITIONS, seed=11)
            t = time.perf_counter()
            spent, nbytes = produce(bootstrap, topic, stream, total)
            result(
                "produced",
                f"{total:,} events, mean value {nbytes / total:.0f} bytes, "
                f"{time.perf_counter() - t:.1f} s (producer {spent:.1f} s)",
            )
            result("window", f"tumbling {WINDOW_SECONDS:.0f} s, ~{per_window:,.0f} events/model")
            try:
                j1, bare1 = bare_loop(bootstrap, topic, total)
                result("bare loop #1", rate(total, bare1) + f", group join {j1:.1f} s")

                cfg = app_config(work, models, bootstrap=bootstrap, topic=topic)
                cfg["kafka"]["group_id"] = f"bench-daemon-{uuid.uuid4().hex[:8]}"
                cfg["kafka"]["poll_timeout_ms"] = 200
                config = validated(cfg)
                from drift_monitor.source.kafka import KafkaEventSource  # noqa: PLC0415

                jd, daemon_s, windows = run_monitor(config, KafkaEventSource(config.kafka), total)
                result(
                    "daemon (Kafka)",
                    rate(total, daemon_s) + f", {windows} windows evaluated, join {jd:.1f} s",
                )

                j2, bare2 = bare_loop(bootstrap, topic, total)
                result("bare loop #2", rate(total, bare2) + f", group join {j2:.1f} s")
            finally:
                delete_topic(bootstrap, topic)

        records = _records(EventStream(Schema(), models, event_rate, PARTITIONS, seed=11), total)
        source = MemorySource()
        source.feed(records)
        del records
        mcfg = validated(app_config(work, models, topic="mem"))
        _, mem_s, mwin = run_monitor(mcfg, source, total)
        result("pipeline (MemorySource)", rate(total, mem_s) + f", {mwin} windows evaluated")

    bare_rate = total / ((bare1 + bare2) / 2)
    daemon_rate = total / daemon_s
    mem_rate = total / mem_s
    result("bare loop (mean of #1, #2)", f"{bare_rate:,.0f} events/s")
    # Per-event costs: if client and pipeline costs simply add up, daemon ~ 1/(1/bare+1/mem).
    result(
        "cost per event",
        f"bare {1e6 / bare_rate:.1f} us, pipeline {1e6 / mem_rate:.1f} us, "
        f"daemon {1e6 / daemon_rate:.1f} us (bare + pipeline = "
        f"{1e6 / bare_rate + 1e6 / mem_rate:.1f} us)",
    )
    ratio("daemon / bare", daemon_rate / bare_rate, TARGET)
    ratio("pipeline (no Kafka) / bare", mem_rate / bare_rate, 1.0)
    return 0


def _records(stream: EventStream, total: int) -> list[Record]:
    """The same events as produced, as records with per-partition offsets."""
    out: list[Record] = []
    offsets = [0] * stream.partitions
    left = total
    while left > 0:
        n = min(left, 50_000)
        left -= n
        keys, parts, values, ts = stream.batch(n)
        for k, part, v, ms in zip(keys, parts, values, ts, strict=True):
            out.append(Record("mem", part, offsets[part], k, v, ms))
            offsets[part] += 1
    return out


if __name__ == "__main__":
    raise SystemExit(main())
