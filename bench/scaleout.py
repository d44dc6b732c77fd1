"""Scale-out: one daemon process against two in one consumer group.

N events keyed by 8 models (2 per partition) are produced to a 4-partition topic; then
``drift-monitor run --config ...`` subprocesses (1, then 2 in a fresh group, then 1
again, each time a fresh group) consume the topic. The benchmark polls every daemon's
/status (``events`` per model) with a deadline and records the sum over time. The two
daemons are compared with the mean of the one-daemon phases before and after them (as
bench.ingest brackets the daemon with bare loops): on a VM whose per-event CPU cost
drifted by 0.76-1.25x between phases ~30 s apart (docs/BENCHMARKS.md section 4), a
single one-daemon phase before them let that drift decide whether a run met 1.7x.

Reported per run: the time from the first counted event to N counted (end to end,
including the rebalance when the second daemon joins), and the steady rate while every
daemon reads: from 25 % of N (or, if later, the first sample at which every daemon has
counted events) to 85 % of N or, if earlier, the last sample before one daemon has
counted all it will count. That last bound matters with two daemons on a broker that
assigns a fresh group's first member at once (``--bootstrap`` to the test broker:
``group.initial.rebalance.delay.ms=0``): the daemon that joined first reads every
partition alone until the second joins, so its partitions run dry first, and the tail
after that is one daemon reading (a finite topic's artefact; a live topic keeps every
partition fed). The private broker keeps the managed default (3 s, see
:data:`bench.broker.MANAGED_DEFAULTS`): both daemons join one generation. When not
every daemon has counted events by 85 %, the group's start-up rebalance outlasted the
data: no steady window, reported as such (exit 1). A record re-read after a rebalance
(those of windows open at that moment, to rebuild them) is not counted again: the
commit's high-water mark says its old owner counted it.

Each phase also prints, over its steady window, the cores busy on the machine, the
hypervisor's steal among them, the daemons' cores and their CPU per event: when two
daemons spend more CPU per event than one did, the machine's cores were slower while
both were busy (another VM on the host), not the daemons less parallel.

Target: two daemons >= 1.7x one.

    .venv/bin/python -m bench.scaleout [--size small|full] [--bootstrap HOST:PORT] [--repeat N]
        [--client kafka-python|confluent]

``--repeat N`` measures N times in a row on the same topic and prints the distribution
of the ratios; a stall (no progress for STALL_S seconds) is a failure (exit 1) with
each daemon's /status ``kafka`` section and log tail, never retried.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bench.broker import create_topic, delete_topic, kafka, produce
from bench.config import app_config, window_config
from bench.data import BASELINE_ROWS, EventStream, Schema, model_names, write_baselines
from bench.report import (
    cpu_seconds,
    header,
    machine_cpu_seconds,
    parser,
    rate,
    ratio,
    result,
)
from drift_monitor.source.settings import KafkaSettings
from tests.services.daemon import DaemonConfig, DaemonProcess
from tests.services.ports import free_port

#: small: long enough that the second daemon has joined the group and works well before
#: 85 % of N. At 20,000 the first daemon alone often read everything before the second
#: had joined (a "two daemons" run of one daemon); at 100,000, with confluent at 25-30,000
#: events/s, 2 of 20 runs still ended their start-up rebalance (~3 s) after 85 %. Once
#: the sampler stopped scraping /metrics ten times a second, one daemon read ~60,000
#: events/s: at 200,000 the steady window was ~2 s and one daemon read 3/4 of the
#: events before the group had settled, so small is 600,000 (~10 s for one daemon).
SIZES = {"small": 600_000, "full": 2_000_000}
MODELS = 8
PARTITIONS = 4
WINDOWS = 12
WINDOW_SECONDS = 300.0
TARGET = 1.7
STEADY = (0.25, 0.85)
STALL_S = 90.0


class Unsettled(RuntimeError):
    """Not every daemon had counted events by 85 % of N: the group's start-up rebalance
    took longer than reading the data (no steady two-daemon window to measure)."""


class Stalled(RuntimeError):
    """The daemons' events_total stopped moving for :data:`STALL_S` seconds (the message
    carries each daemon's counts, /status ``kafka`` section and log tail)."""


