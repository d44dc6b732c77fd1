"""Model quality's cost: the label join's throughput per core, and the daemon's ingest
rate with labels on vs off on the same stream, in one run.

(a) ``join``: the daemon's label path without Kafka, single-threaded: decode every
    prediction and label event (orjson), encode outputs and labels for the baseline's
    task, :meth:`JoinStore.apply` a batch, :meth:`PerformanceTracker.evaluate` its open
    windows and :meth:`JoinStore.flush` (one log frame, fsync) per
    batch, with labels arriving ``DELAY_WINDOWS`` windows after their predictions (80 %
    of them; the rest expire). Reported as labels per CPU-second (= per core) and per
    wall second; predictions are tracked in the same loop and their cost is included.

(b) ``ingest``: the daemon (:class:`Monitor`, every default test on every closed
    5-minute window) on an in-memory source (no Kafka client cost to dilute the
    difference), on the same stream (predictions with their label-only events
    interleaved on the same topic) with labels off (no ``labels`` section: the label
    events are rejected as invalid and counted) and on (``labels`` configured: they are
    joined; the join store is flushed with ``synchronous: FULL`` by the checkpointer
    before every commit, performance evaluated on every tick). The rate is records per
    wall second until every record is read and every prediction counted. Order off, on,
    off: the baseline is the mean of the two off runs. Target (issue 15): on >= 0.8 x off.
    Diagnostics: the daemon on the predictions alone (as before labels existed), against
    which labels on costs the label traffic as well as the join; and labels on with the
    labels on their own topic (``labels.topic``) instead of label-only events, against the
    predictions alone (what the former ``bench.labels_ingest`` measured).

    .venv/bin/python -m bench.label_ingest [--size small|full] [--batch 5000]
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from bench.config import app_config, validated
from bench.data import SCORE, T0, EventStream, Schema, training_frame
from bench.report import Watchdog, header, parser, ratio, result
from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.baseline.model import Baseline
from drift_monitor.daemon import Monitor
from drift_monitor.labels.decision import DegradationSettings
from drift_monitor.labels.encode import encode_label, encode_outputs
from drift_monitor.labels.store import JoinStore, Label, Prediction, tracked
from drift_monitor.labels.tracker import PerformanceTracker
from drift_monitor.loop import Job
from drift_monitor.source.base import Record
from drift_monitor.source.memory import MemorySource

SIZES = {"small": 20_000, "full": 300_000}
WINDOW_SECONDS = 300.0
#: Prediction windows over the stream (the event rate follows from the size).
WINDOWS = 12
#: Labels arrive this many windows after their prediction (event time).
DELAY_WINDOWS = 3
#: Share of predictions that ever get a label.
LABELLED = 0.8
LABEL = "label"
MODEL = "m00"
TOPIC = "predictions"
#: The labels topic of the diagnostic run with labels on their own topic.
LABELS_TOPIC = "labels"
#: Issue 15: the daemon's rate with labels on >= this share of its rate with labels off.
TARGET_ON_VS_OFF = 0.8
#: The diagnostic run's labels.sample_rate (the lever for high-volume models).
SAMPLED = 0.1


def labelled_baseline(model: str, rows: int) -> Baseline:
    """A baseline of the benchmark schema with a 0/1 label drawn from the score, so it
    carries the validation-set performance the tracker judges windows against."""
    df = training_frame(Schema(), rows)
    df[LABEL] = (np.random.default_rng(5).random(rows) < df[SCORE].to_numpy()).astype(int)
    return build_baseline(
        df,
        model,
        version="bench",
        prediction=[SCORE],
        label=LABEL,
        categorical=list(Schema().categorical),
    )


@dataclass(frozen=True)
class LabelledStream:
    """Prediction event values and, interleaved in event time, label event values for
    ``LABELLED`` of them, ``DELAY_WINDOWS`` windows late: ``records`` in arrival order
    (each ``(is_label, value)``), ``predictions`` and ``labels`` counts."""

    records: list[tuple[bool, bytes]]
    predictions: int
    labels: int
    label_ids: list[str]


def labelled_stream(model: str, n: int, seed: int = 3) -> LabelledStream:
    """``n`` predictions of one model (from :class:`bench.data.EventStream`, spread over
    :data:`WINDOWS` windows) with their labels (label-only events: ``model``,
    ``event_id``, ``label``, ``timestamp`` in ms)."""
    stream = EventStream(Schema(), [model], n / (WINDOWS * WINDOW_SECONDS), seed=seed)
    _, _, values, ts = stream.batch(n)
    rng = np.random.default_rng(seed)
    delay_ms = DELAY_WINDOWS * WINDOW_SECONDS * 1000
    labelled = rng.random(n) < LABELLED
    pending: list[tuple[int, bytes]] = []
    records: list[tuple[bool, bytes]] = []
    ids: list[str] = []
    j = 0
    for value, t, has in zip(values, ts, labelled.tolist(), strict=True):
        while j < len(pending) and pending[j][0] <= t:
            records.append((True, pending[j][1]))
            j += 1
        records.append((False, value))
        if has:
            ev = orjson.loads(value)
            ids.append(ev["event_id"])
            y = int(rng.random() < float(ev["prediction"]))
            label = orjson.dumps(
                {"model": model, "event_id": ev["event_id"], "label": y, "timestamp": t + delay_ms}
            )
            pending.append((t + int(delay_ms), label))
    records.extend((True, v) for _, v in pending[j:])
    return LabelledStream(records, n, int(labelled.sum()), ids)


def _chunks(records: list[tuple[bool, bytes]], size: int) -> Iterator[list[tuple[bool, bytes]]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


@dataclass(frozen=True)
class JoinRun:
    """(a): ``labels`` joined and ``predictions`` tracked in ``wall`` / ``cpu`` seconds
    in all, of which ``eval_cpu`` scoring ``scored`` windows (the tracker)."""

    labels: int
    predictions: int
    wall: float
    cpu: float
    flushes: int
    eval_cpu: float
    scored: int

    def per_core(self) -> float:
        """Labels per CPU-second of the join (decode, encode, apply, expire, flush)."""
        return self.labels / (self.cpu - self.eval_cpu)


def join_throughput(baseline: Baseline, data: LabelledStream, batch: int, workdir: Path) -> JoinRun:
    """Run (a) on ``data`` in batches of ``batch`` records; asserts every label that has
    its prediction is joined exactly once."""
    perf = baseline.performance
    assert perf is not None
    spec = perf.spec
    model = baseline.model
    store = JoinStore(workdir / "labels.join", max_delay=10 * DELAY_WINDOWS * WINDOW_SECONDS)
    tracker = PerformanceTracker(store, model, perf, DegradationSettings(min_labels=100))
    loads = orjson.loads
    flushes = scored = 0
    eval_cpu = 0.0
    seen: dict[int, tuple[int, int]] = {}
    watermark = T0
    t_wall, t_cpu = time.perf_counter(), time.process_time()
    for chunk in _chunks(data.records, batch):
        preds: list[Prediction] = []
        labels: list[Label] = []
        for is_label, value in chunk:
            ev = loads(value)
            t = ev["timestamp"] / 1000.0
            if is_label:
                y = encode_label(spec, ev["label"])
                if y is not None:
                    labels.append(Label(ev["event_id"], y, t))
                continue
            out = encode_outputs(spec, ev["prediction"])
            if out is not None:
                w = int((t - T0) // WINDOW_SECONDS)
                end = T0 + (w + 1) * WINDOW_SECONDS
                preds.append(Prediction(ev["event_id"], w, end, t, out))
            watermark = max(watermark, t)
        store.apply(model, preds, labels)
        store.expire(watermark)
        t_eval = time.process_time()
        # As the daemon's tick does: only the windows whose counts changed are scored.
        scored += len(tracker.evaluate(watermark, seen))
        eval_cpu += time.process_time() - t_eval
        store.flush()
        flushes += 1
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    joined = store.counters(model).joined
    store.close()
    # Labels of predictions finalised before they arrived are ignored: none here, as
    # windows become final only at 95 % coverage (80 % are labelled) or after max_delay.
    assert joined == data.labels, (joined, data.labels)
    return JoinRun(joined, data.predictions, wall, cpu, flushes, eval_cpu, scored)


@dataclass(frozen=True)
class IngestRun:
    """(b): ``records`` (``predictions`` of them) consumed in ``wall`` / ``cpu``
    seconds; ``windows`` drift windows and ``final`` prediction windows evaluated."""

    predictions: int
    records: int
    wall: float
    cpu: float
    windows: int
    final: int

    @property
    def rate(self) -> float:
        """Records per wall second."""
        return self.records / self.wall

    def describe(self) -> str:
        """One result line."""
        return (
            f"{self.rate:,.0f} records/s, {self.predictions / self.wall:,.0f} predictions/s "
            f"({self.records:,} records in {self.wall:.2f} s, "
            f"{self.cpu / self.records * 1e6:.1f} us CPU per record; "
            f"{self.windows} drift windows, {self.final} final performance windows)"
        )


def ingest_run(
    workdir: Path,
    data: LabelledStream,
    sample_rate: float | None,
    label_events: bool = True,
    synchronous: str = "FULL",
    labels_topic: bool = False,
) -> IngestRun:
    """(b) once: a fresh state directory, the Monitor (with the ``labels`` section at
    ``sample_rate``; None: labels off) on a MemorySource holding the predictions and,
    ``label_events``, the label events in their arrival order: label-only events on the
    prediction topic, or (``labels_topic``) on their own :data:`LABELS_TOPIC`. Timed from
    the first round to the last flush (every record read, the windows closed, a last
    tick)."""
    state = workdir / f"state-{time.monotonic_ns()}"
    cfg = app_config(workdir, [MODEL], topic=TOPIC, baselines_dir=workdir / "baselines")
    cfg["state"]["dir"] = str(state)
    if sample_rate is not None:
        cfg["models"] = [
            {
                "name": MODEL,
                "labels": {
                    "topic": LABELS_TOPIC if labels_topic else None,
                    "max_delay_seconds": (DELAY_WINDOWS + 1) * WINDOW_SECONDS,
                    "min_labels": 100,
                    "sample_rate": sample_rate,
                    "synchronous": synchronous,
                },
            }
        ]
    kept = [(is_label, v) for is_label, v in data.records if label_events or not is_label]
    offsets = {TOPIC: 0, LABELS_TOPIC: 0}
    feed: list[Record] = []
    for is_label, v in kept:
        topic = LABELS_TOPIC if is_label and labels_topic else TOPIC
        feed.append(Record(topic, 0, offsets[topic], MODEL.encode(), v, -1))
        offsets[topic] += 1
    source = MemorySource()
    source.feed(feed)
    final: list[int] = []
    monitor = Monitor(validated(cfg), source)
    if monitor.labels is not None:
        monitor.labels.hooks.append(lambda r, start, version: final.append(r.window_id))
    monitor.start_background()
    try:
        t_wall, t_cpu = time.perf_counter(), time.process_time()
        with Watchdog(f"the daemon (labels {sample_rate})") as dog:
            while True:
                polled = monitor.run_once()
                done = sum(n for (_, o), n in monitor.state.events.items() if o != "invalid")
                dog.progress = done - source.lag().get((TOPIC, 0), 0)
                if done >= data.predictions and polled == 0:
                    break
        monitor.pipeline.close_all_windows()
        monitor.loop.post(Job.TICK)  # score the windows whose last labels came in
        monitor.run_once()
        monitor.commit()  # the last flush of the join belongs to the run
        wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
        windows = sum(monitor.state.windows_closed.values())
        status = monitor.labels.status(MODEL) if monitor.labels is not None else None
        if sample_rate is not None:
            # Every sampled label found its prediction, once (max_delay outlasts the delay).
            want = sum(tracked(e, sample_rate) for e in data.label_ids)
            assert status is not None and status["counters"]["joined"] == want, status
    finally:
        monitor.shutdown()
    return IngestRun(data.predictions, len(kept), wall, cpu, windows, len(final))


def main(argv: list[str] | None = None) -> int:
    """Run (a) and (b) and print their results and the ratio."""
    p = parser(__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--batch", type=int, default=5000, help="records per flush (a checkpoint)")
    args = p.parse_args(argv)
    n = SIZES[args.size]
    header(f"label join and ingest with labels on/off ({n:,} predictions, --size {args.size})")
    baseline = labelled_baseline("m00", 20_000)
    data = labelled_stream("m00", n)
    result(
        "stream",
        f"{data.predictions:,} predictions, {data.labels:,} labels {DELAY_WINDOWS} windows "
        f"late ({len(data.records):,} records)",
    )
    with tempfile.TemporaryDirectory(prefix="bench-label-", dir=os.environ.get("TMPDIR")) as d:
        run = join_throughput(baseline, data, args.batch, Path(d))
    result(
        "(a) join",
        f"{run.per_core():,.0f} labels/s per core ({run.labels:,} labels joined and "
        f"{run.predictions:,} predictions tracked in {run.cpu - run.eval_cpu:.2f} s CPU, "
        f"{run.flushes} flushes of {args.batch} records)",
    )
    result(
        "(a) scoring",
        f"{run.scored:,} window evaluations (metrics of the joined pairs, verdict) in "
        f"{run.eval_cpu:.2f} s CPU ({run.eval_cpu / max(run.scored, 1) * 1000:.1f} ms each); "
        f"all of (a): {run.wall:.2f} s wall, {run.cpu:.2f} s CPU",
    )
    ratio("(a) CPU / wall of the join", run.cpu / run.wall, None)
    with tempfile.TemporaryDirectory(prefix="bench-label-", dir=os.environ.get("TMPDIR")) as d:
        work = Path(d)
        (work / "baselines").mkdir()
        save_baseline(baseline, work / "baselines" / f"{MODEL}.dmb")
        off1 = ingest_run(work, data, None)
        on = ingest_run(work, data, 1.0)
        sampled = ingest_run(work, data, SAMPLED)
        normal = ingest_run(work, data, 1.0, synchronous="NORMAL")
        topic = ingest_run(work, data, 1.0, labels_topic=True)
        off2 = ingest_run(work, data, None)
        alone = ingest_run(work, data, None, label_events=False)
    for r, name in (
        (off1, "#1 labels off"),
        (on, "labels on"),
        (sampled, f"labels on, sample_rate {SAMPLED}"),
        (normal, "labels on, synchronous NORMAL (no fsync per flush)"),
        (off2, "#2 labels off"),
    ):
        result(f"(b) daemon, same stream, {name}", r.describe())
    result("(b) daemon, the predictions alone, labels off", alone.describe())
    result(f"(b) daemon, labels on, labels on a {LABELS_TOPIC!r} topic", topic.describe())
    assert on.final > 0, "no prediction window became final with labels on"
    off_rate = (off1.records + off2.records) / (off1.wall + off2.wall)
    off_cpu = (off1.cpu + off2.cpu) / (off1.records + off2.records)
    ratio(
        "(b) daemon labels on / off, same stream (records/s)", on.rate / off_rate, TARGET_ON_VS_OFF
    )
    ratio("(b) ... by CPU per record (off / on)", off_cpu / (on.cpu / on.records), None)
    ratio(
        f"(b) labels on at sample_rate {SAMPLED} / off (records/s)", sampled.rate / off_rate, None
    )
    ratio("(b) labels on, synchronous NORMAL / off (records/s)", normal.rate / off_rate, None)
    alone_rate = alone.predictions / alone.wall
    ratio(
        "(b) labels on / the predictions alone (predictions/s)",
        (on.predictions / on.wall) / alone_rate,
        None,
    )
    ratio(
        "(b) labels on a labels topic / the predictions alone (predictions/s)",
        (topic.predictions / topic.wall) / alone_rate,
        None,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
