"""Model quality's cost: the label join's throughput per core, and the daemon's ingest
rate with labels on vs off on the same stream, in one run.

(a) ``join``: the daemon's label path without Kafka, single-threaded: decode every
    prediction and label event (orjson), encode outputs and labels for the baseline's
    task, :meth:`JoinStore.apply` a batch, :meth:`PerformanceTracker.evaluate` its open
    windows and :meth:`JoinStore.flush` (one durable SQLite transaction, fsync) per
    batch, with labels arriving ``DELAY_WINDOWS`` windows after their predictions (80 %
    of them; the rest expire). Reported as labels per CPU-second (= per core) and per
    wall second; predictions are tracked in the same loop and their cost is included.

(b) ``ingest`` (see :func:`ingest_runs`): the daemon (:class:`Monitor` on an in-memory
    source, so Kafka's client cost does not blur the ratio) on the same records, once
    with the models' ``labels`` configured and once without. Target (issue 15): with
    labels on >= 0.8 x the rate with labels off.

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

from bench.data import SCORE, T0, EventStream, Schema, training_frame
from bench.report import header, parser, ratio, result
from drift_monitor.baseline import build_baseline
from drift_monitor.baseline.model import Baseline
from drift_monitor.labels.decision import DegradationSettings
from drift_monitor.labels.encode import encode_label, encode_outputs
from drift_monitor.labels.store import JoinStore, Label, Prediction
from drift_monitor.labels.tracker import PerformanceTracker

SIZES = {"small": 20_000, "full": 400_000}
WINDOW_SECONDS = 300.0
#: Labels arrive this many windows after their prediction (event time).
DELAY_WINDOWS = 3
#: Share of predictions that ever get a label.
LABELLED = 0.8
RATE = 50.0  # prediction events per second of event time (one model)
LABEL = "label"


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


def labelled_stream(model: str, n: int, seed: int = 3) -> LabelledStream:
    """``n`` predictions of one model (from :class:`bench.data.EventStream`) with their
    labels (label-only events: ``model``, ``event_id``, ``label``, ``timestamp`` in ms)."""
    stream = EventStream(Schema(), [model], RATE, seed=seed)
    _, _, values, ts = stream.batch(n)
    rng = np.random.default_rng(seed)
    delay_ms = DELAY_WINDOWS * WINDOW_SECONDS * 1000
    labelled = rng.random(n) < LABELLED
    pending: list[tuple[int, bytes]] = []
    records: list[tuple[bool, bytes]] = []
    j = 0
    for value, t, has in zip(values, ts, labelled.tolist(), strict=True):
        while j < len(pending) and pending[j][0] <= t:
            records.append((True, pending[j][1]))
            j += 1
        records.append((False, value))
        if has:
            ev = orjson.loads(value)
            y = int(rng.random() < float(ev["prediction"]))
            label = orjson.dumps(
                {"model": model, "event_id": ev["event_id"], "label": y, "timestamp": t + delay_ms}
            )
            pending.append((t + int(delay_ms), label))
    records.extend((True, v) for _, v in pending[j:])
    return LabelledStream(records, n, int(labelled.sum()))


def _chunks(records: list[tuple[bool, bytes]], size: int) -> Iterator[list[tuple[bool, bytes]]]:
    for i in range(0, len(records), size):
        yield records[i : i + size]


@dataclass(frozen=True)
class JoinRun:
    """(a): ``labels`` joined and ``predictions`` tracked in ``wall`` / ``cpu`` seconds."""

    labels: int
    predictions: int
    wall: float
    cpu: float
    flushes: int

    def per_core(self) -> float:
        """Labels per CPU-second."""
        return self.labels / self.cpu


def join_throughput(baseline: Baseline, data: LabelledStream, batch: int, workdir: Path) -> JoinRun:
    """Run (a) on ``data`` in batches of ``batch`` records; asserts every label that has
    its prediction is joined exactly once."""
    perf = baseline.performance
    assert perf is not None
    spec = perf.spec
    model = baseline.model
    store = JoinStore(workdir / "join.sqlite", max_delay=10 * DELAY_WINDOWS * WINDOW_SECONDS)
    tracker = PerformanceTracker(store, model, perf, DegradationSettings(min_labels=100))
    loads = orjson.loads
    flushes = 0
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
        tracker.evaluate(watermark)
        store.flush()
        flushes += 1
    wall, cpu = time.perf_counter() - t_wall, time.process_time() - t_cpu
    joined = store.counters(model).joined
    store.close()
    # Labels of predictions finalised before they arrived are ignored: none here, as
    # windows become final only at 95 % coverage (80 % are labelled) or after max_delay.
    assert joined == data.labels, (joined, data.labels)
    return JoinRun(joined, data.predictions, wall, cpu, flushes)


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
        f"{run.per_core():,.0f} labels/s per core ({run.labels / run.wall:,.0f} labels/s wall; "
        f"{run.labels:,} labels joined and {run.predictions:,} predictions tracked in "
        f"{run.wall:.2f} s, {run.cpu:.2f} s CPU, {run.flushes} flushes of {args.batch})",
    )
    ratio("(a) CPU / wall of the join", run.cpu / run.wall, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
