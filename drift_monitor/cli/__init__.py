"""The ``drift-monitor`` command line.

Every subcommand lives in its own module and registers itself with :func:`main`'s
parser. A user error (:class:`~drift_monitor.errors.DriftMonitorError`) becomes one line
on stderr and exit code 2; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any, NoReturn

from drift_monitor import __version__
from drift_monitor.cli import baseline_cmd, check_cmd
from drift_monitor.errors import DriftMonitorError

EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"drift-monitor: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = _Parser(
        prog="drift-monitor",
        description="Drift monitoring for ML models: baselines, offline checks, and the "
        "Kafka daemon.",
    )
    parser.add_argument("--version", action="version", version=f"drift-monitor {__version__}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    baseline_cmd.register(sub)
    check_cmd.register(sub)
    for name in ("config_cmd", "run_cmd", "replay_cmd", "demo_cmd", "report_cmd"):
        module = _optional(name)
        if module is not None:
            module.register(sub)
    return parser


def _optional(name: str) -> Any:
    import importlib  # noqa: PLC0415

    try:
        return importlib.import_module(f"drift_monitor.cli.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"drift_monitor.cli.{name}":
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code: 0 ok, 1 drift, 2 usage or input error,
    3 internal error (a bug: never confused with "drift" by a CI gate)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.handler(args)
    except DriftMonitorError as exc:
        print(f"drift-monitor: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("DRIFT_MONITOR_DEBUG"):
            traceback.print_exc()
        print(
            f"drift-monitor: internal error: {type(exc).__name__}: {exc} (a bug: please report "
            "it; DRIFT_MONITOR_DEBUG=1 prints the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())
