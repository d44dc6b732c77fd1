"""Shared pieces of the benchmarks: realistic events, baselines, configs, a private
Kafka broker, /metrics scraping, RSS, and the report format.

Every benchmark prints its results as ``name: value`` lines and its ratios as
``ratio <name>: X (target T) -> met|MISSED`` lines, each measured against a baseline
measured in the same run (these machines are shared and noisy: only same-run ratios
mean something).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import faulthandler
import logging
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.baseline.model import Baseline
from drift_monitor.config import AppConfig, validate_config

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_LOCAL = REPO_ROOT / "scripts" / "kafka-local"
PYTHON = sys.executable
CLI = str(Path(sys.executable).parent / "drift-monitor")

#: The prediction column of the benchmark models.
SCORE = "score"
#: Event time of the first event (2026-01-01T00:00:00Z).
T0 = 1_767_225_600.0
#: Training rows of the benchmark baselines (= reference sample size, up to 100 000).
BASELINE_ROWS = {"small": 20_000, "full": 100_000}


# -- arguments and reporting ---------------------------------------------------------


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


# -- events ----------------------------------------------------------------------------


#: Categorical features: name -> (categories, probabilities) (Zipf-like tails).
def _zipf(k: int, s: float) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return w / w.sum()


_CATEGORICAL: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
    "country": (
        ("US", "IN", "BR", "DE", "GB", "FR", "MX", "ID", "NG", "JP", "CA", "ES"),
        _zipf(12, 1.1),
    ),
    "channel": (("web", "app", "branch", "broker"), np.array([0.45, 0.3, 0.15, 0.1])),
    "device": (("android", "ios", "desktop"), np.array([0.5, 0.3, 0.2])),
    "merchant": (tuple(f"m{i:02d}" for i in range(40)), _zipf(40, 1.0)),
    "plan": (("free", "basic", "plus", "pro", "team"), np.array([0.4, 0.25, 0.15, 0.12, 0.08])),
}


@dataclass(frozen=True)
class Schema:
    """``n_numeric`` numeric features ``f00..``, categorical features (the first five are
    the named ones above, more are synthetic), and a score."""

    n_numeric: int = 20
    n_categorical: int = 5

    @property
    def numeric(self) -> list[str]:
        return [f"f{i:02d}" for i in range(self.n_numeric)]

    @property
    def integral(self) -> frozenset[str]:
        """Numeric features holding whole numbers (written as JSON integers)."""
        return frozenset(n for i, n in enumerate(self.numeric) if i % 5 in (1, 4))

    @property
    def categorical(self) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
        out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        names = list(_CATEGORICAL)
        for i in range(self.n_categorical):
            if i < len(names):
                out[names[i]] = _CATEGORICAL[names[i]]
            else:
                k = 3 + (i * 7) % 30
                out[f"c{i:02d}"] = (tuple(f"v{j}" for j in range(k)), _zipf(k, 0.8))
        return out


def columns(schema: Schema, n: int, rng: np.random.Generator, drift: float = 0.0) -> dict[str, Any]:
    """``n`` rows of every feature and the score, column by column (numpy arrays; NaN =
    missing numeric value, None = missing category). ``drift`` (0 = training
    distribution) shifts every third numeric feature by ``drift`` standard deviations
    and moves categorical mass from the first category to the last."""
    out: dict[str, Any] = {}
    logit = np.full(n, -1.5)
    for i, name in enumerate(schema.numeric):
        kind = i % 5
        if kind == 0:  # amounts: log-normal, 2 decimals
            mu, sd = 3.5 + 0.1 * i, 0.9
            x = np.round(np.exp(rng.normal(mu, sd, n)), 1)
            shift = np.exp(mu + sd * sd / 2) * 0.5
        elif kind == 1:  # ages / tenures: integers
            x = np.floor(rng.gamma(3.0 + i % 4, 6.0, n))
            shift = 6.0 * np.sqrt(3.0 + i % 4)
        elif kind == 2:  # ratios in [0, 1]
            x = np.round(rng.beta(2.0, 5.0, n), 3)
            shift = 0.16
        elif kind == 3:  # standardised scores
            x = np.round(rng.normal(0.0, 1.0, n), 2)
            shift = 1.0
        else:  # counts
            x = rng.poisson(4.0 + i % 7, n).astype(np.float64)
            shift = np.sqrt(4.0 + i % 7)
        if drift and i % 3 == 0:
            x = x + drift * shift
        if i % 4 == 3:  # some features are sometimes missing
            x[rng.random(n) < 0.03] = np.nan
        logit = logit + 0.1 * np.nan_to_num((x - np.nanmean(x)) / (np.nanstd(x) + 1e-12))
        out[name] = x
    for name, (cats, probs) in schema.categorical.items():
        p = probs.copy()
        if drift:
            moved = min(p[0] * 0.8, 0.25 * drift)
            p[0] -= moved
            p[-1] += moved
        codes = rng.choice(len(cats), size=n, p=p)
        values = np.asarray(cats, dtype=object)[codes]
        values[rng.random(n) < 0.01] = None
        logit = logit + 0.2 * (codes == 0)
        out[name] = values
    out[SCORE] = np.round(1.0 / (1.0 + np.exp(-logit)), 4)
    return out


def training_frame(schema: Schema, n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` training rows (features and score) in the training distribution."""
    return pd.DataFrame(columns(schema, n, np.random.default_rng(seed)))


