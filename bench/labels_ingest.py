"""The daemon's ingest rate with the label join off and on, on the same stream, in one run.

    .venv/bin/python -m bench.labels_ingest [--windows N] [--per-window N] [--rate R]

The whole consume loop (Monitor on a MemorySource, commits and the join's fsync'ed
flushes included) reads the labelled stream of ``tests/services/labels.py``: model
``m``, one feature and a score, ``--per-window`` predictions per 60 s window, 90 % of
them labelled 2-3 windows later on a labels topic. "off": the model has no ``labels``
section and only the predictions are read. "on": the same predictions plus the labels
topic, joined, with ``labels.sample_rate`` ``--rate`` (labels outside the sample are
decoded and dropped). Prints predictions/s (and labels/s) per run and the on/off ratio;
run it twice and compare within a run (the machine is shared).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.source.memory import MemorySource
from tests.service.labels.support import label_config
from tests.services.labels import T0, LabelledStream, labelled_stream


def run(stream: LabelledStream, labels: bool, rate: float) -> tuple[float, float]:
    """(predictions/s, labels/s) of one daemon reading ``stream`` to the end."""
    with tempfile.TemporaryDirectory() as tmp:
        doc = label_config(Path(tmp), {"sample_rate": rate})
        del doc["webhooks"]
        if not labels:
            del doc["models"][0]["labels"]
        source = MemorySource()
        clock = ManualClock(T0 + 30 * 86_400)
        monitor = Monitor(validate_config(doc, "bench"), source, clock=clock, serve_http=False)
        n_pred = n_lab = 0
        for item in stream.items:
            if item.topic == "labels" and not labels:
                continue
            source.append(item.topic, item.value, key=b"m")
            n_pred += item.topic == "predictions"
            n_lab += item.topic == "labels"
        t0 = time.perf_counter()
        while source.remaining():
            monitor.loop.post("tick")
            monitor.run_once()
            clock.advance(3.0)
        monitor.loop.post("tick")
        monitor.run_once()
        assert monitor.commit()
        seconds = time.perf_counter() - t0
        if labels:
            assert monitor.labels is not None
            joined = monitor.labels.status("m")
            assert joined is not None and joined["counters"]["joined"] > 0
        monitor.shutdown()
    return n_pred / seconds, n_lab / seconds


def main() -> None:
    """Off, on, off, on: prints each run and the ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--windows", type=int, default=40)
    p.add_argument("--per-window", type=int, default=1_000)
    p.add_argument("--rate", type=float, default=1.0)
    args = p.parse_args()
    logging.disable(logging.WARNING)
    stream = labelled_stream(args.windows, args.per_window, early=0.0, dup=0.0, tail_windows=0)
    print(
        f"# python -m bench.labels_ingest --windows {args.windows} "
        f"--per-window {args.per_window} --rate {args.rate}"
    )
    for _ in range(2):
        off, _ = run(stream, False, args.rate)
        on, lab = run(stream, True, args.rate)
        print(
            f"labels off {off:8.0f} predictions/s | on {on:8.0f} predictions/s "
            f"+ {lab:8.0f} labels/s | on/off {on / off:.2f}x"
        )


if __name__ == "__main__":
    main()
