"""The monitor's observable state: what /metrics and /status render at scrape time.

The consume loop writes; HTTP threads read snapshots. One lock, held only for
dictionary updates and copies, never during I/O or statistics.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from drift_monitor.evaluation.results import WindowResult

#: evaluation_duration_seconds buckets: one window's statistics take ~1 ms (a few
#: columns, small windows) to ~2 s (100+ columns, 100k-event windows) on one core.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Histogram:
    """Cumulative-bucket histogram (Prometheus semantics), seconds."""

    counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    total: int = 0
    sum: float = 0.0

    def observe(self, value: float) -> None:
        """Add one observation."""
        for i, b in enumerate(DURATION_BUCKETS):
            if value <= b:
                self.counts[i] += 1
        self.total += 1
        self.sum += value


@dataclass(frozen=True, slots=True)
class BaselineInfo:
    """What is loaded for a model (None fields when its baseline failed to load)."""

    version: str | None
    path: str
    error: str | None = None


class MonitorState:
    """Counters, the latest window verdicts, and health flags; thread-safe."""

    def __init__(
        self,
        models: list[str],
        window_seconds: dict[str, float],
        monotonic: Callable[[], float] = time.monotonic,
        history_size: int = 10,
    ) -> None:
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._loop_beat = monotonic()
        self.models = list(models)
        self.window_seconds = dict(window_seconds)
        self.events: dict[tuple[str, str], int] = defaultdict(int)
        self.invalid_reasons: dict[str, int] = defaultdict(int)
        self.replayed: dict[str, int] = defaultdict(int)
        self.results: dict[str, WindowResult] = {}
        # model -> its last ``history_size`` closed windows, oldest first (/status)
        self.history_size = history_size
        self.history: dict[str, deque[WindowResult]] = {}
        self.evaluated_at: dict[str, float] = {}
        self.durations: dict[str, Histogram] = {}
        self.baselines: dict[str, BaselineInfo] = {}
        self.lag: dict[tuple[str, int], int] = {}
        self.kafka_connected = False
        self.assigned = False
        self.windows_closed: dict[str, int] = defaultdict(int)
        self.warnings: dict[str, str] = {}
        # sink name -> None when healthy, else the one-line reason (what to fix)
        self.sinks: dict[str, str | None] = {}
        self.sink_failures: dict[str, int] = defaultdict(int)
        # partition -> models whose window checkpoint did not fit its commit metadata
        self.checkpoint_dropped: dict[tuple[str, int], int] = {}
        # (topic, partition, reason) -> records passed over unread; the last gap per
        # partition for /status (see drift_monitor/source/gaps.py)
        self.skipped: dict[tuple[str, int, str], int] = defaultdict(int)
        self.gaps: dict[tuple[str, int], dict[str, object]] = {}

    def count(self, model: str, outcome: str, n: int = 1) -> None:
        """Add ``n`` events of ``outcome`` (accepted|invalid|late|unknown_model)."""
        with self._lock:
            self.events[(model, outcome)] += n

    def count_invalid(self, reason: str) -> None:
        """One more invalid event for ``reason``."""
        with self._lock:
            self.invalid_reasons[reason] += 1

    def count_replayed(self, model: str) -> None:
        """One re-read event of an already evaluated window (after a restart)."""
        with self._lock:
            self.replayed[model] += 1

    def record_result(self, result: WindowResult, duration: float, now: float) -> None:
        """Store a closed window's verdict and its evaluation time (seconds)."""
        with self._lock:
            self.results[result.model] = result
            self.evaluated_at[result.model] = now
            self.durations.setdefault(result.model, Histogram()).observe(duration)
            self.windows_closed[result.model] += 1
            self.history.setdefault(result.model, deque(maxlen=self.history_size)).append(result)

    def record_preview(self, result: WindowResult, duration: float, now: float) -> None:
        """Store a periodic evaluation of the open window (gauges only, no episodes)."""
        with self._lock:
            self.results[result.model] = result
            self.evaluated_at[result.model] = now
            self.durations.setdefault(result.model, Histogram()).observe(duration)

    def set_baseline(self, model: str, info: BaselineInfo) -> None:
        """Record the baseline loaded for ``model``; a new version drops stale results."""
        with self._lock:
            old = self.baselines.get(model)
            self.baselines[model] = info
            if old is not None and old.version != info.version:
                self.results.pop(model, None)

    def set_kafka(self, connected: bool, assigned: bool, lag: dict[tuple[str, int], int]) -> None:
        """Update connection health, assignment and per-partition lag."""
        with self._lock:
            self.kafka_connected = connected
            self.assigned = assigned
            self.lag = dict(lag)

    def beat(self) -> None:
        """The consume loop completed a round (liveness)."""
        self._loop_beat = self._monotonic()

    def loop_age(self) -> float:
        """Seconds since the consume loop last completed a round."""
        return self._monotonic() - self._loop_beat

    def alive(self, max_age: float) -> tuple[bool, str]:
        """(alive, reason): the consume loop completed a round within ``max_age`` s."""
        age = self.loop_age()
        if age > max_age:
            return False, f"consume loop has not completed a round for {age:.0f}s"
        return True, "ok"

    def warn(self, key: str, message: str | None) -> None:
        """Set (or clear, with None) an operator-visible warning shown in /status."""
        with self._lock:
            if message is None:
                self.warnings.pop(key, None)
            else:
                self.warnings[key] = message

    def set_sink(self, sink: str, problem: str | None) -> None:
        """Record a sink's health: ``problem`` None when it works, else the one-line
        reason naming the path/topic and the fix. A failing sink makes the process
        not ready and is rendered as ``drift_monitor_sink_up{sink} 0``; each change
        from healthy to failing counts one ``sink_failures_total``.
        ``sink`` is a bounded name (outbox, episodes, audit, reports, dead_letters,
        metrics)."""
        with self._lock:
            if problem is not None and self.sinks.get(sink) is None:
                self.sink_failures[sink] += 1
            self.sinks[sink] = problem

    def set_checkpoint_dropped(self, tp: tuple[str, int], models: int) -> None:
        """Models of partition ``tp`` left out of its commit metadata (0 = none)."""
        with self._lock:
            if models:
                self.checkpoint_dropped[tp] = models
            else:
                self.checkpoint_dropped.pop(tp, None)

    def record_gap(
        self, topic: str, partition: int, reason: str, start: int, end: int, skipped: int
    ) -> None:
        """Offsets ``[start, end)`` of ``topic``/``partition`` were passed over unread
        (``reason``: retention, offset_reset, moved_back); ``skipped`` records (0 when
        unknown). Rendered as ``events_skipped_total`` and in /status."""
        with self._lock:
            self.skipped[(topic, partition, reason)] += skipped
            self.gaps[(topic, partition)] = {
                "reason": reason,
                "from_offset": start,
                "to_offset": end,
                "skipped": skipped,
            }

    def snapshot(self) -> StateSnapshot:
        """A consistent copy for rendering."""
        with self._lock:
            return StateSnapshot(
                models=list(self.models),
                window_seconds=dict(self.window_seconds),
                events=dict(self.events),
                invalid_reasons=dict(self.invalid_reasons),
                replayed=dict(self.replayed),
                results=dict(self.results),
                evaluated_at=dict(self.evaluated_at),
                durations={
                    m: Histogram(list(h.counts), h.total, h.sum) for m, h in self.durations.items()
                },
                baselines=dict(self.baselines),
                lag=dict(self.lag),
                kafka_connected=self.kafka_connected,
                assigned=self.assigned,
                warnings=dict(self.warnings),
                sinks=dict(self.sinks),
                sink_failures=dict(self.sink_failures),
                checkpoint_dropped=dict(self.checkpoint_dropped),
                skipped=dict(self.skipped),
                gaps={k: dict(v) for k, v in self.gaps.items()},
                history={m: tuple(h) for m, h in self.history.items()},
            )

    def ready(self) -> tuple[bool, str]:
        """(ready, reason): every model's baseline loaded, partitions assigned, Kafka up."""
        with self._lock:
            missing = [
                m
                for m in self.models
                if self.baselines.get(m, None) is None or self.baselines[m].version is None
            ]
            if missing:
                return False, f"baseline not loaded for model(s): {', '.join(missing)}"
            if not self.kafka_connected:
                return False, "Kafka brokers unreachable"
            if not self.assigned:
                return False, "no partitions assigned yet"
            failing = sorted((k, v) for k, v in self.sinks.items() if v is not None)
            if failing:
                return False, "; ".join(f"{k} sink failing: {v}" for k, v in failing)
            return True, "ready"


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """A copy of :class:`MonitorState` taken under its lock."""

    models: list[str]
    window_seconds: dict[str, float]
    events: dict[tuple[str, str], int]
    invalid_reasons: dict[str, int]
    replayed: dict[str, int]
    results: dict[str, WindowResult]
    evaluated_at: dict[str, float]
    durations: dict[str, Histogram]
    baselines: dict[str, BaselineInfo]
    lag: dict[tuple[str, int], int]
    kafka_connected: bool
    assigned: bool
    warnings: dict[str, str]
    sinks: dict[str, str | None]
    sink_failures: dict[str, int]
    checkpoint_dropped: dict[tuple[str, int], int]
    skipped: dict[tuple[str, int, str], int] = field(default_factory=dict)
    gaps: dict[tuple[str, int], dict[str, object]] = field(default_factory=dict)
    history: dict[str, tuple[WindowResult, ...]] = field(default_factory=dict)
