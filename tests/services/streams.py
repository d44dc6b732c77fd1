"""Event streams of the demo dataset's ``credit`` model for the tests that run the
daemon (integration, resilience, incidents, SRE): its training baseline, events on a
fixed event-time grid (or evenly spread inside a window, so window boundaries are known
exactly), and producing/consuming them with kafka-python."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from drift_monitor.baseline import Baseline, build_baseline, save_baseline
from drift_monitor.demo.dataset import (
    SCORE,
    DriftScenario,
    events,
    production_frame,
    training_frame,
)
from tests.services.wait import wait_for

MODEL = "credit"
#: Drifted by DEFAULT_DRIFT: one numeric and one categorical column.
DRIFTED_NUMERIC = "annual_income"
DRIFTED_CATEGORICAL = "loan_purpose"
WINDOW_S = 60.0
SPACING_S = 0.05  # 20 events per second of event time: 1200 per 60 s window
TRAINING_SOURCE = "drift_monitor.demo.dataset.training_frame(20000, seed=7)"
#: Version of the training baseline the metrics, readiness and dashboard tests load
#: (:func:`training_baseline`).
TRAINING_VERSION = "sre-train-20000-seed7"


@functools.cache
def training_baseline(version: str, source: str = TRAINING_SOURCE) -> Baseline:
    """The demo dataset's training baseline of model ``credit`` (20 000 rows, seed 7),
    built once per session for each ``version``."""
    return build_baseline(
        training_frame(20_000, seed=7),
        MODEL,
        prediction=[SCORE],
        version=version,
        source=source,
    )


def write_baseline(directory: Path, version: str, source: str = TRAINING_SOURCE) -> Path:
    """Save :func:`training_baseline` as ``<directory>/credit.dmb``; returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{MODEL}.dmb"
    save_baseline(training_baseline(version, source), path)
    return path


def window_start(hours_ago: float = 3.0, window_s: float = WINDOW_S) -> float:
    """An epoch time ``hours_ago`` in the past, aligned to a ``window_s`` boundary
    (in the past so that no event is ahead of its broker timestamp)."""
    t = time.time() - hours_ago * 3600.0
    return t - (t % window_s)


