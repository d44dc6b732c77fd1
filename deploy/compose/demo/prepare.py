"""Prepare the compose demo: the model's baseline and a stream of events to replay.

Run by the `demo-data` service (compose.yaml) in the drift-monitor image:

    python /demo/prepare.py --data /data --baselines /var/lib/drift-monitor/baselines

Writes ``<baselines>/credit.dmb`` (built from the training sample bundled with
drift-monitor) and ``<data>/events.jsonl``: 5 minutes of events drawn like the
training data, then 10 minutes of drifted ones (the "recession" scenario of
``drift_monitor.demo.dataset``), time-stamped from now at ``--rate`` events/s,
which is the rate the `demo-producer` service replays them at. Idempotent: an
existing baseline and event file are kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from importlib import resources
from pathlib import Path

from drift_monitor import cli
from drift_monitor.demo import dataset

MODEL = "credit"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="directory for events.jsonl")
    parser.add_argument("--baselines", type=Path, required=True, help="baselines.dir")
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument(
        "--chown",
        metavar="UID:GID",
        help="hand the baseline over to the daemon's user (the service runs as root to "
        "write into fresh volumes)",
    )
    args = parser.parse_args(argv)

    baseline = args.baselines / f"{MODEL}.dmb"
    if not baseline.exists():
        args.baselines.mkdir(parents=True, exist_ok=True)
        train = resources.files("drift_monitor") / "data" / "credit_train.csv"
        with resources.as_file(train) as csv:
            status = cli.main(
                [
                    "baseline", "build",
                    "--model", MODEL,
                    "--input", str(csv),
                    "--prediction", dataset.SCORE,
                    "--version", "demo-1",
                    "--out", str(baseline),
                ]
            )  # fmt: skip
        if status != 0:
            return status

    events = args.data / "events.jsonl"
    if not events.exists():
        args.data.mkdir(parents=True, exist_ok=True)
        clean_n, drifted_n = int(300 * args.rate), int(600 * args.rate)
        start = dt.datetime.now(dt.UTC)
        drift_start = start + dt.timedelta(seconds=clean_n / args.rate)
        tmp = events.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for frame, begin, seed in (
                (dataset.production_frame(clean_n, seed=101), start, 1),
                (
                    dataset.production_frame(drifted_n, seed=202, drift=dataset.DEFAULT_DRIFT),
                    drift_start,
                    2,
                ),
            ):
                for event in dataset.events(frame, MODEL, begin, args.rate, seed=seed):
                    out.write(json.dumps(event, separators=(",", ":")) + "\n")
        tmp.replace(events)
    if args.chown:
        uid, gid = (int(part) for part in args.chown.split(":"))
        for path in (args.baselines, baseline):
            os.chown(path, uid, gid)
    print(f"baseline {baseline}, events {events}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
