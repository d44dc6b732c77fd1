"""The pipeline: records -> decode -> route by model -> windows -> evaluation -> sinks.

Source-agnostic and single-threaded: the daemon's consume loop (and the demo, on an
in-memory source) calls :meth:`Pipeline.process` with each polled batch,
:meth:`Pipeline.tick` for time-driven work, and :meth:`Pipeline.commit_positions`
for what may be committed.

Delivery guarantee: a partition's committed offset never passes an event that sits
in a window not yet evaluated (it is re-read after a crash). The commit metadata
carries each model's ``closed_until`` and the partition's high-water offset, so a
restarted (or newly assigned) consumer recognises re-read events of windows that were
already evaluated as replays instead of evaluating a partial window again.

Counting: a record is counted (``events_total`` by outcome, invalid reasons, the
dead-letter copy) once per process. Records this process re-reads after a rebalance
(:meth:`Pipeline.reset`, then a seek to the committed offset) go into the rebuilt
windows again but are not counted again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable
from typing import Any

from drift_monitor.clock import Clock
from drift_monitor.config.models import AppConfig
from drift_monitor.decode.decoder import Decoder
from drift_monitor.errors import EventError
from drift_monitor.evaluation.evaluate import evaluate_window
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.pipeline.baselines import BaselineRegistry, LoadedBaseline
from drift_monitor.pipeline.state import BaselineInfo, MonitorState
from drift_monitor.source.base import Commit, DeadLetterSink, Record, TopicPartition
from drift_monitor.windows.store import ClosedWindow, ModelWindows

log = logging.getLogger("drift_monitor.pipeline")

#: Called with every evaluated closed window (not with periodic open-window previews).
ResultHook = Callable[[WindowResult, ClosedWindow], None]

_METADATA_MAX = 3500  # Kafka's default offset.metadata.max.bytes is 4096


class RateLimiter:
    """At most ``per_minute`` events per rolling minute (processing time)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._window_start = -math.inf
        self._used = 0
        self.suppressed = 0

    def allow(self) -> bool:
        """True when another log line may be written now."""
        now = self._clock.now()
        if now - self._window_start >= 60:
            self._window_start = now
            self._used = 0
        if self._used < self._per_minute:
            self._used += 1
            return True
        self.suppressed += 1
        return False