def iso(ts: float) -> str:
    """Epoch seconds ``ts`` as ISO 8601 UTC to the millisecond with a ``Z``
    (``2026-11-02T09:00:00.000Z``), as events and webhook bodies carry times."""
    return (
        dt.datetime.fromtimestamp(ts, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def timed_events(
    model: str,
    n: int,
    start: float,
    *,
    seed: int,
    drift: DriftScenario | None = None,
    spacing: float = SPACING_S,
    frame: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """``n`` SPEC-shaped events of ``model`` from the demo dataset, event ``i`` at
    ``start + i * spacing`` (a fixed grid, so window boundaries are known exactly)."""
    frame = production_frame(n, seed, drift) if frame is None else frame
    out = []
    for i, ev in enumerate(events(frame, model, dt.datetime.now(dt.UTC), 1.0, seed=seed)):
        ev["timestamp"] = iso(start + i * spacing)
        out.append(ev)
    return out


def window_events(
    model: str,
    start: float,
    window_s: float,
    n: int,
    *,
    seed: int,
    drift: DriftScenario | None = None,
) -> list[dict[str, Any]]:
    """``n`` SPEC-shaped events of ``model`` from the demo dataset (clean, or drifted by
    ``drift``), evenly spread inside the window ``[start, start + window_s)``: event
    ``i`` at ``start + (i + 0.5) * window_s / n``."""
    frame = production_frame(n, seed, drift)
    out = []
    for i, ev in enumerate(events(frame, model, dt.datetime.now(dt.UTC), 1.0, seed=seed)):
        ev["timestamp"] = iso(start + (i + 0.5) * window_s / n)
        out.append(ev)
    return out


def encode(evs: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in evs]


def producer(bootstrap: str, **options: Any) -> KafkaProducer:
    opts: dict[str, Any] = {"acks": "all", "linger_ms": 20, "batch_size": 256 * 1024}
    opts.update(options)
    return KafkaProducer(bootstrap_servers=bootstrap, **opts)


def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes | None],
    keys: Sequence[bytes | None] | None = None,
    *,
    partitions: Sequence[int | None] | None = None,
) -> None:
    """Produce every value (in order; None is a tombstone), flush, and check every
    send succeeded."""
    p = producer(bootstrap)
    try:
        futures = [
            p.send(
                topic,
                value=v,
                key=None if keys is None else keys[i],
                partition=None if partitions is None else partitions[i],
            )
            for i, v in enumerate(values)
        ]
        p.flush(timeout=120)
        for f in futures:
            f.get(timeout=60)
    finally:
        p.close(timeout=10)


#: One record to send: (key, value, partition or None for the partitioner).
Record = tuple[bytes | None, bytes, int | None]


def send_paced(
    p: KafkaProducer,
    topic: str,
    records: Iterable[Record],
    rate: float,
    *,
    chunk: int = 500,
    until: float | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """The one paced producer loop: send ``records`` in chunks of ``chunk`` at about
    ``rate`` records/s, flushing each chunk and checking every send succeeded.

    Stops when ``records`` is exhausted or, before a chunk, once ``time.monotonic()``
    reaches ``until``. ``records`` is read lazily, one chunk at a time (a generator
    can stamp each event with the wall-clock time it is sent). ``on_chunk(sent)`` runs
    after each acknowledged chunk. Returns how many records were sent.
    """
    it = iter(records)
    sent = 0
    t0 = time.monotonic()
    while until is None or time.monotonic() < until:
        batch = list(itertools.islice(it, chunk))
        if not batch:
            break
        futures = [p.send(topic, value=v, key=k, partition=part) for k, v, part in batch]
        p.flush(timeout=60)
        for f in futures:
            f.get(timeout=60)
        sent += len(batch)
        if on_chunk is not None:
            on_chunk(sent)
        ahead = sent / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)  # pacing the producer, not waiting for a result
    return sent


@dataclass
class BackgroundProducer:
    """Produces ``values`` (with ``keys``) in chunks from a thread at about ``rate``
    records/s (:func:`send_paced`), so a test can crash the consumer while data still
    arrives."""

    bootstrap: str
    topic: str
    values: Sequence[bytes]
    keys: Sequence[bytes | None]
    rate: float
    chunk: int = 500
    partitions: Sequence[int] | None = None

    def __post_init__(self) -> None:
        self.sent = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="it-producer", daemon=True)

    def start(self) -> BackgroundProducer:
        self._thread.start()
        return self

    def _run(self) -> None:
        parts = self.partitions
        records = (
            (self.keys[i], v, None if parts is None else parts[i])
            for i, v in enumerate(self.values)
        )
        p = producer(self.bootstrap)
        try:
            send_paced(p, self.topic, records, self.rate, chunk=self.chunk, on_chunk=self._sent)
        except BaseException as exc:  # reported by join()
            self.error = exc
        finally:
            p.close(timeout=10)

    def _sent(self, n: int) -> None:
        self.sent = n

    def join(self, timeout: float = 120.0) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"producer still running after {timeout:.0f}s"
        if self.error is not None:
            raise AssertionError(f"background producer failed: {self.error!r}")
        assert self.sent == len(self.values)


def read_topic(
    bootstrap: str, topic: str, expected: int, timeout: float = 30.0
) -> list[ConsumerRecord]:
    """Every record of ``topic`` from the beginning, until ``expected`` arrived (or
    ``timeout``); then one more short poll to see any excess."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout
        # the metadata of a topic the daemon creates on first send may lag
        parts = wait_for(
            lambda: consumer.partitions_for_topic(topic),
            timeout,
            f"topic {topic} to exist",
            interval=0.2,
        )
        consumer.assign([TopicPartition(topic, p) for p in sorted(parts)])
        consumer.seek_to_beginning()
        records: list[ConsumerRecord] = []
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()
