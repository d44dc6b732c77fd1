"""The pipeline: records -> decode -> route by model -> windows -> evaluation -> sinks.

Source-agnostic and single-threaded: the daemon's consume loop (and the demo, on an
in-memory source) calls :meth:`Pipeline.process` with each polled batch,
:meth:`Pipeline.tick` for time-driven work, and :meth:`Pipeline.commit_positions`
for what may be committed.

Delivery guarantee (see :mod:`drift_monitor.checkpoint`): a closed window is acked -
``closed_until`` advanced, panes dropped - only after every effect of it succeeded:
the hooks (audit line, incident -> outbox row, report message, episode state), then
the metrics state. A hook raising :class:`~drift_monitor.errors.SinkError` leaves the
window open, so its events keep holding back the committed offset; ``process`` stops
at the record that closed it and re-raises, and the loop re-reads from the last commit
(:meth:`reset`) once the sink works again. Effects are idempotent on that retry: the
episode tracker persists before anything else changes and ignores windows it saw, the
outbox deduplicates on the incident id, the audit log on the window.

The commit metadata (:class:`~drift_monitor.checkpoint.CommitMetadata`) carries each
model's ``closed_until`` and the partition's high-water offset, so a restarted (or
newly assigned) consumer recognises re-read events of windows that were already
evaluated as replays instead of evaluating a partial window again.

Counting: a record is counted (``events_total`` by outcome, invalid reasons, the
dead-letter copy) once per process, once its processing succeeded. Records re-read
after a rebalance or rewind go into the rebuilt windows again but are not counted again.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence

from drift_monitor.checkpoint.metadata import METADATA_MAX, CommitMetadata, MetadataError
from drift_monitor.checkpoint.offsets import MovedBack, OffsetTracker
from drift_monitor.clock import Clock
from drift_monitor.config.models import AppConfig
from drift_monitor.decode.decoder import Decoder
from drift_monitor.errors import EventError, SinkError
from drift_monitor.evaluation.evaluate import evaluate_window
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.labels.events import LabelEvent
from drift_monitor.pipeline.baselines import BaselineRegistry, LoadedBaseline
from drift_monitor.pipeline.batch import ColumnarPath
from drift_monitor.pipeline.labels import LabelJoin
from drift_monitor.pipeline.ratelimit import RateLimiter
from drift_monitor.pipeline.spread import partial_traffic
from drift_monitor.source.base import Commit, DeadLetterSink, Record, TopicPartition
from drift_monitor.status.state import BaselineInfo, MonitorState
from drift_monitor.windows.factory import open_windows
from drift_monitor.windows.runtime import (
    ClosedWindow,
    Row,
    WindowPreview,
    WindowRuntime,
)

log = logging.getLogger("drift_monitor.pipeline")

#: Called with every evaluated closed window (not with periodic open-window previews);
#: raises SinkError when the effect could not be made durable.
ResultHook = Callable[[WindowResult, ClosedWindow], None]

__all__ = ["Pipeline", "RateLimiter", "ResultHook"]


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
        labels: LabelJoin | None = None,
    ) -> None:
        self.config = config
        # labels (issue 15): None unless a model has a labels section (pipeline/labels.py)
        self.labels = labels
        self.baselines = baselines
        self.state = state
        self.clock = clock
        self.hooks = list(hooks)
        self.dead_letters = dead_letters
        self.decoder = Decoder(config.decode, config.kafka.topic_models, clock)
        self.windows: dict[str, WindowRuntime] = {}
        self._settings = {m.name: m for m in config.models}
        self.offsets = OffsetTracker()
        self._restored_closed: dict[str, float] = {}
        self._limiter = RateLimiter(config.logging.invalid_events_per_minute, clock)
        self._last_preview: dict[str, float] = {}
        #: windows whose effects all succeeded (acked), since start
        self.acked = 0
        #: characters of commit metadata per partition (Kafka's offset.metadata.max.bytes)
        self.metadata_limit = METADATA_MAX
        #: batches of at least this many records take the columnar path (module
        #: :mod:`.batch`; same results as record by record, which smaller ones take)
        self.columnar_min_batch = 16
        self._columnar = ColumnarPath(self)
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
            old = self.windows.get(model)
            if old is not None and previous is not None:
                for w in old.close_all():
                    self._close(old, w, previous)
            self.windows.pop(model, None)
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

    def _windows_for(self, model: str) -> WindowRuntime | None:
        w = self.windows.get(model)
        if w is not None:
            return w
        lb = self.baselines.get(model)
        settings = self._settings.get(model)
        if lb is None or settings is None:
            return None
        w = open_windows(
            model, settings.window, lb.layout, keep_ids=self.config.state.audit_windows
        )
        restored = self._restored_closed.get(model)
        if restored is not None:
            w.restore(restored)
        self.windows[model] = w
        return w

    # -- hot path ----------------------------------------------------------------------

    def process(self, records: Sequence[Record]) -> int:
        """Decode, window and (on window close) evaluate a batch; returns windows closed.

        Raises SinkError (after counting what succeeded) when an effect failed; the
        record that caused it and the rest of the batch are then not processed."""
        now = self.clock.now()
        closed_count = 0
        accepted: dict[str, int] = {}
        # A batch allocates thousands of short-lived, acyclic dicts (decoded values):
        # without the pause each few hundred of them start a cyclic collection, and every
        # tenth of those traverses the whole heap (measured: 2-3x the batch's own CPU in
        # bench.decode). Refcounting frees them; one collection may run after the batch.
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            done = None
            if len(records) >= self.columnar_min_batch:
                done = self._columnar.process(records, now, accepted)
            if done is not None:
                closed_count = done
            else:
                for rec in records:
                    try:
                        closed_count += self._one(rec, now, accepted)
                    except SinkError:
                        self.offsets.unread((rec.topic, rec.partition), rec.offset)
                        raise
            if self.labels is not None:  # labels (issue 15): one store batch per poll
                self.labels.apply()
        finally:
            if paused:
                gc.enable()
            for model, n in accepted.items():
                self.state.count(model, "accepted", n)
        return closed_count

    def _one(self, rec: Record, now: float, accepted: dict[str, int]) -> int:
        tp = (rec.topic, rec.partition)
        moved = self.offsets.moved_back(tp, rec.offset)
        if moved is not None:
            self._moved_back(moved)
        progress = self.offsets.read(tp, rec.offset)
        # Re-read after a rebalance or rewind: already counted (and dead-lettered).
        counted = rec.offset < progress.counted_until
        # -- labels (issue 15): a labels topic's record never reaches the decoder -------
        lj = self.labels
        if lj is not None and rec.topic in lj.label_topics:
            self._label_outcome(rec, lj.label_record(rec), counted)
            return 0
        # ---------------------------------------------------------------------------------
        obj = None
        try:
            if lj is not None and lj.in_topic:
                # labels (issue 15): parsed once, for the decoder and the label decoder
                obj = self.decoder.parse(rec.value)
                event = self.decoder.decode_object(obj, rec.key, rec.topic, rec.timestamp_ms)
            else:
                event = self.decoder.decode(rec.value, rec.key, rec.topic, rec.timestamp_ms)
        except EventError as err:
            # labels (issue 15): a label-only event has no features object
            if obj is not None and lj is not None and err.reason == "missing_features":
                joined = lj.label_only(rec, obj)
                if joined is not False:
                    self._label_outcome(rec, joined, counted)
                    return 0
            if not counted:
                self._invalid(rec, err, "-")
            return 0
        # labels (issue 15): a label-only event (flat layout: no features, no prediction)
        if lj is not None and event.prediction is None and event.model in lj.in_topic:
            joined = lj.label_only(rec, obj)
            if joined is not False:
                self._label_outcome(rec, joined, counted)
                return 0
        windows = self.windows.get(event.model) or self._windows_for(event.model)
        if windows is None:
            if not counted:
                self._route(rec, "unknown_model", f"no baseline loaded for model {event.model!r}")
                self.state.count(
                    event.model if event.model in self._settings else "-", "unknown_model"
                )
            return 0
        try:
            nums, codes = windows.layout.extract(event)
        except EventError as err:
            if not counted:
                self._invalid(rec, err, event.model)
            return 0
        replay = rec.offset < progress.replay_until
        progress.models.add(event.model)
        row = Row(nums, codes, event.timestamp, tp, rec.offset, event.event_id)
        result = windows.add(row, now, replay)
        for w in result.closed:
            self._close(windows, w)
        # Counted only now: a record whose window effects failed is not done.
        if not counted and result.outcome == "accepted":
            accepted[event.model] = accepted.get(event.model, 0) + 1
        elif not counted and result.outcome == "late":
            self.state.count(event.model, "late")
        if result.outcome == "replayed":
            self.state.count_replayed(event.model)
        # labels (issue 15): a window's prediction, joined by event id (idempotent)
        if lj is not None and result.outcome != "late" and event.model in lj.models:
            lj.prediction(event, counted)
        return len(result.closed)

    def _label_outcome(
        self, rec: Record, outcome: tuple[EventError, str] | bool | None, counted: bool
    ) -> None:
        """labels (issue 15): count and route a label event that was not usable."""
        if isinstance(outcome, tuple) and not counted:
            self._invalid(rec, outcome[0], outcome[1])

    def _label_event(self, rec: Record, label: LabelEvent | None, counted: bool) -> None:
        """labels (issue 15), for the batch path: ``rec`` as a label event, as
        :meth:`_one` handles it - a labels topic's record (``label`` None), or the
        label-only event decoding found in it."""
        lj = self.labels
        assert lj is not None
        outcome = lj.label_record(rec) if label is None else lj.add_label(label)
        self._label_outcome(rec, outcome, counted)

    def _moved_back(self, moved: MovedBack) -> None:
        """The log of a partition moved back (a recreated topic, an earlier offset): its
        records are new ones and are counted; said once per move, and in /status."""
        if moved.vanished:
            why = (
                f"the group's commit vanished while this process had read up to offset "
                f"{moved.expected} (the topic was deleted and recreated, or its offsets "
                "deleted)"
            )
        else:
            why = (
                f"read offset {moved.offset} where {moved.expected} was expected (the topic "
                "was deleted and recreated, or its offset reset to an earlier one)"
            )
        log.error(
            "%s/%d: %s: its records are counted as new records from here on",
            moved.topic,
            moved.partition,
            why,
            extra={"topic": moved.topic, "partition": moved.partition, "reason": "moved_back"},
        )
        self.state.record_gap(
            moved.topic, moved.partition, "moved_back", moved.offset, moved.expected, 0
        )

    def _invalid(self, rec: Record, err: EventError, model: str) -> None:
        self._route(rec, err.reason, err.detail)
        self.state.count(model, "invalid")
        self.state.count_invalid(err.reason)

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

    def _close(
        self, windows: WindowRuntime, window: ClosedWindow, baseline: LoadedBaseline | None = None
    ) -> WindowResult | None:
        """Evaluate ``window``, perform its effects, then ack it (never before)."""
        lb = baseline or self.baselines.get(window.model)
        settings = self._settings.get(window.model)
        if lb is None or settings is None:
            windows.ack(window)
            return None
        t0 = time.perf_counter()
        result = evaluate_window(lb.baseline, window.data, settings.detection)
        result = dataclasses.replace(result, events=window.events)
        duration = time.perf_counter() - t0
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
        self.state.record_result(result, duration, self.clock.now())
        windows.ack(window)
        self.acked += 1
        return result

    def _preview(self, preview: WindowPreview) -> None:
        lb = self.baselines.get(preview.model)
        settings = self._settings.get(preview.model)
        if lb is None or settings is None:
            return
        t0 = time.perf_counter()
        result = evaluate_window(lb.baseline, preview.data, settings.detection)
        result = dataclasses.replace(result, events=preview.events)
        self.state.record_preview(result, time.perf_counter() - t0, self.clock.now())

    # -- time-driven work --------------------------------------------------------------

    def tick(self, lagging: Collection[TopicPartition] = (), source_up: bool = True) -> int:
        """Idle-timeout closes and periodic open-window previews; returns windows closed.

        ``lagging``: partitions holding records not read yet. A model seen on one of
        them is behind, not idle (e.g. catching up after a restart while the consumer
        serves other partitions): its windows are not closed by the idle timeout, or
        the unread events of the open window would arrive late and be dropped.
        ``source_up`` False (brokers unreachable): no model is idle, its events may be
        waiting in producers' buffers; the idle clocks restart when the source returns.
        Raises SinkError when a closed window's effects failed (the window stays open).
        """
        now = self.clock.now()
        if not source_up:
            for w in self.windows.values():
                w.touch(now)
        behind = self.offsets.models_behind(lagging)
        closed = 0
        for model, w in list(self.windows.items()):
            for cw in () if model in behind or not source_up else w.idle_close(now):
                self._close(w, cw)
                closed += 1
            every = w.settings.evaluate_open_every_seconds
            if every is not None and now - self._last_preview.get(model, -math.inf) >= every:
                self._last_preview[model] = now
                snap = w.preview()
                if snap is not None:
                    self._preview(snap)
        if self.labels is not None:  # labels (issue 15): performance per window
            self.labels.tick()
        return closed

    def close_all_windows(self) -> int:
        """Evaluate every open window now (end of a finite stream: demo, replay tests)."""
        n = 0
        for w in list(self.windows.values()):
            for cw in w.close_all():
                self._close(w, cw)
                n += 1
        return n

    def close_on_stop(self, lagging: Collection[TopicPartition], every_model: bool) -> int:
        """A graceful stop's early close (``window.evaluate_on_stop``, or every model with
        ``every_model``): evaluate each open window the idle timeout would close, now.

        Acked windows advance ``closed_until``, which the next commit's metadata carries:
        a restart neither re-reads nor re-evaluates them, and later events for them are
        ``late``. Panes holding only suspect outliers beyond the watermark stay open (as
        on an idle close: closing them would make every on-time event after the restart
        late), and so do the windows of models ``lagging`` partitions hold unread events
        for (their unread events would be lost to a partial window): both are re-read
        after the restart. Returns windows closed; raises SinkError as :meth:`tick`."""
        behind = self.offsets.models_behind(lagging)
        closed = 0
        for model, w in list(self.windows.items()):
            if model in behind or not (every_model or w.settings.evaluate_on_stop):
                continue
            # An infinite "now": the idle timeout has passed, whatever it is.
            for cw in w.idle_close(math.inf):
                self._close(w, cw)
                closed += 1
        if behind:
            log.warning(
                "stopping: open windows of %s not evaluated (unread events on their "
                "partitions); they are evaluated after the restart",
                ", ".join(sorted(behind)),
            )
        return closed

    # -- offsets -----------------------------------------------------------------------

    def commit_positions(self) -> dict[TopicPartition, Commit]:
        """What may be committed now for every partition this pipeline has read.

        The offset is the smallest offset still held in an open (or retained, or
        produced-but-not-acked) pane, or the next offset to read when none is. The
        metadata records ``closed_until`` of the models seen on the partition and the
        high-water offset; when it cannot hold every model the loss is said loudly.
        """
        held: dict[TopicPartition, int] = {}
        for w in self.windows.values():
            for tp, off in w.first_offsets().items():
                if tp not in held or off < held[tp]:
                    held[tp] = off
        out: dict[TopicPartition, Commit] = {}
        for tp, p in self.offsets.positions():
            nxt = p.next_offset
            closed = {
                m: self.windows[m].closed_until
                for m in p.models
                if m in self.windows and math.isfinite(self.windows[m].closed_until)
            }
            encoded = CommitMetadata(max(nxt, p.replay_until), closed).encode(self.metadata_limit)
            self._say_dropped(tp, encoded.dropped, len(closed))
            out[tp] = Commit(min(held.get(tp, nxt), nxt), encoded.text)
        return out

    def committed(self, positions: dict[TopicPartition, Commit]) -> None:
        """``positions`` (of :meth:`commit_positions`) were committed."""
        for tp, c in positions.items():
            self.offsets.committed(tp, c.offset)

    def _say_dropped(self, tp: TopicPartition, dropped: int, models: int) -> None:
        key = f"checkpoint_metadata:{tp[0]}/{tp[1]}"
        if dropped and self.state.checkpoint_dropped.get(tp) != dropped:
            log.error(
                "commit metadata of %s/%d cannot hold the window checkpoint of %d of its %d "
                "models: after a restart their windows are re-evaluated from a partial "
                "window. Spread the models over more partitions.",
                tp[0],
                tp[1],
                dropped,
                models,
            )
        self.state.set_checkpoint_dropped(tp, dropped)
        self.state.warn(
            key,
            f"commit metadata of {tp[0]}/{tp[1]} lacks {dropped} of {models} models' "
            "window checkpoints (too many models on one partition)"
            if dropped
            else None,
        )

    def restore(self, commits: dict[TopicPartition, Commit | None]) -> None:
        """Seed replay detection from committed metadata (startup and rebalance)."""
        for tp, c in commits.items():
            moved = self.offsets.resume(tp, c.offset if c is not None else None)
            if moved is not None:
                self._moved_back(moved)
            if c is None or not c.metadata:
                continue
            try:
                meta = CommitMetadata.decode(c.metadata, self._settings)
            except MetadataError as err:
                log.warning("ignoring commit metadata on %s/%d: %s", tp[0], tp[1], err)
                continue
            self.offsets.restore(tp, meta.hw)
            for m, t in meta.closed.items():
                self._restored_closed[m] = max(self._restored_closed.get(m, -math.inf), t)
                if m in self.windows:
                    self.windows[m].restore(t)

    def check_partition_spread(
        self, assignment: set[TopicPartition], partition_counts: dict[str, int]
    ) -> None:
        """Warn (``/status``) about models seen on several partitions while this process
        owns only some of them (see :func:`~.spread.partial_traffic`)."""
        spread = self.offsets.spread()
        for m, message in partial_traffic(spread, assignment, partition_counts).items():
            self.state.warn(f"partial_traffic:{m}", message)

    def first_offsets_read(self) -> dict[TopicPartition, int]:
        """Per partition, the first offset processed since the last :meth:`reset`."""
        return self.offsets.first_offsets_read()

    def reset(self) -> None:
        """Forget every open window and partition position (before re-reading from the
        committed offsets after a rebalance or a failed effect). Acked windows'
        checkpoints are kept."""
        for m, w in self.windows.items():
            if math.isfinite(w.closed_until):
                self._restored_closed[m] = max(
                    self._restored_closed.get(m, -math.inf), w.closed_until
                )
        self.offsets.reset()
        self.windows.clear()
        if self.labels is not None:  # labels (issue 15): back to the last flush
            self.labels.reset()


def _fmt_ts(t: float) -> str:
    if not math.isfinite(t):
        return str(t)
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
