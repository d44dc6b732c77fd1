"""Decoder choice on the hot path: stdlib json vs orjson (vs msgspec when installed).

    .venv/bin/python -m bench.decode [--size small|full]

Parses the same realistic ~300-byte events (14 features, the demo's credit model) with
each parser in one run and prints events/s and the ratio to stdlib json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any

import orjson

from drift_monitor.demo.dataset import events, production_frame


def _rate(parse: Callable[[bytes], Any], payloads: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in payloads:
            parse(p)
        best = min(best, time.perf_counter() - t0)
    return len(payloads) / best


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", choices=("small", "full"), default="full")
    args = ap.parse_args(argv)
    n = 5_000 if args.size == "small" else 100_000
    frame = production_frame(n, seed=3)
    start = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    payloads = [orjson.dumps(e) for e in events(frame, "credit", start, 100.0)]
    size = sum(map(len, payloads)) / len(payloads)
    parsers: dict[str, Callable[[bytes], Any]] = {
        "json (stdlib)": json.loads,
        "orjson": orjson.loads,
    }
    try:
        import msgspec  # noqa: PLC0415

        parsers["msgspec"] = msgspec.json.decode
    except ImportError:
        print("msgspec not installed: skipped (pip install msgspec to compare)")
    repeat = 3 if args.size == "small" else 5
    # Interleave the parsers round by round and keep each one's best round, so that
    # load from other processes on this shared machine hits all of them alike.
    rates = dict.fromkeys(parsers, 0.0)
    for _ in range(repeat):
        for name, parse in parsers.items():
            rates[name] = max(rates[name], _rate(parse, payloads, 1))
    base = rates["json (stdlib)"]
    print(f"{n:,} events, {size:.0f} bytes each (python -m bench.decode --size {args.size})")
    for name, r in rates.items():
        print(f"  {name:<14} {r:>12,.0f} events/s   {r / base:5.2f}x stdlib json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
