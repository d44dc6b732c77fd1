"""How a benchmark reports and watches itself: the command line, ``--size``, result
and ratio lines, resident memory, and a watchdog for a stalled client.

Every benchmark prints its results as ``name: value`` lines and its ratios as
``ratio <name>: X (target T) -> met|MISSED`` lines, each measured against a baseline
measured in the same run (these machines are shared and noisy: only same-run ratios
mean something).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import logging
import os
import shlex
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--size small|full``."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--size",
        choices=("small", "full"),
        default="full",
        help="full: the documented measurement; small: a quick run that proves it works",
    )
    return p


def command_line() -> str:
    """The exact command that ran this benchmark."""
    module = sys.modules["__main__"].__spec__
    name = module.name if module is not None else sys.argv[0]
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(REPO_ROOT)
    return " ".join([str(exe), "-m", name, *map(shlex.quote, sys.argv[1:])])


def header(title: str) -> None:
    """Print the title, the command, and the machine; quiet the in-process daemon's
    logs (window verdicts and incidents at WARNING would interleave with results)."""
    logging.getLogger("drift_monitor").setLevel(logging.ERROR)
    print(f"== {title}")
    print(f"command: {command_line()}")
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} "
        "(shared and noisy: compare only ratios measured in one run)"
    )
    sys.stdout.flush()


def result(name: str, value: str) -> None:
    """One measured value."""
    print(f"{name}: {value}")
    sys.stdout.flush()


def ratio(name: str, value: float, target: float | None, higher_is_better: bool = True) -> bool:
    """One ratio against its target (None: a diagnostic without one); returns whether
    the target is met."""
    if target is None:
        print(f"ratio {name}: {value:.3g} (diagnostic, no target)")
        sys.stdout.flush()
        return True
    met = value >= target if higher_is_better else value <= target
    op = ">=" if higher_is_better else "<="
    print(f"ratio {name}: {value:.3g} (target {op} {target:g}) -> {'met' if met else 'MISSED'}")
    sys.stdout.flush()
    return met


def rate(n: int, seconds: float) -> str:
    """``n`` events in ``seconds`` as a rate."""
    return f"{n / seconds:,.0f} events/s ({n:,} events in {seconds:.2f} s)"


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of ``pid`` (default: this process) in MiB."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS in {path}")


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) process ``pid`` has used so far; 0.0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds since boot, summed over cores (``/proc/stat``): busy is
    everything but idle and iowait; steal is the time the hypervisor ran something else
    while this VM had work for the core (part of busy)."""
    with open("/proc/stat") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _TICK, ticks[7] / _TICK


class Watchdog:
    """Ends the benchmark (exit 3, with every thread's stack) when ``progress`` has not
    changed for ``stall_s`` seconds: a consumer blocked inside a client call never
    returns to a deadline check of its own."""

    def __init__(self, what: str, stall_s: float = 120.0) -> None:
        self.what = what
        self.stall_s = stall_s
        self.progress = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="bench-watchdog")

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _watch(self) -> None:
        seen, since = self.progress, time.monotonic()
        while not self._stop.wait(1.0):
            if self.progress != seen:
                seen, since = self.progress, time.monotonic()
            elif time.monotonic() - since > self.stall_s:
                print(
                    f"STALLED: {self.what} made no progress for {self.stall_s:.0f} s "
                    f"(at {seen:,}); stacks of every thread:",
                    flush=True,
                )
                faulthandler.dump_traceback(file=sys.stdout, all_threads=True)
                sys.stdout.flush()
                os._exit(3)