class Pipeline:
    """See the module docstring. ``hooks`` receive every evaluated window."""

    def __init__(
        self,
        config: AppConfig,
        baselines: BaselineRegistry,
        state: MonitorState,
        clock: Clock,
        hooks: Iterable[ResultHook] = (),
        dead_letters: DeadLetterSink | None = None,
    ) -> None:
        self.config = config
        self.baselines = baselines
        self.state = state
        self.clock = clock
        self.hooks = list(hooks)
        self.dead_letters = dead_letters
        self.decoder = Decoder(config.decode, config.kafka.topic_models, clock)
        self.windows: dict[str, ModelWindows] = {}
        self._settings = {m.name: m for m in config.models}
        self._next_offset: dict[TopicPartition, int] = {}
        self._first_read: dict[TopicPartition, int] = {}
        self._replay_until: dict[TopicPartition, int] = {}
        # Per partition, the offset this process has counted records up to (set on reset).
        self._counted_until: dict[TopicPartition, int] = {}
        self._restored_closed: dict[str, float] = {}
        self._models_on: dict[TopicPartition, set[str]] = {}
        self._limiter = RateLimiter(config.logging.invalid_events_per_minute, clock)
        self._last_preview: dict[str, float] = {}
        self.apply_baseline_changes(self.baselines.reload())

    # -- baselines ---------------------------------------------------------------------

    def reload_baselines(self) -> list[str]:
        """Reload changed baseline files (main thread); returns the changed models."""
        changed = self.baselines.reload()
        self.apply_baseline_changes(changed)
        return list(changed)

    def apply_baseline_changes(self, changed: dict[str, LoadedBaseline | None]) -> None:
        """Close the open windows of models whose baseline changed (evaluated against the
        baseline they were built with), so new windows use the new one; publish info."""
        for model, previous in changed.items():
            old = self.windows.pop(model, None)
            if old is not None and previous is not None:
                for w in old.close_all():
                    self._evaluate(w, previous)
        for model, path in self.baselines.paths.items():
            lb = self.baselines.get(model)
            self.state.set_baseline(
                model,
                BaselineInfo(
                    lb.baseline.version if lb else None,
                    str(path),
                    self.baselines.errors.get(model),
                ),
            )

    def _windows_for(self, model: str) -> ModelWindows | None:
        w = self.windows.get(model)
        if w is not None:
            return w
        lb = self.baselines.get(model)
        settings = self._settings.get(model)
        if lb is None or settings is None:
            return None
        w = ModelWindows(
            model, settings.window, lb.layout, keep_ids=self.config.state.audit_windows
        )
        restored = self._restored_closed.get(model)
        if restored is not None:
            w.restore(restored)
        self.windows[model] = w
        return w

    # -- hot path ----------------------------------------------------------------------

    def process(self, records: list[Record]) -> int:
        """Decode, window and (on window close) evaluate a batch; returns windows closed."""
        now = self.clock.now()
        closed_count = 0
        accepted: dict[str, int] = {}
        decode = self.decoder.decode
        for rec in records:
            tp = (rec.topic, rec.partition)
            if tp not in self._next_offset:
                self._first_read.setdefault(tp, rec.offset)
            self._next_offset[tp] = rec.offset + 1
            # Re-read after a rebalance: already counted (and dead-lettered) by this process.
            counted = rec.offset < self._counted_until.get(tp, -1)
            try:
                event = decode(rec.value, rec.key, rec.topic, rec.timestamp_ms)
            except EventError as err:
                if not counted:
                    self._invalid(rec, err, "-")
                continue
            windows = self.windows.get(event.model) or self._windows_for(event.model)
            if windows is None:
                if not counted:
                    self.state.count(
                        event.model if event.model in self._settings else "-", "unknown_model"
                    )
                    self._route(
                        rec, "unknown_model", f"no baseline loaded for model {event.model!r}"
                    )
                continue
            try:
                nums, codes = windows.layout.extract(event)
            except EventError as err:
                if not counted:
                    self._invalid(rec, err, event.model)
                continue
            replay = rec.offset < self._replay_until.get(tp, -1)
            models_on = self._models_on.get(tp)
            if models_on is None:
                models_on = self._models_on[tp] = set()
            models_on.add(event.model)
            result = windows.add(
                nums, codes, event.timestamp, tp, rec.offset, event.event_id, now, replay
            )
            if result.outcome == "accepted":
                if not counted:
                    accepted[event.model] = accepted.get(event.model, 0) + 1
            elif result.outcome == "late":
                if not counted:
                    self.state.count(event.model, "late")
            else:
                self.state.count_replayed(event.model)
            for w in result.closed:
                self._evaluate(w)
                closed_count += 1
        for model, n in accepted.items():
            self.state.count(model, "accepted", n)
        return closed_count

    def _invalid(self, rec: Record, err: EventError, model: str) -> None:
        self.state.count(model, "invalid")
        self.state.count_invalid(err.reason)
        self._route(rec, err.reason, err.detail)

    def _route(self, rec: Record, reason: str, detail: str) -> None:
        if self._limiter.allow():
            log.warning(
                "rejected event at %s/%d@%d: %s: %s",
                rec.topic,
                rec.partition,
                rec.offset,
                reason,
                detail,
                extra={
                    "topic": rec.topic,
                    "partition": rec.partition,
                    "offset": rec.offset,
                    "reason": reason,
                },
            )
        if self.dead_letters is not None:
            self.dead_letters.send(rec, reason, detail)

    # -- evaluation --------------------------------------------------------------------

    def _evaluate(
        self, window: ClosedWindow, baseline: LoadedBaseline | None = None
    ) -> WindowResult | None:
        lb = baseline or self.baselines.get(window.model)
        settings = self._settings.get(window.model)
        if lb is None or settings is None:
            return None
        t0 = time.perf_counter()
        result = evaluate_window(lb.baseline, window.data, settings.detection)
        result = dataclasses.replace(result, events=window.events)
        duration = time.perf_counter() - t0
        if window.partial:
            self.state.record_preview(result, duration, self.clock.now())
            return result
        self.state.record_result(result, duration, self.clock.now())
        log.info(
            "window %s [%s, %s): %d events -> %s (%d drifted)",
            window.model,
            _fmt_ts(window.start),
            _fmt_ts(window.end),
            window.events,
            result.status.label,
            len(result.drifted),
            extra={"model": window.model, "status": result.status.label},
        )
        for hook in self.hooks:
            hook(result, window)
        return result

    # -- time-driven work --------------------------------------------------------------

    def tick(self, lagging: Collection[TopicPartition] = (), source_up: bool = True) -> int:
        """Idle-timeout closes and periodic open-window previews; returns windows closed.

        ``lagging``: partitions holding records not read yet. A model seen on one of
        them is behind, not idle (e.g. catching up after a restart while the consumer
        serves other partitions): its windows are not closed by the idle timeout, or
        the unread events of the open window would arrive late and be dropped.
        ``source_up`` False (brokers unreachable): no model is idle, its events may be
        waiting in producers' buffers; the idle clocks restart when the source returns.
        """
        now = self.clock.now()
        if not source_up:
            for w in self.windows.values():
                w.touch(now)
        behind = {m for tp in lagging for m in self._models_on.get(tp, ())}
        closed = 0
        for model, w in list(self.windows.items()):
            for cw in () if model in behind or not source_up else w.idle_close(now):
                self._evaluate(cw)
                closed += 1
            every = w.settings.evaluate_open_every_seconds
            if every is not None and now - self._last_preview.get(model, -math.inf) >= every:
                self._last_preview[model] = now
                snap = w.snapshot()
                if snap is not None:
                    self._evaluate(snap)
        return closed

    def close_all_windows(self) -> int:
        """Evaluate every open window now (end of a finite stream: demo, replay tests)."""
        n = 0
        for w in list(self.windows.values()):
            for cw in w.close_all():
                self._evaluate(cw)
                n += 1
        return n

    # -- offsets -----------------------------------------------------------------------

    def commit_positions(self) -> dict[TopicPartition, Commit]:
        """What may be committed now for every partition this pipeline has read.

        The offset is the smallest offset still held in an open (or retained) pane, or
        the next offset to read when none is. The metadata records ``closed_until`` of
        the models seen on the partition and the high-water offset.
        """
        held: dict[TopicPartition, int] = {}
        for w in self.windows.values():
            for tp, off in w.first_offsets().items():
                if tp not in held or off < held[tp]:
                    held[tp] = off
        out: dict[TopicPartition, Commit] = {}
        for tp, nxt in self._next_offset.items():
            offset = min(held.get(tp, nxt), nxt)
            closed = {
                m: self.windows[m].closed_until
                for m in sorted(self._models_on.get(tp, ()))
                if m in self.windows and math.isfinite(self.windows[m].closed_until)
            }
            meta = {"v": 1, "hw": max(nxt, self._replay_until.get(tp, 0)), "closed": closed}
            text = json.dumps(meta, separators=(",", ":"))
            if len(text) > _METADATA_MAX:
                text = json.dumps({"v": 1, "hw": meta["hw"], "closed": {}})
            out[tp] = Commit(offset, text)
        return out

    def restore(self, commits: dict[TopicPartition, Commit | None]) -> None:
        """Seed replay detection from committed metadata (startup and rebalance)."""
        for tp, c in commits.items():
            if c is None or not c.metadata:
                continue
            try:
                meta: dict[str, Any] = json.loads(c.metadata)
                hw = int(meta.get("hw", 0))
                closed = {str(m): float(t) for m, t in dict(meta.get("closed", {})).items()}
            except (ValueError, TypeError, AttributeError):
                log.warning("ignoring unreadable commit metadata on %s/%d", tp[0], tp[1])
                continue
            self._replay_until[tp] = max(self._replay_until.get(tp, 0), hw)
            for m, t in closed.items():
                self._restored_closed[m] = max(self._restored_closed.get(m, -math.inf), t)
                if m in self.windows:
                    self.windows[m].restore(t)

    def check_partition_spread(
        self, assignment: set[TopicPartition], partition_counts: dict[str, int]
    ) -> None:
        """Warn when a model's events arrive on several partitions while this process
        does not own every partition of the topic: its windows then hold only a
        fraction of the model's traffic (key events by model to avoid it)."""
        topics_owned: dict[str, set[int]] = {}
        for t, p in assignment:
            topics_owned.setdefault(t, set()).add(p)
        spread: dict[str, set[TopicPartition]] = {}
        for tp, models in self._models_on.items():
            for m in models:
                spread.setdefault(m, set()).add(tp)
        for m, tps in spread.items():
            partial = len(tps) > 1 and any(
                len(topics_owned.get(t, set())) < partition_counts.get(t, 0) for t, _ in tps
            )
            key = f"partial_traffic:{m}"
            if partial:
                self.state.warn(
                    key,
                    f"model {m!r} arrives on {len(tps)} partitions and this process owns only "
                    "some of them: its windows see a fraction of its traffic. Key events by "
                    "model (record key = model name) so each model lives on one partition.",
                )
            else:
                self.state.warn(key, None)

    def first_offsets_read(self) -> dict[TopicPartition, int]:
        """Per partition, the first offset processed since the last :meth:`reset`."""
        return dict(self._first_read)

    def reset(self) -> None:
        """Forget every open window and partition position (before re-reading from the
        committed offsets after a rebalance). Closed-window checkpoints are kept."""
        for m, w in self.windows.items():
            if math.isfinite(w.closed_until):
                self._restored_closed[m] = max(
                    self._restored_closed.get(m, -math.inf), w.closed_until
                )
        for tp, nxt in self._next_offset.items():
            self._replay_until[tp] = max(self._replay_until.get(tp, 0), nxt)
            self._counted_until[tp] = max(self._counted_until.get(tp, 0), nxt)
        self.windows.clear()
        self._next_offset.clear()
        self._first_read.clear()
        self._models_on.clear()


def _fmt_ts(t: float) -> str:
    if not math.isfinite(t):
        return str(t)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
