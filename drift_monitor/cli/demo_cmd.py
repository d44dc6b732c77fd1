"""``drift-monitor demo``: the whole loop on one machine with no infrastructure."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    """Add ``demo`` to the CLI."""
    p = sub.add_parser("demo", help="run the whole loop locally: stream, drift, metrics, webhook")
    p.add_argument("--out", default="drift-monitor-demo", help="directory for baseline/state")
    p.add_argument("--port", type=int, default=9108, help="/metrics port (a free one if busy)")
    p.add_argument("--kafka", metavar="HOST:PORT", help="use a real broker (scripts/kafka-local)")
    p.add_argument("--fast", action="store_true", help="no pacing, no live view (for CI)")
    p.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from drift_monitor.demo.run import DemoOptions, run_demo  # noqa: PLC0415
    from drift_monitor.logs import configure_logging  # noqa: PLC0415

    configure_logging("ERROR")  # the demo prints its own view

    opts = DemoOptions(
        out=Path(args.out),
        port=args.port,
        pace=0.0 if args.fast else 1.5,
        kafka=args.kafka,
        live=not args.fast,
    )
    return run_demo(opts)
