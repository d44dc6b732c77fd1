"""Ingest throughput: the daemon on each Kafka client against each client's bare loop.

Produces N realistic events (20 numeric + 5 categorical features and a score, keyed by
model over 8 models and 4 partitions) to a fresh topic, then measures on that topic:

(a) ``bare kafka-python`` / ``bare confluent``: a consumer of that client (same
    settings as the daemon's) that only polls and decodes every value with orjson -
    the floor any consumer on that client pays;
(b) ``daemon (kafka-python)`` / ``daemon (confluent)``: :class:`Monitor` in-process on
    the source ``kafka.client`` builds (:func:`~drift_monitor.source.factory.build_kafka`)
    with a fresh group: decode, validate, window (tumbling 5 min, ~10 000 events per
    model-window at full size) and evaluate every closed window with all default tests;
(c) ``memory``: the same Monitor on a :class:`MemorySource` holding the same records
    (no Kafka client): our own cost per event.

Each bare loop runs before and after the daemons; their mean is its baseline. Rates
count from the first record received (the group join is reported separately).
Targets (issue 14): the default client's daemon >= 1.5x the bare kafka-python loop,
and each daemon >= 0.6 of its own client's bare loop.

    .venv/bin/python -m bench.ingest [--size small|full] [--bootstrap HOST:PORT]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench.broker import create_topic, delete_topic, kafka, produce
from bench.config import app_config, validated
from bench.data import BASELINE_ROWS, EventStream, Schema, model_names, write_baselines
from bench.report import Watchdog, header, parser, rate, ratio, result
from drift_monitor.config import AppConfig
from drift_monitor.config.models import KafkaSettings
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import EventSource, Record
from drift_monitor.source.memory import MemorySource

SIZES = {"small": 20_000, "full": 1_000_000}
MODELS = 8
PARTITIONS = 4
WINDOWS = 12  # event-time windows per model over the whole stream
WINDOW_SECONDS = 300.0
#: Targets of issue 14: the default daemon against the bare kafka-python loop, and
#: every daemon against its own client's bare loop.
TARGET_VS_KAFKA_PYTHON = 1.5
TARGET_VS_OWN = 0.6
CLIENTS = ("kafka-python", "confluent")
STALL_S = 90.0
#: Events done when a guarded run stalled (the process must then end with os._exit).
STALLS: list[int] = []


@dataclass(frozen=True)
class Run:
    """One measured consumer run: ``join`` seconds until the first record, then
    ``seconds`` (wall) and ``cpu`` (this process, all threads) until the last."""

    total: int
    join: float
    seconds: float
    cpu: float
    windows: int = 0
    attempt: int = 1
    stalled: bool = False

    @property
    def rate(self) -> float:
        return self.total / self.seconds

    @property
    def cpu_us(self) -> float:
        return self.cpu / self.total * 1e6

    def describe(self) -> str:
        text = f"{rate(self.total, self.seconds)}, {self.cpu_us:.1f} us CPU/event"
        if self.windows:
            text += f", {self.windows} windows evaluated"
        text += f"; {self.join:.1f} s to the first record"
        if self.attempt > 1:
            text += f" (attempt {self.attempt}: the earlier ones stalled)"
        if self.stalled:
            text += " (STALLED: measured on the events before the stall)"
        return text


Progress = list[tuple[float, float, int]]  # (wall, CPU, events) at each change


def bare_loop(bootstrap: str, topic: str, total: int, progress: Progress) -> int:
    """Poll + orjson.loads every value until ``total``; returns windows evaluated (0)."""
    from kafka import KafkaConsumer  # noqa: PLC0415

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
    try:
        while n < total:
            batches = consumer.poll(timeout_ms=200, max_records=5000)
            for msgs in batches.values():
                if not progress:
                    progress.append((time.perf_counter(), time.process_time(), 0))
                for m in msgs:
                    loads(m.value)
                n += len(msgs)
            if batches:
                progress.append((time.perf_counter(), time.process_time(), n))
    finally:
        consumer.close(autocommit=False)
    return 0


def bare_confluent_loop(bootstrap: str, topic: str, total: int, progress: Progress) -> int:
    """The confluent-kafka twin of :func:`bare_loop` (``consume`` batches of 5000)."""
    from confluent_kafka import Consumer  # noqa: PLC0415

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    loads = orjson.loads
    n = 0
    try:
        while n < total:
            msgs = consumer.consume(num_messages=5000, timeout=0.2)
            if msgs and not progress:
                progress.append((time.perf_counter(), time.process_time(), 0))
            for m in msgs:
                if m.error() is None:
                    loads(m.value())  # type: ignore[arg-type]
                    n += 1
            if msgs:
                progress.append((time.perf_counter(), time.process_time(), n))
    finally:
        consumer.close()
    return 0


BARE = {"kafka-python": bare_loop, "confluent": bare_confluent_loop}


def kafka_daemon_loop(config: AppConfig, total: int, progress: Progress) -> int:
    """The daemon (:class:`Monitor` on the source of ``config.kafka.client``) until
    ``total`` events are counted; returns windows evaluated."""
    from drift_monitor.source.factory import build_kafka  # noqa: PLC0415

    monitor = Monitor(config, build_kafka(config.kafka).source)
    monitor.start_background()
    try:
        while True:
            monitor.run_once()
            done = _processed(monitor)
            if done and not progress:
                progress.append((time.perf_counter(), time.process_time(), 0))
            if done and progress[-1][2] != done:
                progress.append((time.perf_counter(), time.process_time(), done))
            if done >= total:
                return sum(monitor.state.windows_closed.values())
    finally:
        monitor.shutdown()


def guarded(what: str, body: Callable[[Progress], int], total: int, attempts: int = 3) -> Run:
    """Run ``body`` on a worker thread, watched from this one. A run that makes no
    progress for STALL_S (a client call that never returns) is reported with the stuck
    thread's stack and abandoned; the next attempt starts afresh."""
    for attempt in range(1, attempts + 1):
        progress: Progress = []
        out: list[int] = []
        errors: list[BaseException] = []
        t0 = time.perf_counter()

        def work(
            progress: Progress = progress,
            out: list[int] = out,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                out.append(body(progress))
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=work, daemon=True, name=f"bench-{attempt}")
        worker.start()
        stalled = False
        while worker.is_alive():
            worker.join(1.0)
            last = progress[-1][0] if progress else t0
            if worker.is_alive() and time.perf_counter() - last > STALL_S:
                frame = sys._current_frames().get(worker.ident or -1)
                stack = "".join(traceback.format_stack(frame)[-7:]) if frame else "?"
                done = progress[-1][2] if progress else 0
                print(
                    f"STALLED: {what} (attempt {attempt}) made no progress for {STALL_S:.0f} s "
                    f"after {done:,} of {total:,} events; its thread is blocked in:\n{stack}",
                    flush=True,
                )
                STALLS.append(done)
                stalled = True
                break
        if stalled:
            if progress and progress[-1][2] >= total // 2:
                # Enough events before the stall to measure the rate on them.
                first, last_p = progress[0], progress[-1]
                return Run(
                    last_p[2],
                    first[0] - t0,
                    last_p[0] - first[0],
                    last_p[1] - first[1],
                    0,
                    attempt,
                    stalled=True,
                )
            continue
        if errors:
            raise errors[0]
        first, last_p = progress[0], progress[-1]
        return Run(
            total, first[0] - t0, last_p[0] - first[0], last_p[1] - first[1], out[0], attempt
        )
    raise RuntimeError(f"{what} stalled {attempts} times")


