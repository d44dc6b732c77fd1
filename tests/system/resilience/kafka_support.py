"""Shared pieces of the resilience tests that run the daemon against a real broker.

- the size knob: ``DRIFT_MONITOR_RESILIENCE_SCALE`` = ``ci`` (default, what the suite
  runs) or ``large`` (the by-hand run whose figures go into docs/RELIABILITY.md);
- :func:`report`: one summary line on stdout, and the same as JSON appended to the
  file named by ``DRIFT_MONITOR_RESILIENCE_RESULTS`` (when set);
- a small, fast model (three features and a score, ~130-byte events) and its baseline,
  so that hundreds of thousands of events go through a 2-core machine in minutes;
The daemon subprocess and its config (``DaemonConfig(overrides=...)`` for any section:
webhooks, episodes, decode, logging ...), the audit-log readers and the polling helper
are the shared harness's (``tests/services/daemon.py``).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from kafka.partitioner.default import murmur2

from drift_monitor.baseline import build_baseline, save_baseline
from tests.services.wait import wait_for

SCALE_ENV = "DRIFT_MONITOR_RESILIENCE_SCALE"
RESULTS_ENV = "DRIFT_MONITOR_RESILIENCE_RESULTS"
SCALES = ("ci", "large")

SCALE = os.environ.get(SCALE_ENV, "ci").strip().lower() or "ci"
if SCALE not in SCALES:
    raise ValueError(f"{SCALE_ENV} must be one of {', '.join(SCALES)}, got {SCALE!r}")


def scaled(ci: Any, large: Any) -> Any:
    """The value for the current :data:`SCALE`."""
    return large if SCALE == "large" else ci


def report(test: str, summary: Mapping[str, Any]) -> str:
    """Print ``[test] k=v ...`` and append ``{"test", "scale", "at", **summary}`` as one
    JSON line to ``$DRIFT_MONITOR_RESILIENCE_RESULTS`` when it is set."""
    doc = {"test": test, "scale": SCALE, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    doc.update(summary)
    line = f"[{test}] scale={SCALE} " + " ".join(f"{k}={_fmt(v)}" for k, v in summary.items())
    print("\n" + line, flush=True)
    path = os.environ.get(RESULTS_ENV, "").strip()
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, sort_keys=False, default=str) + "\n")
    return line


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, dict):
        return json.dumps(v, separators=(",", ":"), sort_keys=True)
    return str(v)


# -- the small model -------------------------------------------------------------------

CATEGORIES = ("a", "b", "c")


def training_frame(n: int = 5000, seed: int = 1) -> pd.DataFrame:
    """x ~ N(0, 1), y ~ Exp(1), c uniform over a/b/c, score ~ U(0, 1)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "y": rng.exponential(size=n),
            "c": rng.choice(list(CATEGORIES), n),
            "score": rng.uniform(size=n),
        }
    )


