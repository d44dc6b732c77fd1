"""The consume loop: poll -> process -> time-driven jobs -> checkpoint, and what to do
when an effect fails.

Single-threaded (the main thread owns the consumer and every window). Other threads
only :meth:`ConsumeLoop.post` jobs and set the rebalance / stop flags.

A :class:`~drift_monitor.errors.SinkError` anywhere in a round (a window's effect, a
dead-letter copy, a flush before the commit) stops progress: nothing is committed past
it, the sink is reported failing (``/readyz`` 503, ``sink_up{sink} 0``, ``/status``,
one ERROR line per attempt), and after a backoff (0.5 s doubling to 30 s) the loop
re-reads from the last commit - re-building the windows, counting nothing twice - and
tries again, for as long as it takes. Any other exception ends the loop and the process
exits non-zero *without* committing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from drift_monitor.checkpoint.checkpointer import Checkpointer
from drift_monitor.clock import Clock
from drift_monitor.errors import SinkError
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.source.base import (
    Commit,
    EventSource,
    Record,
    RevocationNotifying,
    TopicPartition,
)
from drift_monitor.source.settings import KafkaSettings
from drift_monitor.status.state import MonitorState

log = logging.getLogger("drift_monitor.loop")

COMMIT_INTERVAL_S = 2.0


class Job(StrEnum):
    """Time-driven work posted by the scheduler thread, run by the loop."""

    TICK = "tick"
    RELOAD = "reload"
    HEALTH = "health"


@dataclass(slots=True)
class Backoff:
    """Delay before retrying after a sink failure: ``initial`` doubling to ``maximum``
    seconds; ``attempt`` counts consecutive failures."""

    initial: float = 0.5
    maximum: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay for this failure (and count it)."""
        delay = min(self.maximum, self.initial * 2.0 ** min(self.attempt, 30))
        self.attempt += 1
        return delay