def model_names(n: int) -> list[str]:
    """``n`` model names (``m00``...)."""
    return [f"m{i:02d}" for i in range(n)]


@dataclass
class EventStream:
    """Generates SPEC-shaped event values (~330 bytes of JSON) in batches.

    Feature rows are drawn from a pool of ``pool`` distinct rows generated with numpy
    (so producing millions of events costs ~1 us each, not a JSON dump of a dict);
    each event gets its own model, event id and event time. Events are spread uniformly
    at random over ``models``; event time advances by ``1 / rate`` seconds per event
    overall (each model sees ``rate / len(models)`` events per second of event time).
    ``partition_of`` maps a model to its partition (keyed by model: a model lives on
    one partition). ``drift`` (settable between batches) selects the distribution.
    """

    schema: Schema
    models: Sequence[str]
    rate: float
    partitions: int = 1
    seed: int = 7
    t0: float = T0
    drift: float = 0.0
    pool: int = 65_536

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._index = 0
        self._keys = [m.encode() for m in self.models]
        self._pools: dict[float, list[bytes]] = {}

    def partition_of(self, model_index: int) -> int:
        return model_index % self.partitions

    @property
    def produced(self) -> int:
        """Events generated so far."""
        return self._index

    def seek(self, index: int) -> None:
        """Give the next event the event time of event number ``index``."""
        self._index = index

    def _pool(self) -> list[bytes]:
        rows = self._pools.get(self.drift)
        if rows is None:
            rng = np.random.default_rng([self.seed, len(self._pools)])
            cols = columns(self.schema, self.pool, rng, self.drift)
            names = [*self.schema.numeric, *self.schema.categorical]
            integral = self.schema.integral
            lists = [
                [
                    None if v != v else int(v) if name in integral else v  # NaN -> null
                    for v in cols[name].tolist()
                ]
                for name in names
            ]
            dumps = orjson.dumps
            rows = [
                dumps(dict(zip(names, row, strict=True))) + b',"prediction":' + dumps(score)
                for row, score in zip(zip(*lists, strict=True), cols[SCORE].tolist(), strict=True)
            ]
            self._pools[self.drift] = rows
        return rows

    def batch(self, n: int) -> tuple[list[bytes], list[int], list[bytes], list[int]]:
        """The next ``n`` events: (record keys, partitions, values, event times in ms)."""
        rng = self._rng
        pool = self._pool()
        rows = rng.integers(0, len(pool), n).tolist()
        model_idx = rng.integers(0, len(self.models), n).tolist()
        ts_ms = np.round((self.t0 + (self._index + np.arange(n)) / self.rate) * 1000)
        ts_list = ts_ms.astype(np.int64).tolist()
        ids = rng.integers(0, 2**48, n).tolist()
        self._index += n
        keys = self._keys
        template = b'{"model":"%b","event_id":"%012x","timestamp":%d,"features":%b}'
        values = [
            template % (keys[m], i, t, pool[r])
            for m, i, t, r in zip(model_idx, ids, ts_list, rows, strict=True)
        ]
        return (
            [keys[m] for m in model_idx],
            [self.partition_of(m) for m in model_idx],
            values,
            ts_list,
        )


