"""Memory: RSS of the daemon's pipeline over a long stream, with a fixed window config.

The daemon's :class:`Monitor` runs its consume loop in-process on a source that
generates records on the fly in batches (nothing but the current batch is held, unlike
a MemorySource, which keeps every record fed to it). 8 models, tumbling 5-minute
windows of ~25 000 events per model (full size), every closed window evaluated. RSS
(after a garbage collection) is read after a warm-up (5 % of the stream) and at 10 %,
50 % and 100 % of it: 1 M, 5 M and 10 M events at full size. Target: flat within
+-10 % of the warm-up reading.

    .venv/bin/python -m bench.memory [--size small|full]
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.config import app_config, validated, window_config
from bench.data import BASELINE_ROWS, EventStream, Schema, model_names, write_baselines
from bench.report import header, parser, ratio, result, rss_mb
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import Commit, Record, TopicPartition

SIZES = {"small": 50_000, "full": 10_000_000}
MODELS = 8
PARTITIONS = 4
#: Event-time windows per model over the whole stream (each one is evaluated).
WINDOWS_PER_MODEL = {"small": 4, "full": 50}
WINDOW_SECONDS = 300.0
BATCH = 5_000
TOLERANCE = 0.10


class GeneratedSource:
    """An :class:`EventSource` producing ``total`` generated records, batch by batch.

    Holds only the last batch (for the seek the daemon does after its first poll)."""

    def __init__(self, stream: EventStream, total: int, topic: str = "generated") -> None:
        self._stream = stream
        self._left = total
        self._topic = topic
        self._offsets = [0] * stream.partitions
        self._last: list[Record] = []
        self._pending: list[Record] = []
        self._committed: dict[TopicPartition, Commit] = {}

    def poll(self, timeout_ms: int, max_records: int) -> list[Record]:
        if self._pending:
            out, self._pending = self._pending, []
            self._last = out
            return out
        n = min(self._left, max_records, BATCH)
        if n <= 0:
            return []
        self._left -= n
        keys, parts, values, ts = self._stream.batch(n)
        out = []
        offsets = self._offsets
        for k, part, v, ms in zip(keys, parts, values, ts, strict=True):
            out.append(Record(self._topic, part, offsets[part], k, v, ms))
            offsets[part] += 1
        self._last = out
        return out

    def commit(self, positions: Mapping[TopicPartition, Commit]) -> None:
        self._committed.update(positions)

    def committed(self, tp: TopicPartition) -> Commit | None:
        return self._committed.get(tp)

    def assignment(self) -> set[TopicPartition]:
        return {(self._topic, p) for p in range(self._stream.partitions)}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        again = [r for r in self._last if (r.topic, r.partition) == tp and r.offset >= offset]
        self._pending = sorted([*self._pending, *again], key=lambda r: (r.partition, r.offset))

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        pass

    def lag(self) -> dict[TopicPartition, int]:
        return {}

    def connected(self) -> bool:
        return True

    def partition_count(self, topic: str) -> int:
        return self._stream.partitions

    def close(self) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--events", type=int, help="override the number of events")
    args = p.parse_args(argv)
    total = args.events or SIZES[args.size]
    header(f"memory: RSS over {total:,} events, {MODELS} models")
    models = model_names(MODELS)
    per_window = total / (MODELS * WINDOWS_PER_MODEL[args.size])
    event_rate = per_window * MODELS / WINDOW_SECONDS
    warmup = total // 20
    checkpoints = [total // 10, total // 2, total]
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        write_baselines(work / "baselines", Schema(), models, rows=BASELINE_ROWS[args.size])
        cfg = app_config(work, models, topic="generated", window=window_config(WINDOW_SECONDS))
        config = validated(cfg)
        stream = EventStream(Schema(), models, event_rate, PARTITIONS, seed=5)
        source = GeneratedSource(stream, total)
        gc.collect()
        result("RSS before the monitor (imports, test data)", f"{rss_mb():.1f} MiB")
        monitor = Monitor(config, source, serve_http=False)
        result(
            "window",
            f"tumbling {WINDOW_SECONDS:.0f} s, ~{per_window:,.0f} events/model/window, "
            f"max_events {config.models[0].window.max_events:,}",
        )
        readings: list[tuple[int, float]] = []
        marks = [warmup, *checkpoints]
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        try:
            while marks:
                monitor.run_once()
                done = sum(monitor.state.events.values())
                if done >= marks[0]:
                    gc.collect()
                    rss = rss_mb()
                    readings.append((done, rss))
                    label = "warm-up" if len(readings) == 1 else "checkpoint"
                    windows = sum(monitor.state.windows_closed.values())
                    result(
                        f"RSS at {done:>12,} events ({label})",
                        f"{rss:.1f} MiB  ({windows} windows evaluated, "
                        f"{time.perf_counter() - t0:.0f} s)",
                    )
                    marks.pop(0)
        finally:
            monitor.shutdown()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    result(
        "throughput (incl. generating the events)",
        f"{total / wall:,.0f} events/s wall, {cpu / total * 1e6:.1f} us CPU per event",
    )
    base = readings[0][1]
    worst = max(abs(rss - base) / base for _, rss in readings[1:])
    growth = readings[-1][1] - base
    result("RSS growth warm-up -> end", f"{growth:+.1f} MiB ({growth / base:+.1%})")
    ratio("max |RSS / warm-up RSS - 1|", worst, TOLERANCE, higher_is_better=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
