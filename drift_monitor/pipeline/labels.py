"""The label join in the consume path (issue 15): predictions and late labels into the
durable :class:`~drift_monitor.labels.store.JoinStore`, per-window performance on every
tick, final windows handed to the performance hooks (episodes -> incidents).

The pipeline (``pipeline/core.py``, blocks marked ``labels (issue 15)``) calls, per
record: :meth:`LabelJoin.label_record` for a record of a labels topic,
:meth:`LabelJoin.label_only` for a label-only event on a prediction topic and
:meth:`LabelJoin.prediction` for each accepted prediction of a model with labels; then
:meth:`LabelJoin.apply` once per polled batch, :meth:`LabelJoin.tick` on the loop's tick
and :meth:`LabelJoin.reset` on a rewind. Without a ``labels`` section on any model the
daemon builds no join and the pipeline does no extra work; a model without one costs a
dict lookup per event.

Delivery: every change goes into the store's open transaction; the checkpointer calls
:meth:`LabelJoin.flush` (sink ``labels``) before any offset commit, so no commit covers
a prediction or label whose join is not durable. A failed flush discards the changes
since the last flush and holds the commit; the loop re-reads from the last commit, and
the store ignores what it already holds (idempotent by event id). Final results are
handed to the hooks before their finalisation is flushed: after a crash the window is
finalised again and the episode tracker and outbox ignore the repeat.

Prediction windows are tumbling, in event time, of ``labels.window_seconds`` (default:
the model's window size) on the model's window grid. A model's watermark is the
*smaller* of the largest prediction event time and the largest label event time read by
this process: a window is final by time (and an unlabelled prediction expires) only
once *both* streams passed its end plus ``max_delay``, so a consumer catching up on the
predictions topic never finalises windows whose labels it has not read yet. (A model
whose labels stop arriving keeps its windows open; the entry cap bounds them.)
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from drift_monitor.clock import Clock, SystemClock
from drift_monitor.config.models import AppConfig
from drift_monitor.decode.decoder import Event
from drift_monitor.errors import EventError, SinkError
from drift_monitor.evaluation.results import json_time
from drift_monitor.labels.config import LabelSettings
from drift_monitor.labels.encode import encode_label, encode_outputs, encode_outputs_many
from drift_monitor.labels.events import LabelEvent
from drift_monitor.labels.metrics import ModelQuality
from drift_monitor.labels.store import JoinStore, Label, Prediction, tracked
from drift_monitor.labels.tracker import PerformanceTracker, WindowPerformance
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.label_reader import LabelReader
from drift_monitor.pipeline.label_state import ModelJoin, model_quality, model_status, window_doc
from drift_monitor.source.base import Record
from drift_monitor.status.state import MonitorState

log = logging.getLogger("drift_monitor.labels")

#: Called with every *final* window (its start, epoch s, and the baseline version);
#: raises SinkError when its effect could not be made durable.
PerformanceHook = Callable[[WindowPerformance, float, str], object]
STORE_FILENAME = "labels.join"


class LabelJoin:
    """See the module docstring. ``hooks`` receive every final window, ``records``
    every evaluated window (provisional and final), before the hooks."""

    def __init__(
        self,
        config: AppConfig,
        baselines: BaselineRegistry,
        state: MonitorState,
        hooks: Iterable[PerformanceHook] = (),
        clock: Clock | None = None,
        records: Iterable[PerformanceHook] = (),
    ) -> None:
        self.baselines = baselines
        self.clock = clock or SystemClock()
        self.state = state
        self.hooks = list(hooks)
        #: called with every evaluated window, provisional and final, before the hooks
        self.records = list(records)
        self._history = config.http.status_windows
        self._lock = threading.Lock()
        self._quality: dict[str, ModelQuality] = {}
        self._status: dict[str, dict[str, Any]] = {}
        self._unflushed = False
        labelled = [m for m in config.models if m.labels is not None]
        groups: dict[Path, list[LabelSettings]] = {}
        for m in labelled:
            assert m.labels is not None
            path = m.labels.store_path or Path(config.state.dir) / STORE_FILENAME
            groups.setdefault(path, []).append(m.labels)
        # Models sharing a file share one store: its cap is the sum of theirs.
        self._stores = {
            path: JoinStore(
                path,
                max_delay=max(s.max_delay_seconds for s in group),
                max_entries=sum(s.max_entries for s in group),
                synchronous="FULL" if any(s.synchronous == "FULL" for s in group) else "NORMAL",
            )
            for path, group in groups.items()
        }
        self.models: dict[str, ModelJoin] = {}
        for m in labelled:
            s = m.labels
            assert s is not None
            store = self._stores[s.store_path or Path(config.state.dir) / STORE_FILENAME]
            size = s.window_seconds or m.window.size_seconds
            self.models[m.name] = ModelJoin(m.name, s, store, size, m.window.offset_seconds)
        self.reader = LabelReader(config, self.clock)
        #: labels topic -> the models reading it
        self.label_topics = self.reader.label_topics
        #: models whose label-only events come on the prediction topic
        self.in_topic = self.reader.in_topic
        for joined in self.models.values():
            self._refresh(joined)
        self._publish()

    # -- per record --------------------------------------------------------------------

    def prediction(self, event: Event, counted: bool) -> None:
        """An accepted (or replayed) prediction of a model with labels: tracked when its
        event id is in the sample. ``counted``: already counted by this process."""
        self.add_prediction(event.model, event.event_id, event.timestamp, event.prediction, counted)

    def add_prediction(
        self, model: str, event_id: str | None, ts: float, prediction: object, counted: bool
    ) -> None:
        """:meth:`prediction` from its parts (event time ``ts`` in epoch seconds, the raw
        JSON prediction), for a pipeline that keeps rows rather than events."""
        m = self.models[model]
        if event_id is None:
            if not counted:
                m.reject("no_event_id")
            return
        if not tracked(event_id, m.settings.sample_rate):
            return
        if m.spec is None and not self._refresh(m):
            return
        assert m.spec is not None
        outputs = encode_outputs(m.spec, prediction)
        if outputs is None:
            if not counted:
                m.reject("bad_prediction")
            return
        wid = math.floor((ts - m.offset) / m.size)
        end = m.offset + (wid + 1) * m.size
        m.predictions.append(Prediction(event_id, wid, end, ts, outputs))
        m.predicted_until = max(m.predicted_until, ts)

    def add_predictions(
        self,
        model: str,
        event_ids: Sequence[str | None],
        ts: npt.NDArray[np.float64],
        predictions: Sequence[object],
        counted: npt.NDArray[np.bool_],
    ) -> None:
        """:meth:`add_prediction` for rows of one model at once, in order (the batch
        path): event ids, event times (epoch s, finite), raw JSON predictions and
        whether each row was already counted, all of one length. The same predictions,
        rejections and watermark as :meth:`add_prediction` row by row: window ids by
        one numpy floor, no sampling when ``sample_rate`` >= 1, outputs by
        :func:`encode_outputs_many`."""
        m = self.models[model]
        rate = m.settings.sample_rate
        if rate >= 1.0 and None not in event_ids:
            rows: list[int] | None = None  # every row
        else:
            rows = []
            for i, eid in enumerate(event_ids):
                if eid is None:
                    if not counted[i]:
                        m.reject("no_event_id")
                elif tracked(eid, rate):
                    rows.append(i)
            if not rows:
                return
        if not len(event_ids) or (m.spec is None and not self._refresh(m)):
            return
        spec = m.spec
        assert spec is not None
        if rows is None:
            ids, times, preds = event_ids, ts, predictions
        else:
            ids, times = [event_ids[i] for i in rows], ts[rows]
            preds = [predictions[i] for i in rows]
        outputs = encode_outputs_many(spec, preds)
        wids = np.floor((times - m.offset) / m.size)
        ends = (m.offset + (wids + 1.0) * m.size).tolist()
        append = m.predictions.append
        added: list[float] = []
        for i, (eid, wid, end, t, out) in enumerate(
            zip(ids, wids.astype(np.int64).tolist(), ends, times.tolist(), outputs, strict=True)
        ):
            if out is None:
                if not counted[i if rows is None else rows[i]]:
                    m.reject("bad_prediction")
                continue
            assert eid is not None
            append(Prediction(eid, wid, end, t, out))
            added.append(t)
        m.predicted_until = max([m.predicted_until, *added])

    def label_record(self, rec: Record) -> tuple[EventError, str] | None:
        """A record of a labels topic; returns (error, model or "-") when it is not a
        usable label (the pipeline counts and dead-letters it)."""
        ev = self.reader.topic_label(rec)
        if isinstance(ev, tuple):
            return ev
        return self._label(self.models[ev.model], ev.event_id, ev.value, ev.timestamp)

    def label_only(
        self, rec: Record, parsed: dict[str, Any] | None = None
    ) -> tuple[EventError, str] | bool | None:
        """A prediction-topic record that may be a label-only event (no features, no
        prediction) of a model in :attr:`in_topic`. False: not a label event (the
        pipeline goes on with it); None: joined; (error, model): a bad label.
        ``parsed``: the record value as the event decoder parsed it (not parsed again)."""
        ev = self.reader.label_only_event(rec, parsed)
        if ev is None:
            return False
        return self.add_label(ev)

    def label_only_event(
        self, rec: Record, parsed: dict[str, Any] | None = None
    ) -> LabelEvent | None:
        """:meth:`LabelReader.label_only_event`: changes nothing (the batch path asks
        while decoding and adds the label in read order, :meth:`add_label`)."""
        return self.reader.label_only_event(rec, parsed)

    def label_only_flat(self, parsed: dict[str, Any], now: float) -> LabelEvent | None:
        """:meth:`LabelReader.label_only_flat` (the batch decoder's common case)."""
        return self.reader.label_only_flat(parsed, now)

    def add_label(self, ev: LabelEvent) -> tuple[EventError, str] | None:
        """Buffer the label of :meth:`label_only_event`; None: joined (or not tracked),
        (error, model): a bad label."""
        return self._label(self.models[ev.model], ev.event_id, ev.value, ev.timestamp)

    def _label(
        self, m: ModelJoin, eid: str, raw: object, ts: float
    ) -> tuple[EventError, str] | None:
        rate = m.settings.sample_rate
        if rate < 1.0 and not tracked(eid, rate):
            return None
        spec = m.spec
        if spec is None:
            if not self._refresh(m):
                return None  # said in /status: the baseline has no performance section
            spec = m.spec
            assert spec is not None
        kind = type(raw)
        if spec.task == "binary" and (kind is int or kind is float) and raw in {0, 1}:
            value: float | None = float(raw)  # as encode_label: 0.0 or 1.0
        else:
            value = encode_label(spec, raw)
        if value is None:
            return EventError(
                "label_bad_label", f"label {str(raw)[:40]!r} is not a value of this model"
            ), m.name
        m.labels.append(Label(eid, value, ts))
        m.labelled_until = max(m.labelled_until, ts)
        return None

    # -- batches, ticks, checkpoints ---------------------------------------------------

    def apply(self) -> None:
        """Hand the buffered predictions and labels to the store (not durable until
        :meth:`flush`). Raises SinkError (the store then discarded every change since
        its last flush)."""
        for m in self.models.values():
            if not m.predictions and not m.labels:
                continue
            preds, labs = m.predictions, m.labels
            m.predictions, m.labels = [], []
            m.store.apply(m.name, preds, labs)
            m.unflushed_delays.extend(m.store.counters(m.name).delays)
            m.changed = True
            self._unflushed = True

    @property
    def stores(self) -> tuple[JoinStore, ...]:
        """The join stores (one per store file)."""
        return tuple(self._stores.values())

    def pending(self) -> bool:
        """True when something changed since the last flush (worth a commit round)."""
        return self._unflushed or any(m.predictions or m.labels for m in self.models.values())

    def tick(self) -> None:
        """Apply, expire, evaluate the windows whose counts changed, and hand final
        windows (in window order) to the hooks. Raises SinkError from the store or a
        hook; the loop then rewinds (:meth:`reset`)."""
        self.apply()
        for m in self.models.values():
            self._refresh(m)
            watermark = min(m.predicted_until, m.labelled_until)
            m.stale = m.stale or m.changed
            now = self.clock.now()
            # Open windows are re-scored at most every evaluate_every_seconds (reading
            # their pairs back is the tick's cost); finality is checked on every change.
            due = m.stale and now >= m.next_provisional
            if m.tracker is None or not (m.changed or due) or not math.isfinite(watermark):
                continue
            m.store.expire(watermark, m.name, m.settings.max_delay_seconds)
            results = m.tracker.evaluate(watermark, m.seen, provisional=due)
            m.changed = False
            if due:
                m.stale = False
                m.next_provisional = now + m.settings.evaluate_every_seconds
            self._unflushed = True
            for r in results:
                self._remember(m, r)
                for record in self.records:
                    record(r, r.window_end - m.size, m.version or "")
                if r.final:
                    log.info(
                        "performance %s window ending %s: %d/%d labelled -> %s",
                        m.name,
                        json_time(r.window_end, "seconds"),
                        r.joined,
                        r.tracked,
                        r.verdict.status.value,
                        extra={"model": m.name, "status": r.verdict.status.value},
                    )
                    for hook in self.hooks:
                        hook(r, r.window_end - m.size, m.version or "")
        self._publish()

    def flush(self) -> None:
        """The checkpointer's ``labels`` flush: apply, then commit every store (fsync).
        Raises SinkError; nothing is committed past it then."""
        self.apply()
        for store in self._stores.values():
            store.flush()
        self._unflushed = False
        for m in self.models.values():
            m.delays.observe(m.unflushed_delays)
            m.unflushed_delays = []
        self._publish()

    def reset(self) -> None:
        """Before re-reading from the committed offsets: drop what was not flushed."""
        for store in self._stores.values():
            store.rollback()
        self._unflushed = False
        for m in self.models.values():
            m.predictions, m.labels, m.unflushed_delays = [], [], []
            m.seen.clear()
            m.changed = m.stale = True
            m.next_provisional = -math.inf

    def close(self) -> None:
        """Close the stores (anything not flushed is rolled back)."""
        for store in self._stores.values():
            try:
                store.close()
            except SinkError as err:
                log.error("%s (at shutdown)", err)

    def check_topics(self, partition_count: Callable[[str], int]) -> None:
        """A labels topic that does not exist shows like a missing sink topic: a
        warning, ``sink_up{sink="labels_topic"} 0`` and /readyz 503, until it exists."""
        missing = [t for t in sorted(self.label_topics) if partition_count(t) == 0]
        for t in self.label_topics:
            self.state.warn(
                f"labels_topic:{t}",
                f"labels topic {t!r} does not exist (or has no partitions): create it or "
                "fix models[].labels.topic; no label is joined meanwhile"
                if t in missing
                else None,
            )
        self.state.set_sink(
            "labels_topic",
            f"labels topic(s) {', '.join(missing)} missing; create them" if missing else None,
        )

    # -- baselines and what /metrics, /status show --------------------------------------

    def _refresh(self, m: ModelJoin) -> bool:
        """Follow the model's loaded baseline; False when it cannot judge labels."""
        lb = self.baselines.get(m.name)
        if lb is None:
            m.spec, m.tracker, m.problem = None, None, "no baseline loaded"
            return False
        if lb.baseline.version == m.version and m.tracker is not None:
            return True
        perf = lb.baseline.performance
        m.version = lb.baseline.version
        if perf is None:
            m.spec, m.tracker = None, None
            m.problem = (
                f"baseline {m.version} has no performance section: rebuild it with "
                "`baseline build --label COL` to monitor model quality"
            )
            self.state.warn(f"labels:{m.name}", f"model {m.name}: {m.problem}")
            return False
        m.spec, m.problem = perf.spec, None
        m.tracker = PerformanceTracker(
            m.store,
            m.name,
            perf,
            m.settings.degradation(),
            final_coverage=m.settings.final_coverage,
            max_delay=m.settings.max_delay_seconds,
        )
        m.seen.clear()
        m.changed = m.stale = True
        m.next_provisional = -math.inf  # re-score the open windows against the new baseline
        self.state.warn(f"labels:{m.name}", None)
        return True

    def _remember(self, m: ModelJoin, r: WindowPerformance) -> None:
        if r.final:
            m.latest = r
        m.recent[r.window_id] = window_doc(r, r.window_end - m.size)
        while len(m.recent) > self._history:
            del m.recent[min(m.recent)]

    def _publish(self) -> None:
        quality: dict[str, ModelQuality] = {}
        status: dict[str, dict[str, Any]] = {}
        for m in self.models.values():
            lb = self.baselines.get(m.name)
            perf = lb.baseline.performance if lb is not None else None
            quality[m.name] = model_quality(m, perf.metrics if perf is not None else {})
            status[m.name] = model_status(m)
        with self._lock:
            self._quality, self._status = quality, status

    def quality(self) -> dict[str, ModelQuality]:
        """Per model, what the quality families show (any thread)."""
        with self._lock:
            return dict(self._quality)

    def status(self, model: str) -> dict[str, Any] | None:
        """The model's ``labels`` section of /status (any thread); None without labels."""
        with self._lock:
            return self._status.get(model)
