"""The composition root: builds the pipeline, sinks, checkpointer, consume loop,
scheduler and HTTP server from a config, and runs them.

Threads: the consume loop (:mod:`drift_monitor.loop`, main thread) owns the Kafka
consumer and every window. APScheduler's background thread only *posts* time-driven
work for the loop (tick, baseline reload, health) and delivers webhooks from the
durable outbox, which never touches windows. HTTP threads read snapshots of
:class:`MonitorState`.

Signals: SIGTERM / SIGINT stop gracefully (finish the round, flush, commit what is
durable, exit 0; with ``evaluate_on_stop`` the open windows are first evaluated and
their effects made, see :meth:`ConsumeLoop.close_on_stop`); if the loop has not stopped
within :data:`STOP_GRACE_SECONDS`, or on
a second signal, the process exits at once with code 1 *without* committing (what was
not committed is re-read on restart). SIGHUP reloads the baselines.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from drift_monitor.checkpoint.checkpointer import Checkpointer, Flush
from drift_monitor.clock import Clock, SystemClock
from drift_monitor.config.models import AppConfig
from drift_monitor.errors import ConfigError, SinkError
from drift_monitor.evaluation.episodes import EpisodeTracker
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.http.server import MonitorHttpServer
from drift_monitor.labels.metrics import QualityCollector
from drift_monitor.loop import ConsumeLoop, Job
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.core import Pipeline
from drift_monitor.pipeline.labels import LabelJoin
from drift_monitor.sinks.audit import AuditLog
from drift_monitor.sinks.incidents import IncidentHandler, PerformanceIncidents
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.sinks.performance_records import PerformanceRecords
from drift_monitor.sinks.records import WindowRecords
from drift_monitor.source.base import DeadLetterSink, EventSource, ReportSink
from drift_monitor.source.settings import KafkaSettings
from drift_monitor.status.state import MonitorState
from drift_monitor.webhooks.delivery import Dispatcher
from drift_monitor.webhooks.outbox import Outbox
from drift_monitor.webhooks.transport import HttpTransport, Transport
from drift_monitor.windows.runtime import ClosedWindow

log = logging.getLogger("drift_monitor.daemon")

_TICK_INTERVAL_S = 1.0
_HEALTH_INTERVAL_S = 2.0
_WEBHOOK_INTERVAL_S = 1.0
#: Seconds a stop signal waits for the loop before the process exits uncommitted.
STOP_GRACE_SECONDS = 15.0
#: Exit code of a forced stop (grace exceeded or second signal): nothing committed.
EXIT_FORCED = 1


def _window_seconds(config: AppConfig) -> dict[str, float]:
    return {m.name: m.window.size_seconds for m in config.models if m.window.type != "count"}


def _state_dir(config: AppConfig) -> Path:
    path = Path(config.state.dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(
            f"state.dir: {path} exists and is not a directory; point state.dir at a "
            "directory (or move the file away)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"state.dir: cannot create {path} ({exc.strerror or exc})") from None
    return path


def subscribed(config: AppConfig) -> KafkaSettings:
    """``config.kafka`` with every model's labels topic added to the subscription (the
    consumer reads predictions and labels in one group)."""
    topics = list(config.kafka.topics)
    for m in config.models:
        if m.labels is not None and m.labels.topic is not None and m.labels.topic not in topics:
            topics.append(m.labels.topic)
    return config.kafka.model_copy(update={"topics": topics})


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
        evaluate_on_stop: bool = False,
    ) -> None:
        self.config = config
        # Every model's open windows are evaluated on a graceful stop (run
        # --evaluate-on-stop); else only those of models with window.evaluate_on_stop.
        self.evaluate_on_stop = evaluate_on_stop
        self.source = source
        self.clock = clock or SystemClock()
        self.dead_letters = dead_letters
        self.reports = reports
        state_dir = _state_dir(config)
        self.state = MonitorState(
            [m.name for m in config.models],
            _window_seconds(config),
            history_size=config.http.status_windows,
        )

        self.dispatcher: Dispatcher | None = None
        self.outbox: Outbox | None = None
        if config.webhooks.targets:
            config.webhooks.check_secrets()
            self.outbox = Outbox.in_state_dir(state_dir, history_size=config.webhooks.history_size)
            self.dispatcher = Dispatcher(
                self.outbox,
                config.webhooks,
                transport or HttpTransport(policy=config.webhooks.target_policy()),
                self.clock,
                random.Random(),  # jitter only
            )
        self.tracker = EpisodeTracker(
            {m.name: m.episodes for m in config.models}, state_dir / "episodes.json"
        )
        self.incidents = IncidentHandler(self.tracker, self.dispatcher, reports)
        self.records = WindowRecords(reports) if reports is not None else None
        self.audit = (
            AuditLog(state_dir / "windows-audit.jsonl") if config.state.audit_windows else None
        )
        baselines = BaselineRegistry(config)
        # Model quality (issue 15): only when a model has a labels section.
        self.labels: LabelJoin | None = None
        self.performance: PerformanceIncidents | None = None
        if any(m.labels is not None for m in config.models):
            self.performance = PerformanceIncidents(
                EpisodeTracker(
                    {m.name: m.episodes for m in config.models},
                    state_dir / "performance-episodes.json",
                    kind="performance",
                ),
                self.dispatcher,
                reports,
                self.clock.now,
            )
            self.labels = LabelJoin(
                config,
                baselines,
                self.state,
                hooks=[self.performance.handle],
                clock=self.clock,
                records=[PerformanceRecords(reports, self.audit)],
            )
        self.pipeline = Pipeline(
            config,
            baselines,
            self.state,
            self.clock,
            hooks=[self._on_window],
            dead_letters=dead_letters,
            labels=self.labels,
        )
        flushes: list[Flush] = []
        if self.audit is not None:
            flushes.append(Flush("audit", self.audit.sync))
        if dead_letters is not None:
            flushes.append(Flush("dead_letters", dead_letters.flush))
        if reports is not None:
            flushes.append(Flush("reports", reports.flush))
        if self.labels is not None:
            # The join's transaction is committed before any offset that covers it, and
            # last: a window is durably final only once its final window.performance
            # record is acknowledged (else a restart re-finalises and re-publishes it).
            flushes.append(Flush("labels", self.labels.flush))
        self.checkpointer = Checkpointer(source, flushes, self.state.set_sink)
        self.loop = ConsumeLoop(
            config.kafka, source, self.pipeline, self.state, self.checkpointer, self.clock
        )
        self.registry = build_registry(
            self.state,
            self._webhook_counts,
            {m.name: (m.owner, m.team, m.tier) for m in config.models},
            self.dispatcher.oldest_pending_age if self.dispatcher is not None else None,
        )
        if self.labels is not None:
            self.registry.register(QualityCollector(self.labels.quality))
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
        self.scheduler: BackgroundScheduler | None = None
        self._signals = 0
        self._shut_down = False

    # -- hooks -------------------------------------------------------------------------

    def _on_window(self, result: WindowResult, window: ClosedWindow) -> None:
        if self.audit is not None:
            self.audit(result, window)
        if self.records is not None:
            # acknowledged by the checkpoint's "reports" flush before any commit
            self.records(result)
        self.incidents.handle(result, self.clock.now())

    def _webhook_counts(self) -> tuple[dict[tuple[str, str], int], int]:
        if self.dispatcher is None:
            return {}, 0
        return dict(self.dispatcher.counts()), self.dispatcher.pending()

    def _status_extras(self, model: str) -> dict[str, Any]:
        st = self.tracker.state(model)
        extras: dict[str, Any] = {
            "incident": {
                "open": st.episode_id is not None,
                "id": st.episode_id,
                "alert_run": st.alert_run,
                "clean_run": st.clean_run,
            }
        }
        labels = self.labels.status(model) if self.labels is not None else None
        if labels is not None and self.performance is not None:
            ps = self.performance.tracker.state(model)
            labels["incident"] = {
                "open": ps.episode_id is not None,
                "id": ps.episode_id,
                "degraded_run": ps.alert_run,
                "ok_run": ps.clean_run,
            }
            extras["labels"] = labels
        return extras

    # -- scheduler ---------------------------------------------------------------------

    def _post(self, job: Job | str) -> None:
        self.loop.post(job)

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
            daemon=True,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                # A run late on a loaded host still happens (once, coalesced) instead
                # of being skipped with a "missed by 0:00:01" warning.
                "misfire_grace_time": None,
            },
        )
        for job, seconds in (
            (Job.TICK, _TICK_INTERVAL_S),
            (Job.HEALTH, _HEALTH_INTERVAL_S),
            (Job.RELOAD, self.config.baselines.reload_interval_seconds),
        ):
            sched.add_job(self._post, "interval", seconds=seconds, args=[job], id=job.value)
        sched.add_job(self.deliver_webhooks, "interval", seconds=_WEBHOOK_INTERVAL_S, id="webhooks")
        sched.start()
        self.scheduler = sched
        # Start-up leaves a large, long-lived heap (baselines, config, libraries) that
        # every full cyclic collection would traverse again; the consume loop's polls
        # trigger such collections. Frozen, they are skipped (bench.ingest, daemon on
        # confluent: GC 3.7 -> 0.5 us/event). Collected first so no garbage is frozen;
        # unfrozen at shutdown so a stopped monitor's objects can be collected again.
        gc.collect()
        gc.freeze()

    # -- the loop (delegated) ----------------------------------------------------------

    def run_once(self) -> int:
        """One poll -> process -> (maybe) commit round; returns records processed."""
        return self.loop.run_once()

    def refresh_health(self) -> None:
        """Connection, assignment, lag, and the partial-traffic warning."""
        self.loop.refresh_health()

    def commit(self) -> bool:
        """Flush every sink, then commit what the pipeline allows (see the loop)."""
        return self.loop.commit()

    def run(self) -> None:
        """Consume until :meth:`stop`; then commit what is durable, flush and close.
        An unexpected error closes everything *without* committing and re-raises."""
        self.start_background()
        try:
            while not self.loop.stopping.is_set():
                self.loop.run_once()
            self.loop.close_on_stop(self.evaluate_on_stop)  # opted-in models only
        except BaseException:
            self.shutdown(commit=False)
            raise
        self.shutdown()

    def stop(self, *_: Any) -> None:
        """Ask the loop to finish its round and exit (signal-safe)."""
        self.loop.stopping.set()

    def install_signal_handlers(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM/SIGINT -> graceful stop, bounded by ``grace`` seconds (then, or on a
        second signal, exit :data:`EXIT_FORCED` without committing); SIGHUP -> reload
        the baselines."""

        def force() -> None:
            log.error(
                "did not stop within %.0fs; exiting without committing (uncommitted "
                "events are re-read on restart)",
                grace,
            )
            logging.shutdown()
            os._exit(EXIT_FORCED)

        def handler(signum: int, frame: FrameType | None) -> None:
            self._signals += 1
            if self._signals > 1:
                force()
            log.info("signal %d: finishing the round, committing, exiting", signum)
            timer = threading.Timer(grace, force)
            timer.daemon = True
            timer.start()
            self.stop()

        def reload(signum: int, frame: FrameType | None) -> None:
            log.info("SIGHUP: reloading baselines")
            self.loop.post(Job.RELOAD)

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGHUP, reload)

    def shutdown(self, commit: bool = True) -> None:
        """Commit (unless ``commit`` is False or a sink is failing), flush producers,
        stop background threads, close the consumer. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        try:
            if commit and not self.loop.commit():
                log.warning("stopping without committing: a sink is failing")
        finally:
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=False)
            self.deliver_webhooks()
            for sink in (self.dead_letters, self.reports):
                if sink is not None:
                    try:
                        sink.flush()
                    except SinkError as err:
                        log.error("%s (at shutdown)", err)
            if self.audit is not None:
                try:
                    self.audit.close()
                except SinkError as err:
                    log.error("%s (at shutdown)", err)
            if self.http is not None:
                self.http.stop()
            if self.outbox is not None:
                self.outbox.close()
            if self.labels is not None:
                self.labels.close()
            gc.unfreeze()
            self.source.close()