def _kafka_status(d: DaemonProcess) -> str:
    """``d``'s /status ``kafka`` section (assigned, lag), for a stall report."""
    try:
        return str(d.status().get("kafka"))
    except (OSError, AssertionError, ValueError) as exc:
        return f"(no /status: {exc!r})"


def consume(
    n_daemons: int,
    work: Path,
    bootstrap: str,
    topic: str,
    total: int,
    timeout: float,
    client: str,
) -> Phase:
    """Run ``n_daemons`` in a fresh group until they have counted ``total`` events."""
    group = f"bench-scaleout-{n_daemons}-{uuid.uuid4().hex[:6]}"
    models = model_names(MODELS)
    daemons: list[DaemonProcess] = []
    try:
        for i in range(n_daemons):
            d = work / f"run{n_daemons}-{uuid.uuid4().hex[:6]}-daemon{i}"
            d.mkdir(parents=True)
            port = free_port()
            cfg = app_config(
                d,
                models,
                bootstrap=bootstrap,
                topic=topic,
                group=group,
                http_port=port,
                baselines_dir=work / "baselines",
                window=window_config(WINDOW_SECONDS),
            )
            cfg["kafka"]["client_id"] = f"bench-{i}"
            cfg["kafka"]["client"] = client
            dmn = DaemonProcess(f"daemon{i}", DaemonConfig.of_document(cfg), d)
            # all start together; the loop below polls each one's /metrics until it answers
            daemons.append(dmn.spawn())
        samples: list[_Sample] = []
        counts = [0.0] * n_daemons
        last_change = time.monotonic()
        deadline = time.monotonic() + timeout
        while True:
            for i, dmn in enumerate(daemons):
                # /status, not /metrics: at 10 samples a second a /metrics scrape (~20 ms
                # of the daemon's CPU, ~50 ms to parse here, 8 models) took a fifth of a
                # daemon's core and, with two daemons, half of the bench's, on 2 cores.
                c = dmn.try_counted()
                if c is not None:
                    counts[i] = c
            now = time.perf_counter()
            done = sum(counts)
            cpu = sum(cpu_seconds(d.proc.pid) for d in daemons if d.proc is not None)
            samples.append(_Sample(now, tuple(counts), *machine_cpu_seconds(), cpu))
            if done >= total:
                break
            if time.monotonic() > deadline:
                logs = "\n".join(d.log_tail() for d in daemons)
                raise RuntimeError(f"{done:,.0f}/{total:,} events after {timeout:.0f} s\n{logs}")
            if len(samples) < 2 or done != samples[-2].counted:
                last_change = time.monotonic()
            elif time.monotonic() - last_change > STALL_S:
                per = " + ".join(f"{c:,.0f}" for c in counts)
                logs = "\n".join(
                    f"-- daemon {i}: /status kafka {_kafka_status(d)}\n{d.log_tail(15)}"
                    for i, d in enumerate(daemons)
                )
                raise Stalled(
                    f"{n_daemons} daemon(s) stalled at {done:,.0f}/{total:,} events ({per})\n{logs}"
                )
            time.sleep(0.1)  # the sampling cadence of the throughput curve
    finally:
        for dmn in daemons:
            dmn.stop()
    first = next(x.t for x in samples if x.counted > 0)
    end = samples[-1].t
    lo, hi = steady_window(samples, total)
    if lo is None or lo.t >= hi.t:
        per = " + ".join(f"{c:,.0f}" for c in counts)
        raise Unsettled(
            f"{n_daemons} daemons: not every one had counted events by {STEADY[1]:.0%} of "
            f"{total:,} ({per}): the start-up rebalance outlasted the data, no steady "
            "window (a larger --events measures it)"
        )
    span = hi.t - lo.t
    return Phase(
        end - first,
        (hi.counted - lo.counted) / span,
        counts,
        (hi.busy_s - lo.busy_s) / span,
        (hi.steal_s - lo.steal_s) / span,
        (hi.daemons_cpu_s - lo.daemons_cpu_s) / span,
    )


