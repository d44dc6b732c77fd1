"""The columnar hot path of :meth:`~drift_monitor.pipeline.core.Pipeline.process`.

A polled batch is handled as columns, with the same result as handling its records one
by one (``Pipeline._one``): the same window contents and sample, watermark, counts,
invalid reasons, dead letters, offsets, and the same stop at the record whose window
effects failed. How:

1. **Decode** (changes nothing): the envelopes of every value at once
   (:class:`~drift_monitor.decode.columnar.BatchDecoder`), then each model's columns
   (:class:`~drift_monitor.windows.columns.ColumnExtractor`). A record either path
   cannot vouch for is decoded per event (``Decoder.decode`` + ``layout.extract``,
   today's code): it yields an exact invalid reason, an unknown model, or a row that
   joins its model's block. Each model's rows form a :class:`RowBlock` in read order.
2. **Stretches**: every model's windows *plan* their rows (outcome per row, and the
   first row whose arrival closes windows: ``plan_block``, pure). The stretch ends at
   the earliest such record across models. Its records are then read (offsets),
   counted, routed, added to their windows (``add_block``), and the closing record's
   windows evaluated (``Pipeline._close``: the hooks). A :class:`SinkError` there stops
   the batch at that record exactly as the per-event path does (the record is read but
   not counted; later records are not read). The next stretch plans again from there.

Only a batch whose offsets do not increase strictly per partition (never the case for
a Kafka poll) is left to the per-event path (``process`` returns None).

Labels (issue 15), when a model has a labels section: a labels topic's record never
reaches the batch decoder, and a record the decoder refuses for lack of features, or
decodes without a prediction, may be a label-only event; both are handled in their
stretch by the same code as per event (``Pipeline._label_event``), re-read records
too (the join is idempotent and restarts from its last flush after a rewind); the
common label-only event is read straight from the batch decoder's parsed object
(``LabelJoin.label_only_flat``), the others as per event. Each stretch hands a model's
accepted or replayed rows to the join with their raw predictions in one call
(``LabelJoin.add_predictions``: the same result as ``add_prediction`` per event).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from drift_monitor.decode.columnar import Envelopes
from drift_monitor.decode.decoder import _MAX_MODEL_LEN
from drift_monitor.decode.typed import TypedBatchDecoder
from drift_monitor.errors import EventError, SinkError
from drift_monitor.labels.events import LabelEvent
from drift_monitor.source.base import Record, RecordBatch, TopicPartition
from drift_monitor.windows.layout import ModelLayout
from drift_monitor.windows.runtime import (
    ACCEPTED,
    LATE,
    REPLAYED,
    BlockPlan,
    ClosedWindow,
    RowBlock,
    WindowRuntime,
)
from drift_monitor.windows.typed_columns import Extractors, schema_columns

if TYPE_CHECKING:
    from drift_monitor.pipeline.core import Pipeline

_I64 = np.int64


#: One model's rows of a batch: (model, its windows, the rows, their raw predictions -
#: kept only for a model with labels, else empty).
_Block = tuple[str, WindowRuntime, RowBlock, list[object]]


@dataclass(frozen=True, slots=True)
class _Untouched:
    """A record that reaches no window: invalid (``error``) or of an unknown model, or
    (``label``) a label event - a labels topic's record (``event`` None) or a label-only
    event (``event``: the label decoding found in it)."""

    pos: int
    model: str  # the events_total model label (invalid) or the event's model (unknown)
    error: EventError | None
    label: bool = False
    event: LabelEvent | None = None


@dataclass(slots=True)
class _SlowRows:
    """Rows of one model decoded per event."""

    pos: list[int]
    nums: list[list[float]]
    codes: list[list[int]]
    ts: list[float]
    ids: list[str | None]
    preds: list[object]


class ColumnarPath:
    """The batch path of ``pipeline`` (see the module docstring)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._p = pipeline
        self._decoder = TypedBatchDecoder(pipeline.decoder)
        self._extractors = Extractors()
        self._layouts: tuple[ModelLayout, ...] = ()

    def process(
        self, records: Sequence[Record], now: float, accepted: dict[str, int]
    ) -> int | None:
        """Process ``records`` at processing time ``now`` (epoch s); returns windows
        closed, or None (nothing done) when the batch must go per event. Accepted
        counts go to ``accepted``; raises SinkError as ``Pipeline.process`` does."""
        n = len(records)
        if not isinstance(records, RecordBatch):  # a source's poll is one (issue 14)
            records = RecordBatch.of(records)
        tp_codes, tps, offsets = records.tp_codes, records.tps, records.offsets
        by_tp = [np.flatnonzero(tp_codes == c) for c in range(len(tps))]
        if any(len(pos) > 1 and (np.diff(offsets[pos]) <= 0).any() for pos in by_tp):
            return None
        blocks, untouched = self._decode(records, now, tp_codes, tps, offsets)
        closed = 0
        cursors = [0] * len(blocks)
        next_untouched = 0
        i = 0
        while i < n:
            got, i, next_untouched = self._stretch(
                records, now, accepted, i, blocks, cursors, untouched, next_untouched,
                tp_codes, tps, offsets, by_tp,
            )  # fmt: skip
            closed += got
        return closed

    # -- decode ------------------------------------------------------------------------

    def _decode(
        self,
        records: RecordBatch,
        now: float,
        tp_codes: npt.NDArray[np.int64],
        tps: list[TopicPartition],
        offsets: npt.NDArray[np.int64],
    ) -> tuple[list[_Block], list[_Untouched]]:
        p = self._p
        n = len(records)
        env = self._envelopes(records.values, records.timestamps_ms, now)
        ok = np.flatnonzero(env.ok)
        slow = np.flatnonzero(~env.ok).tolist()
        untouched: list[_Untouched] = []
        lj = p.labels
        if lj is not None and lj.label_topics:
            # labels (issue 15): a labels topic's record is a label event, never decoded
            # as a prediction (handled in its stretch, as per event)
            on_label_topic = np.fromiter((r.topic in lj.label_topics for r in records), bool, n)
            untouched.extend(
                _Untouched(j, "-", None, True) for j in np.flatnonzero(on_label_topic).tolist()
            )
            ok = ok[~on_label_topic[ok]]
            slow = [j for j in slow if not on_label_topic[j]]
        if lj is not None and lj.in_topic and slow:
            slow = self._label_only(env.objects, slow, untouched)
        fast: dict[str, tuple[WindowRuntime, npt.NDArray[np.int64], Any, Any]] = {}
        models = env.models if len(ok) == n else [env.models[j] for j in ok.tolist()]
        # each model's code, in the order models first appear (dict.fromkeys keeps it)
        codes_of: dict[str, int] = dict(zip(dict.fromkeys(models), count(), strict=False))
        model_codes = np.fromiter(map(codes_of.__getitem__, models), _I64, len(ok))
        slow_rows: dict[str, tuple[WindowRuntime, _SlowRows]] = {}
        # Windows open in the order models first appear in the batch (as record by
        # record: that order is the order of idle closes and of the shutdown flush).
        groups = {model: ok[model_codes == code] for model, code in codes_of.items()}
        found: dict[str, WindowRuntime | None] = {}
        firsts = sorted((int(rows[0]), model) for model, rows in groups.items())
        pending = sorted(slow)
        k = 0
        for first, model in firsts:
            while k < len(pending) and pending[k] < first:
                self._decode_one(records[pending[k]], pending[k], untouched, slow_rows)
                k += 1
            found[model] = p.windows.get(model) or p._windows_for(model)
        for j in pending[k:]:
            self._decode_one(records[j], j, untouched, slow_rows)
        slow = []
        for model, all_rows in groups.items():
            windows = found[model]
            rows = all_rows
            if lj is not None and model in lj.in_topic:
                # labels (issue 15): no prediction: maybe a label-only event (per event)
                none = np.fromiter((env.predictions[j] is None for j in rows.tolist()), bool)
                if none.any():
                    slow.extend(rows[none].tolist())
                    rows = rows[~none]
                    if not len(rows):
                        continue
            if windows is None:
                untouched.extend(_Untouched(j, model, None) for j in rows.tolist())
                continue
            nums, cats, good = self._extractors.extract(
                model, windows.layout, env, rows, self._decoder.schema
            )
            if not good.all():
                slow.extend(rows[~good].tolist())
                rows, nums, cats = rows[good], nums[good], cats[good]
            fast[model] = (windows, rows, nums, cats)
        for j in sorted(slow):  # rows the column extraction could not take
            self._decode_one(records[j], j, untouched, slow_rows)
        untouched.sort(key=lambda u: u.pos)
        blocks: list[_Block] = []
        for model in {**fast, **slow_rows}:
            with_labels = lj is not None and model in lj.models
            lay = (fast[model][0] if model in fast else slow_rows[model][0]).layout
            if model in fast:
                windows, pos, nums, cats = fast[model]
                ts = env.timestamps[pos]
                event_ids: list[str | None] = [env.event_ids[j] for j in pos.tolist()]
                preds: list[object] = (
                    [env.predictions[j] for j in pos.tolist()] if with_labels else []
                )
            else:
                windows = slow_rows[model][0]
                pos, ts, event_ids, preds = np.empty(0, dtype=_I64), np.empty(0), [], []
                nums = np.empty((0, len(lay.numeric)))
                cats = np.empty((0, len(lay.categorical)), dtype=np.int32)
            if model in slow_rows:
                extra = slow_rows[model][1]
                pos = np.concatenate([pos, np.array(extra.pos, dtype=_I64)])
                order = np.argsort(pos, kind="stable")
                pos = pos[order]
                ts = np.concatenate([ts, np.array(extra.ts)])[order]
                n_num, n_cat = len(lay.numeric), len(lay.categorical)
                more_nums = np.array(extra.nums, dtype=np.float64).reshape(-1, n_num)
                more_cats = np.array(extra.codes, dtype=np.int32).reshape(-1, n_cat)
                nums = np.concatenate([nums, more_nums])[order]
                cats = np.concatenate([cats, more_cats])[order]
                joined = event_ids + extra.ids
                event_ids = [joined[o] for o in order.tolist()]
                if with_labels:
                    both = preds + extra.preds
                    preds = [both[o] for o in order.tolist()]
            block = RowBlock(pos, ts, nums, cats, tp_codes[pos], tps, offsets[pos], event_ids)
            blocks.append((model, windows, block, preds))
        return blocks, untouched

    def _envelopes(
        self, values: list[bytes | None], ts_ms: npt.NDArray[np.int64], now: float
    ) -> Envelopes:
        """The batch's envelopes, typed (:mod:`drift_monitor.decode.typed`) where the
        structs of the loaded layouts take them; the types are rebuilt when a baseline
        change brings other layouts."""
        p = self._p
        found = {id(w.layout): w.layout for w in p.windows.values()}
        for model in p.baselines.paths:
            lb = p.baselines.get(model)
            if lb is not None:
                found.setdefault(id(lb.layout), lb.layout)
        layouts = tuple(found.values())
        if len(layouts) != len(self._layouts) or any(
            a is not b for a, b in zip(layouts, self._layouts, strict=True)
        ):
            self._layouts = layouts  # held: the ids stay unique while compared
            self._decoder.use(schema_columns(layouts))
        return self._decoder.decode(values, ts_ms, now)

    def _label_only(
        self, objects: list[Any], slow: list[int], untouched: list[_Untouched]
    ) -> list[int]:
        """labels (issue 15): of the records ``slow`` (not ok for the batch decoder), take
        the common label-only events (``LabelJoin.label_only_flat``) from their parsed
        ``objects`` into ``untouched`` as :meth:`_decode_one` would (the event decoder
        refuses them as ``missing_features``: a valid model, no features object); returns
        the others, for :meth:`_decode_one`."""
        p = self._p
        lj = p.labels
        assert lj is not None
        s = p.decoder.settings
        if s.layout != "nested":
            return slow
        now = lj.clock.now()  # a later record's clock is no earlier: passes there too
        model_field, features_field = s.model_field, s.features_field
        rest: list[int] = []
        for j in slow:
            obj = objects[j]
            model = obj.get(model_field)
            ev = None
            if (
                type(model) is str
                and 0 < len(model) <= _MAX_MODEL_LEN
                and obj.get(features_field) is None
            ):
                ev = lj.label_only_flat(obj, now)
            if ev is None:
                rest.append(j)
            else:
                untouched.append(_Untouched(j, "-", None, True, ev))
        return rest

    def _decode_one(
        self,
        rec: Record,
        j: int,
        untouched: list[_Untouched],
        slow_rows: dict[str, tuple[WindowRuntime, _SlowRows]],
    ) -> None:
        """Record ``j`` per event, as ``Pipeline._one`` decodes it."""
        p = self._p
        lj = p.labels
        obj = None
        try:
            if lj is not None and lj.in_topic:
                # labels (issue 15): parsed once, for the decoder and the label decoder
                obj = p.decoder.parse(rec.value)
                event = p.decoder.decode_object(obj, rec.key, rec.topic, rec.timestamp_ms)
            else:
                event = p.decoder.decode(rec.value, rec.key, rec.topic, rec.timestamp_ms)
        except EventError as err:
            # A label-only event has no features object. Its label is added in read
            # order, in its stretch.
            found = None
            if obj is not None and lj is not None and err.reason == "missing_features":
                found = lj.label_only_event(rec, obj)
            untouched.append(_Untouched(j, "-", err, found is not None, found))
            return
        if lj is not None and event.prediction is None and event.model in lj.in_topic:
            found = lj.label_only_event(rec, obj)
            if found is not None:
                untouched.append(_Untouched(j, event.model, None, True, found))
                return
        windows = p.windows.get(event.model) or p._windows_for(event.model)
        if windows is None:
            untouched.append(_Untouched(j, event.model, None))
            return
        try:
            nums, codes = windows.layout.extract(event)
        except EventError as err:
            untouched.append(_Untouched(j, event.model, err))
            return
        got = slow_rows.get(event.model)
        if got is None:
            got = slow_rows[event.model] = (windows, _SlowRows([], [], [], [], [], []))
        rows = got[1]
        rows.pos.append(j)
        rows.nums.append(nums)
        rows.codes.append(codes)
        rows.ts.append(event.timestamp)
        rows.ids.append(event.event_id)
        rows.preds.append(event.prediction)

    # -- one stretch -------------------------------------------------------------------

    def _stretch(
        self,
        records: Sequence[Record],
        now: float,
        accepted: dict[str, int],
        start: int,
        blocks: list[_Block],
        cursors: list[int],
        untouched: list[_Untouched],
        next_untouched: int,
        tp_codes: npt.NDArray[np.int64],
        tps: list[TopicPartition],
        offsets: npt.NDArray[np.int64],
        by_tp: list[npt.NDArray[np.int64]],
    ) -> tuple[int, int, int]:
        """Records from ``start`` up to and including the next one that closes windows
        (or to the end); returns (windows closed, where the next stretch starts, the
        next untouched record's index)."""
        p = self._p
        tracker = p.offsets
        # Per partition: counted_until / replay_until as the stretch's records see them.
        counted_until = np.full(len(tps), -1, dtype=_I64)
        replay_until = np.full(len(tps), -1, dtype=_I64)
        spans: list[tuple[int, int]] = []
        for c, pos in enumerate(by_tp):
            lo = int(np.searchsorted(pos, start))
            spans.append((lo, len(pos)))
            if lo < len(pos):
                counted_until[c], replay_until[c] = tracker.bounds(tps[c], int(offsets[pos[lo]]))
        end = len(records)
        closer = -1
        plans: list[tuple[RowBlock, BlockPlan] | None] = []
        for b, (_, windows, block, _preds) in enumerate(blocks):
            a = cursors[b]
            if a >= len(block):
                plans.append(None)
                continue
            sub = block.rows(a, len(block))
            plan = windows.plan_block(sub, sub.offsets < replay_until[sub.tp_codes])
            plans.append((sub, plan))
            if plan.close_at is not None:
                upto = int(sub.pos[plan.close_at]) + 1
                if upto < end or closer < 0:
                    end, closer = upto, b
        # Records that reach no window, in order. A dead-letter copy may fail to send:
        # the stretch then stops at that record, where the per-event path stops.
        failed: SinkError | None = None
        stop = end
        while next_untouched < len(untouched) and untouched[next_untouched].pos < end:
            u = untouched[next_untouched]
            next_untouched += 1
            rec = records[u.pos]
            counted = bool(rec.offset < counted_until[tp_codes[u.pos]])
            try:
                if u.label:  # labels (issue 15): a label event, re-read ones too
                    p._label_event(rec, u.event, counted)
                    continue
                if counted:
                    continue  # re-read: counted (and dead-lettered) before
                if u.error is not None:
                    p._invalid(rec, u.error, u.model)
                else:
                    p._route(rec, "unknown_model", f"no baseline loaded for model {u.model!r}")
                    p.state.count(u.model if u.model in p._settings else "-", "unknown_model")
            except SinkError as err:
                failed, stop = err, u.pos
                break
        # Read: the same moved_back/read calls the per-event path makes, per partition.
        for c, pos in enumerate(by_tp):
            lo = spans[c][0]
            hi = int(np.searchsorted(pos, stop + 1 if failed else end))
            if lo >= hi:
                continue
            tp, first, last = tps[c], int(offsets[pos[lo]]), int(offsets[pos[hi - 1]])
            moved = tracker.moved_back(tp, first)
            if moved is not None:
                p._moved_back(moved)
            tracker.read(tp, first)
            tracker.read(tp, last)
        closing: tuple[WindowRuntime, list[ClosedWindow], str, bool, int] | None = None
        for b, item in enumerate(plans):
            if item is None:
                continue
            sub, plan = item
            k = int(np.searchsorted(sub.pos, stop))
            if k == 0:
                continue
            model, windows, _, preds = blocks[b]
            for c in np.unique(sub.tp_codes[:k]).tolist():
                tracker.saw_model(tps[c], model)
            produced = windows.add_block(sub, plan, k, now)
            a = cursors[b]
            cursors[b] += k
            new = sub.offsets[:k] >= counted_until[sub.tp_codes[:k]]
            outcome = plan.outcome[:k]
            if preds:  # labels (issue 15): accepted and replayed predictions, as per event
                lj = p.labels
                assert lj is not None
                joins = outcome != LATE
                if joins.all():
                    ids, mine = sub.event_ids[:k], preds[a : a + k]
                    lj.add_predictions(model, ids, sub.ts[:k], mine, ~new)
                else:
                    keep = np.flatnonzero(joins)
                    rows = keep.tolist()
                    ids = [sub.event_ids[r] for r in rows]
                    lj.add_predictions(
                        model, ids, sub.ts[keep], [preds[a + r] for r in rows], ~new[keep]
                    )
            if b == closer and failed is None:
                # Counted only once its windows' effects succeeded (below).
                closing = (windows, produced, model, bool(new[-1]), int(sub.pos[k - 1]))
                new = new.copy()
                new[-1] = False
            n_accepted = int(np.count_nonzero(new & (outcome == ACCEPTED)))
            if n_accepted:
                accepted[model] = accepted.get(model, 0) + n_accepted
            n_late = int(np.count_nonzero(new & (outcome == LATE)))
            if n_late:
                p.state.count(model, "late", n_late)
            for _ in range(int(np.count_nonzero(outcome == REPLAYED))):
                p.state.count_replayed(model)
        if failed is not None:
            rec = records[stop]
            tracker.unread((rec.topic, rec.partition), rec.offset)
            raise failed
        if closing is None:
            return 0, end, next_untouched
        windows, produced, model, new_last, at = closing
        try:
            for w in produced:
                p._close(windows, w)
        except SinkError:
            rec = records[at]
            tracker.unread((rec.topic, rec.partition), rec.offset)
            raise
        if new_last:
            accepted[model] = accepted.get(model, 0) + 1
        return len(produced), end, next_untouched
