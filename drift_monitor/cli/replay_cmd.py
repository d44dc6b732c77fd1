"""``drift-monitor replay``: produce a file of events into Kafka (tests, demos, backfills)."""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from drift_monitor.errors import InputError


def register(sub: Any) -> None:
    """Add ``replay`` to the CLI."""
    p = sub.add_parser("replay", help="produce a JSON Lines file of events into a Kafka topic")
    p.add_argument("--input", required=True, help="JSON Lines file, one event per line")
    p.add_argument("--topic", required=True)
    p.add_argument("--bootstrap-servers", required=True, help="host:port[,host:port]")
    p.add_argument("--rate", type=float, default=0.0, help="events per second (0 = max)")
    p.add_argument(
        "--key-field",
        default="model",
        help="event field used as the record key (default: model; '' for none)",
    )
    p.set_defaults(handler=_replay)


def _lines(path: Path) -> Iterator[bytes]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for raw in fh:
            line = raw.strip()
            if line:
                yield line


def _replay(args: argparse.Namespace) -> int:
    path = Path(args.input)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    # Imported here so that other commands never load kafka-python.
    from drift_monitor.source.replay import EventProducer  # noqa: PLC0415

    producer = EventProducer(args.bootstrap_servers.split(","))
    sent = 0
    t0 = time.monotonic()
    for line in _lines(path):
        key = None
        if args.key_field:
            try:
                obj = orjson.loads(line)
                k = obj.get(args.key_field) if isinstance(obj, dict) else None
                key = str(k).encode() if k is not None else None
            except orjson.JSONDecodeError:
                key = None  # invalid lines are replayed as they are: the daemon routes them
        producer.send(args.topic, line, key)
        sent += 1
        if args.rate > 0:
            ahead = sent / args.rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    producer.close()
    dt = time.monotonic() - t0
    print(f"produced {sent:,} events to {args.topic} in {dt:.1f}s", file=sys.stderr)
    return 0
