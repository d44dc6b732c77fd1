"""Profile of the hot path: the daemon's consume loop on a MemorySource, under cProfile.

Same events and window config as ``bench.ingest`` (8 models, tumbling 5-minute windows
of ~10 000 events per model at full size). Prints the top functions by own time and by
cumulative time. cProfile's per-call overhead inflates small Python functions (read
the shares, not the absolute times); ``bench.ingest`` gives the unprofiled rates.

    .venv/bin/python -m bench.hotpath [--size small|full] [--top N]
"""

from __future__ import annotations

import cProfile
import io
import pstats
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.config import app_config, validated
from bench.data import BASELINE_ROWS, EventStream, Schema, model_names, write_baselines
from bench.ingest import MODELS, PARTITIONS, WINDOW_SECONDS, WINDOWS, _records, run_monitor
from bench.report import header, parser, result
from drift_monitor.source.memory import MemorySource

SIZES = {"small": 20_000, "full": 300_000}
EVENTS_PER_MODEL_WINDOW = 10_400  # as bench.ingest at full size


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--top", type=int, default=25, help="rows of each table")
    args = p.parse_args(argv)
    total = SIZES[args.size]
    header(f"hot path profile: {total:,} events on a MemorySource")
    models = model_names(MODELS)
    per_window = EVENTS_PER_MODEL_WINDOW if args.size == "full" else total / (MODELS * WINDOWS)
    event_rate = per_window * MODELS / WINDOW_SECONDS
    with tempfile.TemporaryDirectory(prefix="bench-hotpath-") as tmp:
        work = Path(tmp)
        write_baselines(work / "baselines", Schema(), models, rows=BASELINE_ROWS[args.size])
        source = MemorySource()
        source.feed(_records(EventStream(Schema(), models, event_rate, PARTITIONS, 11), total))
        config = validated(app_config(work, models, topic="mem"))
        profiler = cProfile.Profile()
        profiler.enable()
        run = run_monitor(config, source, total)
        profiler.disable()
    result("profiled run", run.describe())
    for key, title in (("tottime", "own time"), ("cumulative", "cumulative time")):
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.strip_dirs().sort_stats(key).print_stats(args.top)
        print(f"-- top {args.top} by {title}")
        text = buf.getvalue()
        print(text[text.index("ncalls") :].rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
