"""Which records are labels, and of which model (issue 15): the records of a labels
topic (``models[].labels.topic``) and label-only events on a prediction topic (models
with ``labels`` and no ``labels.topic``). Decoding only: :class:`LabelReader` changes
nothing; :class:`~drift_monitor.pipeline.labels.LabelJoin` buffers what it returns."""

from __future__ import annotations

from typing import Any

from drift_monitor.clock import Clock
from drift_monitor.config.models import AppConfig
from drift_monitor.errors import EventError
from drift_monitor.labels.config import LabelFields
from drift_monitor.labels.events import (
    LabelEvent,
    decode_label_event,
    decode_label_flat,
    decode_label_object,
)
from drift_monitor.source.base import Record


class LabelReader:
    """Label events of the models with a ``labels`` section of ``config`` (module
    docstring); ``clock`` gives the wall-clock time future timestamps are judged by."""

    def __init__(self, config: AppConfig, clock: Clock) -> None:
        self.clock = clock
        self._max_future = config.decode.max_future_seconds
        self._max_bytes = config.decode.max_event_bytes
        labelled = [m for m in config.models if m.labels is not None]
        self._fields: dict[str, LabelFields] = {}
        #: labels topic -> the models reading it, in config order
        self.label_topics: dict[str, tuple[str, ...]] = {}
        for m in labelled:
            assert m.labels is not None
            self._fields[m.name] = m.labels.fields
            if m.labels.topic is not None:
                t = m.labels.topic
                self.label_topics[t] = (*self.label_topics.get(t, ()), m.name)
        #: models whose label-only events come on the prediction topic
        self.in_topic = frozenset(
            m.name for m in labelled if m.labels is not None and m.labels.topic is None
        )
        #: the fields label-only events are read with (those of the first such model)
        self._in_topic_fields = self._fields[min(self.in_topic)] if self.in_topic else None

    def topic_label(self, rec: Record) -> LabelEvent | tuple[EventError, str]:
        """The label a record of a labels topic holds, or (error, model or "-") when it
        is not a usable one (bad JSON, fields, timestamp, or a model not reading this
        topic): the pipeline counts and dead-letters it."""
        names = self.label_topics[rec.topic]
        try:
            ev = decode_label_event(
                rec.value,
                rec.key,
                rec.timestamp_ms,
                self._fields[names[0]],
                default_model=names[0] if len(names) == 1 else None,
                max_bytes=self._max_bytes,
                now=self.clock.now(),
                max_future=self._max_future,
            )
        except EventError as err:
            return err, names[0] if len(names) == 1 else "-"
        if ev.model not in names:
            return EventError(
                "label_unknown_model",
                f"model {ev.model[:60]!r} has no labels.topic {rec.topic!r}",
            ), "-"
        return ev

    def label_only_event(
        self, rec: Record, parsed: dict[str, Any] | None = None
    ) -> LabelEvent | None:
        """The label-only event ``rec`` holds for a model in :attr:`in_topic`, None when
        it is not one (then it is an ordinary prediction event, or an invalid one).
        ``parsed``: the record value as the event decoder parsed it (not parsed again)."""
        fields = self._in_topic_fields
        if fields is None:
            return None
        now = self.clock.now()
        try:
            if parsed is not None:
                fast = self.label_only_flat(parsed, now)
                if fast is not None:
                    return fast
                ev = decode_label_object(
                    parsed,
                    rec.key,
                    rec.timestamp_ms,
                    fields,
                    default_model=None,
                    now=now,
                    max_future=self._max_future,
                )
            else:
                ev = decode_label_event(
                    rec.value,
                    rec.key,
                    rec.timestamp_ms,
                    fields,
                    default_model=None,
                    max_bytes=self._max_bytes,
                    now=now,
                    max_future=self._max_future,
                )
        except EventError:
            return None
        return ev if ev.model in self.in_topic else None

    def label_only_flat(self, parsed: dict[str, Any], now: float) -> LabelEvent | None:
        """:meth:`label_only_event`'s common case (a flat label-only event of a model in
        :attr:`in_topic`, :func:`decode_label_flat`) for a record value parsed into
        ``parsed``, at wall-clock time ``now`` (epoch s). None: not that case (ask
        :meth:`label_only_event`, which decides); otherwise what it would return."""
        fields = self._in_topic_fields
        if fields is None:
            return None
        ev = decode_label_flat(parsed, fields, now, self._max_future)
        if ev is None or ev.model not in self.in_topic:
            return None
        return ev