class ConsumeLoop:
    """See the module docstring. ``wait(seconds)`` pauses the loop (the stop event's
    wait by default; tests pass a fake); ``monotonic`` times the backoff."""

    def __init__(
        self,
        kafka: KafkaSettings,
        source: EventSource,
        pipeline: Pipeline,
        state: MonitorState,
        checkpointer: Checkpointer,
        clock: Clock,
        *,
        wait: Callable[[float], object] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kafka = kafka
        self.source = source
        self.pipeline = pipeline
        self.state = state
        self.checkpointer = checkpointer
        self.clock = clock
        self.stopping = threading.Event()
        self._wait = wait or self.stopping.wait
        self._monotonic = monotonic
        self.backoff = Backoff()
        self.rebalanced = threading.Event()
        self._due: set[Job] = set()
        self._due_lock = threading.Lock()
        self._dirty = False
        self._last_commit = 0.0
        self._retry_at: float | None = None
        self._failing: set[str] = set()
        self._acked_at_failure = 0
        self._jobs: dict[Job, Callable[[], None]] = {
            Job.TICK: self._tick,
            Job.RELOAD: self._reload,
            Job.HEALTH: self.refresh_health,
        }
        source.on_rebalance(self.rebalanced.set)
        if isinstance(source, RevocationNotifying):
            source.before_revoke(self._commit_before_revoke)
        # The first assignment is a rebalance too: restore from committed metadata.
        self.rebalanced.set()

    # -- jobs --------------------------------------------------------------------------

    def post(self, job: Job | str) -> None:
        """Ask the loop to run ``job`` at its next round (any thread)."""
        with self._due_lock:
            self._due.add(Job(job))

    def _take_due(self) -> list[Job]:
        with self._due_lock:
            due, self._due = self._due, set()
        return sorted(due)

    def _tick(self) -> None:
        # Partitions with unread records: their models are behind, not idle.
        lagging = {tp for tp, n in self.source.lag().items() if n > 0}
        self.pipeline.tick(lagging, source_up=self.state.kafka_connected)

    def _reload(self) -> None:
        self.pipeline.reload_baselines()

    def refresh_health(self) -> None:
        """Connection, assignment, lag, and the partial-traffic warning."""
        assignment = self.source.assignment()
        self.state.set_kafka(self.source.connected(), bool(assignment), self.source.lag())
        topics = {t for t, _ in assignment}
        counts = {t: self.source.partition_count(t) for t in topics}
        self.pipeline.check_partition_spread(assignment, counts)
        if self.pipeline.labels is not None and assignment:
            # Only once assigned: before that the client may not have the metadata yet.
            self.pipeline.labels.check_topics(self.source.partition_count)

    # -- the round ---------------------------------------------------------------------

    @property
    def failing(self) -> bool:
        """True while a sink failure is being retried (nothing is committed)."""
        return self._retry_at is not None

    def run_once(self) -> int:
        """One poll -> process -> (maybe) commit round; returns records processed."""
        self.state.beat()
        if self._retry_at is not None:
            remaining = self._retry_at - self._monotonic()
            if remaining > 0:
                self._wait(min(remaining, self._kafka.poll_timeout_ms / 1000))
                return 0
            self._retry_at = None
            self.rebalanced.set()  # re-read from the last commit
        try:
            return self._round()
        except SinkError as err:
            self._sink_failed(err)
            return 0

    def _round(self) -> int:
        k = self._kafka
        records = self.source.poll(k.poll_timeout_ms, k.max_poll_records)
        if self.rebalanced.is_set():
            # Assignment changed (or a retry): rebuild windows from the committed
            # offsets instead of mixing old state with the new assignment.
            self.rebalanced.clear()
            self.rewind(records)
            return 0
        acked = self.pipeline.acked
        if records:
            self._dirty = True
            self.pipeline.process(records)
        for job in self._take_due():
            self._jobs[job]()
        if self.pipeline.acked != acked:
            # A window closed (by the watermark, the idle timeout or a baseline change):
            # the offsets it held may now be committed, with or without new records.
            self._dirty = True
        if self.pipeline.labels is not None and self.pipeline.labels.pending():
            # The label join changed (a window became final on a tick): flush it soon.
            self._dirty = True
        if self._dirty and self.clock.now() - self._last_commit >= COMMIT_INTERVAL_S:
            self._commit()
        return len(records)

    def _sink_failed(self, err: SinkError) -> None:
        self.state.set_sink(err.sink, str(err))
        self._failing.add(err.sink)
        self._acked_at_failure = self.pipeline.acked
        delay = self.backoff.next_delay()
        self._retry_at = self._monotonic() + delay
        log.error(
            "%s; not committing, retrying in %.1fs",
            err,
            delay,
            extra={"sink": err.sink, "target": err.target},
        )

    def _healed(self) -> None:
        for sink in sorted(self._failing):
            self.state.set_sink(sink, None)
            log.info("%s sink works again; committing resumed", sink)
        self._failing.clear()
        self.backoff.attempt = 0

    def commit(self) -> bool:
        """Flush every sink and commit what the pipeline allows; False when nothing
        could be committed (a sink failure is then being retried)."""
        if self._retry_at is not None:
            return False
        try:
            return self._commit()
        except SinkError as err:
            self._sink_failed(err)
            return False

    def _commit_before_revoke(self) -> None:
        """The group takes this member's partitions away (a member joined or left): commit
        what is durable while it still owns them, so that the next owner resumes there
        and replays - instead of counting and evaluating again - what was read since the
        last periodic commit. Runs while the loop is blocked in ``poll`` (see
        :class:`~drift_monitor.source.base.RevocationNotifying`). Skipped while a rewind
        is pending or a sink is failing: the last commit stands and the next owner
        re-reads from it (at-least-once)."""
        if self.rebalanced.is_set() or self._retry_at is not None or self._failing:
            return
        if self.commit():
            log.info("committed before the rebalance took the partitions")

    def _commit(self) -> bool:
        ok = self.checkpointer.commit(self.pipeline.commit_positions())
        if ok:
            self.pipeline.committed(self.checkpointer.committed)
            self._dirty = False
            self._last_commit = self.clock.now()
            if self._failing and (
                self.pipeline.acked > self._acked_at_failure or not self.pipeline.windows
            ):
                self._healed()
        return ok

    def close_on_stop(self, every_model: bool) -> int:
        """After the last round of a graceful stop: :meth:`Pipeline.close_on_stop`
        (the commit that follows covers those windows). Nothing is closed while a sink
        failure is being retried or a rebalance is pending (the windows may no longer be
        this process's); a failing effect leaves its window open and nothing is then
        committed (see :meth:`commit`). Returns windows closed."""
        opted = every_model or any(
            w.settings.evaluate_on_stop for w in self.pipeline.windows.values()
        )
        if not opted or self._retry_at is not None or self.rebalanced.is_set():
            return 0  # not asked for: the stop is exactly what it was without the setting
        try:
            lagging = {tp for tp, n in self.source.lag().items() if n > 0}
            closed = self.pipeline.close_on_stop(lagging, every_model)
        except SinkError as err:
            self._sink_failed(err)
            return 0
        if closed:
            self._dirty = True
            log.info("stopping: %d open window(s) evaluated before the commit", closed)
        return closed

    def rewind(self, discarded: Sequence[Record]) -> None:
        """Forget the windows and re-read every assigned partition from its commit."""
        assignment = self.source.assignment()
        # Where to re-read partitions that have no commit yet: the first offset this
        # process read since the last rewind, or the first one of the discarded batch.
        first_seen = self.pipeline.first_offsets_read()
        self.pipeline.reset()
        for r in discarded:
            tp = (r.topic, r.partition)
            if tp not in first_seen or r.offset < first_seen[tp]:
                first_seen[tp] = r.offset
        commits: dict[TopicPartition, Commit | None] = {}
        for tp in sorted(assignment):
            c = self.source.committed(tp)
            commits[tp] = c
            if c is not None:
                self.source.seek(tp, c.offset)
            elif tp in first_seen:
                # No commit yet (new group): re-read what this poll returned.
                self.source.seek(tp, first_seen[tp])
        self.pipeline.restore(commits)
        self.checkpointer.restored(commits)
        self.refresh_health()
        log.info(
            "reading from the committed offsets of: %s",
            ", ".join(f"{t}/{p}" for t, p in sorted(assignment)) or "none",
        )