def _processed(monitor: Monitor) -> int:
    return sum(monitor.state.events.values())


def run_monitor(config: AppConfig, source: EventSource, total: int) -> Run:
    """Run the daemon's consume loop until ``total`` events are counted (this thread)."""
    t0 = time.perf_counter()
    monitor = Monitor(config, source)
    monitor.start_background()
    first = cpu0 = 0.0
    try:
        with Watchdog("the daemon's consume loop") as dog:
            while True:
                monitor.run_once()
                done = _processed(monitor)
                dog.progress = done
                if not first and done:
                    first, cpu0 = time.perf_counter(), time.process_time()
                if done >= total:
                    break
        end, cpu1 = time.perf_counter(), time.process_time()
        windows = sum(monitor.state.windows_closed.values())
    finally:
        monitor.shutdown()
    return Run(total, first - t0, end - first, cpu1 - cpu0, windows)


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
        rows = BASELINE_ROWS[args.size]
        write_baselines(work / "baselines", Schema(), models, rows=rows)
        result("baselines", f"{MODELS} x {rows:,} training rows in {time.perf_counter() - t:.1f} s")
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
            cfg = app_config(work, models, bootstrap=bootstrap, topic=topic)
            config = validated(cfg)
            bare: dict[str, list[Run]] = {c: [] for c in CLIENTS}
            daemons: dict[str, Run] = {}
            try:
                for client in CLIENTS:
                    _bare(bare, client, bootstrap, topic, total, "#1")
                for client in CLIENTS:
                    daemons[client] = _daemon(config, client, total)
                for client in CLIENTS:
                    _bare(bare, client, bootstrap, topic, total, "#2")
            finally:
                delete_topic(bootstrap, topic)

        records = _records(EventStream(Schema(), models, event_rate, PARTITIONS, seed=11), total)
        source = MemorySource()
        source.feed(records)
        del records
        mem = run_monitor(validated(app_config(work, models, topic="mem")), source, total)
        result("pipeline (MemorySource)", mem.describe())

    default = KafkaSettings.model_fields["client"].default
    rates = {
        c: sum(r.total for r in runs) / sum(r.seconds for r in runs) for c, runs in bare.items()
    }
    cpus = {c: sum(r.cpu_us for r in runs) / len(runs) for c, runs in bare.items()}
    for client in CLIENTS:
        result(
            f"bare {client} (mean of #1, #2)",
            f"{rates[client]:,.0f} events/s, {cpus[client]:.1f} us CPU/event",
        )
    for client in CLIENTS:
        d = daemons[client]
        result(
            f"CPU per event ({client})",
            f"bare {cpus[client]:.1f} us, daemon {d.cpu_us:.1f} us, pipeline alone "
            f"{mem.cpu_us:.1f} us (bare + pipeline = {cpus[client] + mem.cpu_us:.1f} us)",
        )
    for client in CLIENTS:
        d = daemons[client]
        mark = " (the default)" if client == default else ""
        if client != "kafka-python":  # else the same ratio as the next one
            ratio(
                f"daemon ({client}){mark} / bare kafka-python (wall-clock rate)",
                d.rate / rates["kafka-python"],
                TARGET_VS_KAFKA_PYTHON if client == default else None,
            )
        ratio(
            f"daemon ({client}) / bare {client} (wall-clock rate)",
            d.rate / rates[client],
            TARGET_VS_OWN,
        )
        ratio(
            f"daemon ({client}) / bare {client} (by CPU per event)", cpus[client] / d.cpu_us, None
        )
    ratio(
        "pipeline alone (no Kafka) / bare kafka-python (wall-clock rate)",
        mem.rate / rates["kafka-python"],
        None,
    )
    return 0


def _daemon(config: AppConfig, client: str, total: int) -> Run:
    def body(progress: Progress) -> int:
        return kafka_daemon_loop(_fresh_group(config, client), total, progress)

    run = guarded(f"the daemon's consume loop ({client})", body, total)
    result(f"daemon ({client})", run.describe())
    return run


def _bare(
    runs: dict[str, list[Run]], client: str, bootstrap: str, topic: str, total: int, tag: str
) -> None:
    loop = BARE[client]
    run = guarded(f"the bare {client} loop", lambda pr: loop(bootstrap, topic, total, pr), total)
    runs[client].append(run)
    result(f"bare {client} {tag}", run.describe())


def _fresh_group(config: AppConfig, client: str) -> AppConfig:
    """``config`` on ``client`` with a new consumer group (each attempt reads the topic
    from the start)."""
    kafka = config.kafka.model_copy(
        update={"group_id": f"bench-daemon-{uuid.uuid4().hex[:8]}", "client": client}
    )
    return config.model_copy(update={"kafka": kafka})


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
    try:
        code = main()
    except Exception:
        if not STALLS:
            raise
        traceback.print_exc()
        code = 1
    if STALLS:  # a stuck client thread could block the interpreter's exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    raise SystemExit(code)