def steady_window(samples: Sequence[_Sample], total: int) -> tuple[_Sample | None, _Sample]:
    """(start, end) samples of the steady window (see the module docstring): start at
    the first sample at or past 25 % of ``total`` at which every daemon has counted
    events (None: none before the end); end at the first sample at or past 85 %, or
    earlier at the last sample before one daemon reached its final count."""
    lo = next(
        (x for x in samples if x.counted >= STEADY[0] * total and min(x.per_daemon) > 0), None
    )
    finals = samples[-1].per_daemon
    hi = next(x for x in samples if x.counted >= STEADY[1] * total)
    if lo is not None and len(finals) > 1:
        for prev, x in pairwise(samples):
            if x.t > hi.t:
                break
            if x.t > lo.t and any(c >= f for c, f in zip(x.per_daemon, finals, strict=True)):
                hi = prev  # from x on, one daemon has nothing left to read
                break
    return lo, hi


@dataclass(frozen=True)
class _Sample:
    """One look at the daemons: time (perf_counter s), events counted by each daemon,
    the machine's busy CPU seconds and the daemons' CPU seconds so far."""

    t: float
    per_daemon: tuple[float, ...]
    busy_s: float
    steal_s: float
    daemons_cpu_s: float

    @property
    def counted(self) -> float:
        """Events counted by all daemons."""
        return sum(self.per_daemon)


@dataclass(frozen=True)
class Phase:
    """One group of daemons reading the topic: seconds from the first counted event to
    N, the steady rate (events/s), per-daemon counts, and over the steady window the
    cores busy on the machine (of which stolen by the hypervisor) and the cores the
    daemons used (the rest: the broker, this benchmark, the OS)."""

    seconds: float
    rate: float
    counts: list[float]
    machine_cores: float
    steal_cores: float
    daemon_cores: float

    def cpu(self) -> str:
        """The steady window's CPU use, as printed."""
        return (
            f"machine busy {self.machine_cores:.2f} of {os.cpu_count()} cores "
            f"(steal {self.steal_cores:.2f}), daemons {self.daemon_cores:.2f}, "
            f"{self.cpu_us:.1f} us daemon CPU/event"
        )

    @property
    def cpu_us(self) -> float:
        """The daemons' CPU per event counted over the steady window (us)."""
        return self.daemon_cores / self.rate * 1e6 if self.rate else float("nan")


@dataclass(frozen=True)
class Run:
    """One repetition on the same topic: one daemon, then two in a fresh group, then one
    daemon again; each ratio sets the two daemons against the mean of the two
    one-daemon phases around them (as bench.ingest brackets the daemon with bare loops),
    so that a machine whose speed drifts over the run biases neither side."""

    one: Phase
    two: Phase
    again: Phase

    def _one(self, value: Callable[[Phase], float]) -> float:
        return (value(self.one) + value(self.again)) / 2

    @property
    def steady(self) -> float:
        """Two daemons' steady rate over one daemon's (mean of the two phases)."""
        return self.two.rate / self._one(lambda p: p.rate)

    @property
    def end_to_end(self) -> float:
        """One daemon's time to N (mean of the two phases) over two daemons'."""
        return self._one(lambda p: p.seconds) / self.two.seconds

    @property
    def cpu_per_event(self) -> float:
        """Two daemons' CPU per event over one daemon's (mean of the two phases)."""
        return self.two.cpu_us / self._one(lambda p: p.cpu_us)

    @property
    def cores(self) -> float:
        """The cores two daemons used over the cores one used (mean of the two phases)."""
        return self.two.daemon_cores / self._one(lambda p: p.daemon_cores)


def measure(work: Path, bootstrap: str, topic: str, total: int, timeout: float, client: str) -> Run:
    """One repetition (raises :class:`Stalled` when a phase stalls, :class:`Unsettled`
    when the two daemons never worked together before 85 % of N)."""
    one = _one_daemon("one daemon", work, bootstrap, topic, total, timeout, client)
    two = consume(2, work, bootstrap, topic, total, timeout, client)
    split = " + ".join(f"{c:,.0f}" for c in two.counts)
    result(
        "two daemons",
        f"{rate(total, two.seconds)}; steady {two.rate:,.0f} events/s; counted {split}; "
        f"{two.cpu()}",
    )
    again = _one_daemon("one daemon again", work, bootstrap, topic, total, timeout, client)
    return Run(one, two, again)


def _one_daemon(
    what: str, work: Path, bootstrap: str, topic: str, total: int, timeout: float, client: str
) -> Phase:
    one = consume(1, work, bootstrap, topic, total, timeout, client)
    result(what, f"{rate(total, one.seconds)}; steady {one.rate:,.0f} events/s; {one.cpu()}")
    return one