def batches(stream: EventStream, total: int, size: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """``total`` events of ``stream`` in batches of at most ``size``."""
    left = total
    while left > 0:
        n = min(size, left)
        left -= n
        yield stream.batch(n)


# -- baselines and configs -----------------------------------------------------------


def write_baselines(
    directory: Path, schema: Schema, models: Sequence[str], rows: int = 100_000
) -> Baseline:
    """One baseline per model (the same training data), saved as ``<model>.dmb``."""
    df = training_frame(schema, rows)
    base = build_baseline(
        df,
        models[0],
        version="bench",
        prediction=[SCORE],
        categorical=list(schema.categorical),
    )
    directory.mkdir(parents=True, exist_ok=True)
    out = base
    for m in models:
        out = save_baseline(
            dataclasses.replace(base, model=m, _prepared={}), directory / f"{m}.dmb"
        )
    return out


def window_config(size_seconds: float = 300.0, **extra: Any) -> dict[str, Any]:
    """The benchmarks' window: tumbling, 5 minutes, 30 s allowed lateness."""
    return {
        "type": "tumbling",
        "size_seconds": size_seconds,
        "allowed_lateness_seconds": 30.0,
        "idle_timeout_seconds": 60.0,
        **extra,
    }


def app_config(
    workdir: Path,
    models: Sequence[str],
    *,
    bootstrap: str = "in-memory:0",
    topic: str = "predictions",
    group: str = "drift-monitor-bench",
    http_port: int = 0,
    window: dict[str, Any] | None = None,
    episodes: dict[str, Any] | None = None,
    webhooks: dict[str, Any] | None = None,
    log_level: str = "WARNING",
    baselines_dir: Path | None = None,
) -> dict[str, Any]:
    """A daemon config (as a mapping, ready to validate or dump as YAML); baselines in
    ``baselines_dir`` (default ``workdir/baselines``), state in ``workdir/state``."""
    cfg: dict[str, Any] = {
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "topics": [topic],
            "group_id": group,
            "poll_timeout_ms": 200,
        },
        "baselines": {
            "dir": str(baselines_dir or workdir / "baselines"),
            "reload_interval_seconds": 30,
        },
        "state": {"dir": str(workdir / "state")},
        "http": {"host": "127.0.0.1", "port": http_port},
        "defaults": {"window": window or window_config(), "episodes": episodes or {}},
        "models": [{"name": m} for m in models],
        "logging": {"level": log_level},
    }
    if webhooks:
        cfg["webhooks"] = webhooks
    return cfg


def validated(cfg: dict[str, Any]) -> AppConfig:
    """The config mapping validated."""
    return validate_config(cfg, "bench config")


# -- processes, ports, Kafka -----------------------------------------------------------


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_port_pair() -> int:
    for _ in range(200):
        port = free_port()
        if port >= 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


