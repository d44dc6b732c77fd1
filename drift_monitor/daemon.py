"""The composition root: builds the pipeline, sinks, scheduler and HTTP server from a
config, and runs the consume loop.

Threads: the consume loop (main thread) owns the Kafka consumer and every window.
APScheduler's background thread only *posts* time-driven work for the loop (tick,
baseline reload, health) and delivers webhooks from the durable outbox, which never
touches windows. HTTP threads read snapshots of :class:`MonitorState`.
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from drift_monitor.clock import Clock, SystemClock
from drift_monitor.config.models import AppConfig
from drift_monitor.evaluation.episodes import EpisodeTracker
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.http.server import MonitorHttpServer
from drift_monitor.pipeline.audit import AuditLog
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.pipeline.incidents import IncidentHandler
from drift_monitor.pipeline.state import MonitorState
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.source.base import (
    Commit,
    DeadLetterSink,
    EventSource,
    Record,
    ReportSink,
    TopicPartition,
)
from drift_monitor.webhooks.delivery import Dispatcher
from drift_monitor.webhooks.outbox import Outbox
from drift_monitor.webhooks.transport import HttpTransport, Transport
from drift_monitor.windows.store import ClosedWindow

log = logging.getLogger("drift_monitor.daemon")

_COMMIT_INTERVAL_S = 2.0
_TICK_INTERVAL_S = 1.0
_HEALTH_INTERVAL_S = 2.0
_WEBHOOK_INTERVAL_S = 1.0


def _window_seconds(config: AppConfig) -> dict[str, float]:
    return {m.name: m.window.size_seconds for m in config.models if m.window.type != "count"}


class Monitor:
    """One drift-monitor process. ``source`` is Kafka in production, memory in the demo."""

    def __init__(
        self,
        config: AppConfig,
        source: EventSource,
        *,
        clock: Clock | None = None,
        dead_letters: DeadLetterSink | None = None,
        reports: ReportSink | None = None,
        transport: Transport | None = None,
        serve_http: bool = True,
    ) -> None:
        self.config = config
        self.source = source
        self.clock = clock or SystemClock()
        self.dead_letters = dead_letters
        self.reports = reports
        state_dir = Path(config.state.dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.state = MonitorState([m.name for m in config.models], _window_seconds(config))

        self.dispatcher: Dispatcher | None = None
        self.outbox: Outbox | None = None
        if config.webhooks.targets:
            config.webhooks.check_secrets()
            self.outbox = Outbox.in_state_dir(state_dir, history_size=config.webhooks.history_size)
            self.dispatcher = Dispatcher(
                self.outbox,
                config.webhooks,
                transport or HttpTransport(),
                self.clock,
                random.Random(),  # jitter only
            )
        self.tracker = EpisodeTracker(
            {m.name: m.episodes for m in config.models}, state_dir / "episodes.json"
        )
        self.incidents = IncidentHandler(self.tracker, self.dispatcher, reports)
        self.audit = (
            AuditLog(state_dir / "windows-audit.jsonl") if config.state.audit_windows else None
        )
        hooks: list[Any] = [self._on_window]
        self.pipeline = Pipeline(
            config,
            BaselineRegistry(config),
            self.state,
            self.clock,
            hooks=hooks,
            dead_letters=dead_letters,
        )
        self.registry = build_registry(
            self.state,
            self._webhook_counts,
            {m.name: (m.owner, m.team, m.tier) for m in config.models},
            self.dispatcher.oldest_pending_age if self.dispatcher is not None else None,
        )
        self.http: MonitorHttpServer | None = None
        if serve_http:
            self.http = MonitorHttpServer(
                config.http.host,
                config.http.port,
                self.registry,
                self.state,
                self._status_extras,
                config.http.liveness_timeout_seconds,
            )
        self._stop = threading.Event()
        self._rebalanced = threading.Event()
        self._due: set[str] = set()
        self._due_lock = threading.Lock()
        self._dirty = False
        self._last_commit = 0.0
        self._committed: dict[TopicPartition, Commit] = {}
        self.scheduler: BackgroundScheduler | None = None
        source.on_rebalance(self._rebalanced.set)
        # The first assignment is a rebalance too: restore from committed metadata.
        self._rebalanced.set()

    # -- hooks -------------------------------------------------------------------------

    def _on_window(self, result: WindowResult, window: ClosedWindow) -> None:
        if self.audit is not None:
            self.audit(result, window)
        self.incidents.handle(result, self.clock.now())
        self._dirty = True

    def _webhook_counts(self) -> tuple[dict[tuple[str, str], int], int]:
        if self.dispatcher is None:
            return {}, 0
        return dict(self.dispatcher.counts()), self.dispatcher.pending()

    def _status_extras(self, model: str) -> dict[str, Any]:
        st = self.tracker.state(model)
        return {
            "incident": {
                "open": st.episode_id is not None,
                "id": st.episode_id,
                "alert_run": st.alert_run,
                "clean_run": st.clean_run,
            }
        }

    # -- scheduler ---------------------------------------------------------------------

    def _post(self, job: str) -> None:
        with self._due_lock:
            self._due.add(job)

    def _take_due(self) -> set[str]:
        with self._due_lock:
            due, self._due = self._due, set()
        return due

    def deliver_webhooks(self) -> None:
        """Deliver due webhooks (scheduler thread; never blocks the consume loop)."""
        if self.dispatcher is not None:
            try:
                self.dispatcher.deliver_due()
            except Exception:
                log.exception("webhook delivery round failed; retrying next round")

    def start_background(self) -> None:
        """Start the HTTP server and the scheduler."""
        if self.http is not None:
            self.http.start()
            log.info("serving /metrics, /healthz, /readyz, /status on %s", self.http.url)
        sched = BackgroundScheduler(
            daemon=True, job_defaults={"coalesce": True, "max_instances": 1}
        )
        sched.add_job(self._post, "interval", seconds=_TICK_INTERVAL_S, args=["tick"], id="tick")
        sched.add_job(
            self._post, "interval", seconds=_HEALTH_INTERVAL_S, args=["health"], id="health"
        )
        sched.add_job(
            self._post,
            "interval",
            seconds=self.config.baselines.reload_interval_seconds,
            args=["reload"],
            id="reload",
        )
        sched.add_job(self.deliver_webhooks, "interval", seconds=_WEBHOOK_INTERVAL_S, id="webhooks")
        sched.start()
        self.scheduler = sched

    # -- the loop ----------------------------------------------------------------------

    def run_once(self) -> int:
        """One poll -> process -> (maybe) commit round; returns records processed."""
        self.state.beat()
        k = self.config.kafka
        records = self.source.poll(k.poll_timeout_ms, k.max_poll_records)
        if self._rebalanced.is_set():
            # Assignment changed during (or before) this poll: rebuild windows from the
            # committed offsets instead of mixing old state with the new assignment.
            self._rebalanced.clear()
            self._rewind(records)
            return 0
        if records:
            self.pipeline.process(records)
            self._dirty = True
        for job in self._take_due():
            self._run_job(job)
        now = self.clock.now()
        if self._dirty and now - self._last_commit >= _COMMIT_INTERVAL_S:
            self.commit()
        return len(records)

    def _run_job(self, job: str) -> None:
        if job == "tick":
            # Partitions with unread records: their models are behind, not idle.
            lagging = {tp for tp, n in self.source.lag().items() if n > 0}
            self.pipeline.tick(lagging, source_up=self.state.kafka_connected)
        elif job == "reload":
            self.pipeline.reload_baselines()
        elif job == "health":
            self.refresh_health()

    def refresh_health(self) -> None:
        """Connection, assignment, lag, and the partial-traffic warning."""
        assignment = self.source.assignment()
        self.state.set_kafka(self.source.connected(), bool(assignment), self.source.lag())
        topics = {t for t, _ in assignment}
        counts = {t: self.source.partition_count(t) for t in topics}
        self.pipeline.check_partition_spread(assignment, counts)

    def _rewind(self, discarded: list[Record]) -> None:
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
        self._committed = {tp: c for tp, c in commits.items() if c is not None}
        self.refresh_health()
        log.info(
            "partitions assigned: %s",
            ", ".join(f"{t}/{p}" for t, p in sorted(assignment)) or "none",
        )

    def commit(self) -> None:
        """Commit what the pipeline allows (after syncing the audit log)."""
        positions = self.pipeline.commit_positions()
        assigned = self.source.assignment()
        changed = {
            tp: c for tp, c in positions.items() if tp in assigned and self._committed.get(tp) != c
        }
        if self.audit is not None:
            self.audit.sync()
        if self.dead_letters is not None:
            self.dead_letters.flush()
        try:
            self.source.commit(changed)
        except Exception as exc:  # kafka errors vary: the next round retries
            log.warning("offset commit failed (%s); will retry", exc)
            return
        self._committed.update(changed)
        self._dirty = False
        self._last_commit = self.clock.now()

    def run(self) -> None:
        """Consume until :meth:`stop`; then commit, flush and close."""
        self.start_background()
        try:
            while not self._stop.is_set():
                self.run_once()
        finally:
            self.shutdown()

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish its batch and exit (signal-safe)."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT -> graceful stop."""

        def handler(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: finishing the batch, committing, exiting", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    def shutdown(self) -> None:
        """Commit, flush producers, stop background threads, close the consumer."""
        try:
            self.commit()
        finally:
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
            self.deliver_webhooks()
            for sink in (self.dead_letters, self.reports):
                if sink is not None:
                    sink.flush()
            if self.audit is not None:
                self.audit.close()
            if self.http is not None:
                self.http.stop()
            if self.outbox is not None:
                self.outbox.close()
            self.source.close()