def _spread(values: Sequence[float]) -> str:
    """min / median / max of ``values``."""
    return f"min {min(values):.2f}, median {statistics.median(values):.2f}, max {max(values):.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--bootstrap", help="use this broker instead of starting a private one")
    p.add_argument("--events", type=int, help="override the number of events")
    p.add_argument("--timeout", type=float, default=900.0, help="deadline of one run (s)")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure this many times in a row on the same topic (fresh groups each "
        "time); a stall is reported and counted, never retried",
    )
    p.add_argument(
        "--client",
        choices=("kafka-python", "confluent"),
        default=KafkaSettings.model_fields["client"].default,
        help="kafka.client of the daemons (default: the product default)",
    )
    args = p.parse_args(argv)
    total = args.events or SIZES[args.size]
    header(
        f"scale-out: {total:,} events, {MODELS} models keyed onto {PARTITIONS} partitions, "
        f"kafka.client {args.client}"
    )
    models = model_names(MODELS)
    event_rate = (total / (MODELS * WINDOWS)) * MODELS / WINDOW_SECONDS
    runs: list[Run] = []
    stalls: list[str] = []
    unsettled: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        work = Path(tmp)
        write_baselines(work / "baselines", Schema(), models, rows=BASELINE_ROWS[args.size])
        with kafka(args.bootstrap) as bootstrap:
            topic = f"bench-scaleout-{uuid.uuid4().hex[:8]}"
            create_topic(bootstrap, topic, PARTITIONS)
            try:
                stream = EventStream(Schema(), models, event_rate, PARTITIONS, seed=3)
                produce(bootstrap, topic, stream, total)
                result("produced", f"{total:,} events, 2 models per partition")
                for i in range(1, args.repeat + 1):
                    if args.repeat > 1:
                        print(f"-- run {i} of {args.repeat}", flush=True)
                    try:
                        run = measure(work, bootstrap, topic, total, args.timeout, args.client)
                    except Unsettled as exc:
                        unsettled.append(str(exc))
                        print(f"UNSETTLED (run {i}): {exc}", flush=True)
                        continue
                    except Stalled as exc:
                        stalls.append(str(exc).splitlines()[0])
                        print(f"STALLED (run {i}): {exc}", flush=True)
                        continue
                    runs.append(run)
                    if args.repeat > 1:
                        result(
                            f"run {i}",
                            f"steady {run.steady:.2f}x, end to end {run.end_to_end:.2f}x",
                        )
            finally:
                delete_topic(bootstrap, topic)
    result("stalls", f"{len(stalls)} of {args.repeat} runs" + "".join(f"\n  {s}" for s in stalls))
    result(
        "no steady window (group settled after 85 % of N)",
        f"{len(unsettled)} of {args.repeat} runs",
    )
    if not runs:
        return 1
    steady = [r.steady for r in runs]
    ends = [r.end_to_end for r in runs]
    if len(runs) > 1:
        result("two / one (steady rate) over the runs", _spread(steady))
        result("two / one (end to end) over the runs", _spread(ends))
        result(
            "machine cores busy, two daemons' steady window",
            _spread([r.two.machine_cores for r in runs]),
        )
        result("steal, two daemons' steady window", _spread([r.two.steal_cores for r in runs]))
        # The same work per event on either side: two daemons costing more CPU per
        # event than one means the cores got slower when both were busy (the VM's host).
        result(
            "daemon CPU per event, two / one",
            _spread([r.cpu_per_event for r in runs]),
        )
        # steady two / one = (daemon cores, two / one) / (CPU per event, two / one)
        result(
            "daemon cores used, two / one",
            _spread([r.cores for r in runs]),
        )
        met = sum(v >= TARGET for v in steady)
        result("runs meeting the steady target", f"{met} of {len(runs)}")
    ratio("two / one (steady rate)" + (", worst run" if len(runs) > 1 else ""), min(steady), TARGET)
    ratio(
        "two / one (end to end, incl. rebalance)" + (", worst run" if len(runs) > 1 else ""),
        min(ends),
        TARGET,
    )
    return 1 if stalls or unsettled else 0


if __name__ == "__main__":
    raise SystemExit(main())