@contextlib.contextmanager
def kafka(bootstrap: str | None) -> Iterator[str]:
    """``bootstrap`` when given; otherwise a private broker (scripts/kafka-local on a
    temporary directory and free port), stopped on exit."""
    if bootstrap:
        yield bootstrap
        return
    directory = Path(tempfile.mkdtemp(prefix="bench-kafka-"))
    port = _free_port_pair()
    t = time.perf_counter()
    out = subprocess.run(
        [str(KAFKA_LOCAL), "start", "--dir", str(directory), "--port", str(port),
         "--owner-pid", str(os.getpid())],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"scripts/kafka-local start failed:\n{out.stderr}\n{out.stdout}")
    print(f"(started a private broker on 127.0.0.1:{port} in {time.perf_counter() - t:.1f} s)")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [str(KAFKA_LOCAL), "stop", "--dir", str(directory)],
            capture_output=True, timeout=90, check=False,
        )  # fmt: skip
        subprocess.run(["rm", "-rf", str(directory)], check=False)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    """Create ``topic`` with the tests' topic configs (``retention.ms=-1``: benchmark
    events carry old record timestamps, which the broker's retention check would delete
    mid-read) and wait for its leaders."""
    from tests.services.kafka import create_topic as create  # noqa: PLC0415

    create(bootstrap, topic, partitions)
    wait_for(lambda: _has_leaders(bootstrap, topic, partitions), 30, f"leaders of {topic}")


def _has_leaders(bootstrap: str, topic: str, partitions: int) -> bool:
    from kafka import KafkaConsumer  # noqa: PLC0415

    c = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        parts = c.partitions_for_topic(topic)
        return parts is not None and len(parts) == partitions
    finally:
        c.close()


def delete_topic(bootstrap: str, topic: str) -> None:
    """Delete ``topic`` (best effort: frees the broker's disk)."""
    from kafka.admin import KafkaAdminClient  # noqa: PLC0415

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


def producer(bootstrap: str) -> Any:
    """A throughput-tuned kafka-python producer."""
    from kafka import KafkaProducer  # noqa: PLC0415

    return KafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


def produce(
    bootstrap: str, topic: str, stream: EventStream, total: int, batch: int = 20_000
) -> tuple[float, int]:
    """Produce ``total`` events of ``stream`` to ``topic`` (record timestamp = event
    time); returns (seconds spent producing, bytes of values)."""
    p = producer(bootstrap)
    spent = 0.0
    nbytes = 0
    try:
        for keys, parts, values, ts in batches(stream, total, batch):
            t = time.perf_counter()
            send = p.send
            for k, part, v, ms in zip(keys, parts, values, ts, strict=True):
                send(topic, value=v, key=k, partition=part, timestamp_ms=ms)
                nbytes += len(v)
            spent += time.perf_counter() - t
        t = time.perf_counter()
        p.flush(timeout=300)
        spent += time.perf_counter() - t
    finally:
        p.close(timeout=30)
    return spent, nbytes


def wait_for(probe: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``probe`` until truthy; RuntimeError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = probe()
        if v:
            return v
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


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


# -- /metrics and RSS --------------------------------------------------------------------


def scrape(url: str, timeout: float = 5.0) -> dict[str, list[tuple[dict[str, str], float]]]:
    """``/metrics`` parsed: sample name -> [(labels, value)]."""
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def try_scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]] | None:
    """Like :func:`scrape`, None when the endpoint does not answer."""
    try:
        return scrape(url, timeout=2.0)
    except OSError:
        return None


def events_total(metrics: dict[str, list[tuple[dict[str, str], float]]]) -> float:
    """Sum of ``drift_monitor_events_total`` over models and outcomes."""
    return sum(v for _, v in metrics.get("drift_monitor_events_total", []))


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of ``pid`` (default: this process) in MiB."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS in {path}")


class Daemon:
    """``drift-monitor run --config FILE`` as a subprocess, stdout/stderr to a log."""

    def __init__(self, config_path: Path, log_path: Path, metrics_port: int) -> None:
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{metrics_port}/metrics"
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [CLI, "run", "--config", str(config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(config_path.parent),
        )

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]] | None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
        return try_scrape(self.url)

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as YAML."""
    import yaml  # noqa: PLC0415

    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