def write_baselines(directory: Path, models: Iterable[str], version: str = "res-1") -> Path:
    """``<directory>/<model>.dmb`` for every model (one training frame); returns dir."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = training_frame()
    for m in models:
        save_baseline(
            build_baseline(frame, m, prediction=["score"], version=version),
            directory / f"{m}.dmb",
        )
    return directory


def event(rng: random.Random, model: str, event_id: str, ts: float, *, shift: float = 0.0) -> bytes:
    """One valid event of the small model; ``shift`` moves x by that many std (drift)."""
    return orjson.dumps(
        {
            "model": model,
            "event_id": event_id,
            "timestamp": round(ts, 3),
            "features": {
                "x": round(rng.gauss(shift, 1.0), 5),
                "y": round(rng.expovariate(1.0), 5),
                "c": rng.choice(CATEGORIES),
            },
            "prediction": round(rng.random(), 5),
        }
    )


def models_on_distinct_partitions(n_models: int, partitions: int, prefix: str) -> list[str]:
    """``n_models`` names ``<prefix><k>`` whose keys Kafka's default partitioner (murmur2)
    puts on distinct partitions: keyed by model, each model lives on its own partition."""
    out: list[str] = []
    used: set[int] = set()
    for k in range(1000):
        name = f"{prefix}{k}"
        p = (murmur2(name.encode()) & 0x7FFFFFFF) % partitions
        if p not in used:
            used.add(p)
            out.append(name)
            if len(out) == n_models:
                return out
    raise AssertionError("no model names on distinct partitions")


def aligned_past(window_s: float, hours_ago: float = 2.0) -> float:
    """An epoch time ``hours_ago`` in the past on a window boundary."""
    t = time.time() - hours_ago * 3600.0
    return math.floor(t / window_s) * window_s


# -- the window audit log, read incrementally --------------------------------------------


class AuditTail:
    """Reads ``windows-audit.jsonl`` incrementally (complete lines only) and keeps, per
    event id, how many audited windows hold it. A line cut by kill -9 (the next run
    starts a new line after it) is not JSON: it is counted in ``torn`` and skipped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._pos = 0
        self.ids: dict[str, int] = {}
        self.windows: list[dict[str, Any]] = []
        self.torn = 0

    def update(self) -> AuditTail:
        """Read what was appended since the last call."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._pos)
                data = fh.read()
        except FileNotFoundError:
            return self
        end = data.rfind(b"\n")
        if end < 0:
            return self
        self._pos += end + 1
        for line in data[:end].split(b"\n"):
            if not line.strip():
                continue
            try:
                w = json.loads(line)
            except ValueError:
                self.torn += 1
                continue
            ids = w.pop("ids")
            w["n_ids"] = len(ids)
            w["id_set"] = frozenset(ids)
            self.windows.append(w)
            for i in ids:
                self.ids[i] = self.ids.get(i, 0) + 1
        return self

    def covers(self, wanted: set[str]) -> bool:
        """Every id of ``wanted`` audited at least once (after reading what is new)."""
        self.update()
        return len(self.ids) >= len(wanted) and all(i in self.ids for i in wanted)

    def wait_covers(
        self,
        wanted: set[str],
        timeout: float,
        what: str,
        *,
        interval: float = 0.5,
        log_tail: Callable[[], str] | None = None,
    ) -> None:
        """Poll :meth:`covers` every ``interval`` seconds until every id of ``wanted`` is
        audited; after ``timeout`` seconds :class:`tests.services.wait.WaitTimeout` naming
        ``what``, how many ids are still not audited and then ``log_tail()`` (e.g. the
        daemon's log tail)."""

        def missing() -> str:
            tail = log_tail() if log_tail is not None else ""
            return f"{len(wanted - self.ids.keys())} ids not audited\n{tail}"

        wait_for(lambda: self.covers(wanted), timeout, what, interval=interval, on_timeout=missing)


# -- a producer that stamps events with the time it sends them -------------------------


class RealtimeProducer:
    """Sends events of ``models`` (round robin, keyed by model, ids ``<prefix><n>``)
    from a thread at about ``rate`` events/s, each stamped with the wall-clock time it
    is sent (event time = production time, like a live service's predictions).

    :meth:`run_for` produces for a number of seconds and returns when every record is
    acknowledged; the ids sent so far are in :attr:`ids`.
    """

    def __init__(
        self, bootstrap: str, topic: str, models: list[str], rate: float, *, prefix: str = "r"
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.models = models
        self.rate = rate
        self.prefix = prefix
        self.ids: list[str] = []
        self._rng = random.Random(7)

    def run_for(self, seconds: float, chunk: int = 100) -> int:
        """Produce for ``seconds`` at :attr:`rate`; returns how many were sent."""
        from tests.services.streams import producer, send_paced  # noqa: PLC0415

        p = producer(self.bootstrap, linger_ms=5)
        try:
            return send_paced(
                p,
                self.topic,
                self._records(),
                self.rate,
                chunk=chunk,
                until=time.monotonic() + seconds,
            )
        finally:
            p.close(timeout=10)

    def _records(self) -> Iterator[tuple[bytes, bytes, None]]:
        """Endless: each event stamped with the wall-clock time it is made (just before
        it is sent), its id recorded in :attr:`ids`."""
        while True:
            n = len(self.ids)
            model = self.models[n % len(self.models)]
            eid = f"{self.prefix}{n}"
            value = event(self._rng, model, eid, time.time())
            self.ids.append(eid)
            yield model.encode(), value, None
