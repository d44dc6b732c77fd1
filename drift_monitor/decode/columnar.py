"""Batch decoding: the values of a polled batch -> per-field columns.

The fast path of :class:`~drift_monitor.decode.decoder.Decoder`: one ``orjson.loads``
per value (the same parser, so the same Python objects as the per-event path), then
each envelope field taken for the whole batch at once (``map(dict.get, ...)``) and
checked by the *set* of its value types, not value by value; event times are
validated as a numpy array. A record this path cannot vouch for is not judged here:
``ok[i]`` is False and the caller decodes it with :meth:`Decoder.decode`, which gives
today's exact reason. So the fast path only ever takes records the per-event decoder
accepts, with the same values (``tests/unit/decode/test_columnar_fuzz.py`` compares
both on hostile batches).

Taken fast: a JSON object of at most ``max_event_bytes`` with a valid string model, a
``features`` object (nested layout), a string or absent event id, and a numeric,
RFC 3339 or absent timestamp in range. Everything else (tombstones, bad JSON, a model
from the record key, integer event ids, the flat layout...) goes per event.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from drift_monitor.decode.decoder import (
    _MAX_MODEL_LEN,
    MAX_EVENT_TIME,
    MIN_EVENT_TIME,
    Decoder,
    parse_rfc3339,
)
from drift_monitor.errors import EventError

_NUMBER = (int, float)


@dataclass(slots=True)
class Envelopes:
    """The envelope fields of one batch, one entry per record.

    ``ok[i]`` False: record ``i`` must be decoded per event (its other entries are then
    placeholders). ``timestamps``: event time, epoch seconds. ``features`` entries
    are the event's features object (an empty dict for a record not ok); ``objects``
    the parsed values (an empty dict where a value is not a JSON object of at most
    ``max_event_bytes``), for a caller that reads a record not ok another way.
    """

    ok: npt.NDArray[np.bool_]
    models: list[Any]
    timestamps: npt.NDArray[np.float64]
    event_ids: list[Any]
    features: list[dict[str, Any]]
    predictions: list[Any]
    objects: list[Any]
    #: typed decoding (:mod:`.typed`): True where ``features[i]`` is a features struct
    #: (None: no record is)
    typed: npt.NDArray[np.bool_] | None = None


class BatchDecoder:
    """Decodes the envelopes of a batch under the settings of ``decoder``."""

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self._s = decoder.settings

    def decode(
        self,
        values: list[bytes | None],
        timestamps_ms: npt.NDArray[np.int64],
        now: float,
    ) -> Envelopes:
        """The envelopes of ``values`` (record timestamps in ms, -1 = none; ``now``:
        processing time, epoch s, as the per-event decoder's clock reads it)."""
        s = self._s
        n = len(values)
        ok = np.ones(n, dtype=np.bool_)
        if s.layout != "nested" or n == 0:
            ok[:] = False
            return Envelopes(
                ok, [None] * n, np.zeros(n), [None] * n, [{}] * n, [None] * n, [{}] * n
            )
        objs = self._parse(values, ok)
        get = dict.get
        models: list[Any] = list(map(get, objs, repeat(s.model_field, n)))
        if set(map(type, models)) == {str}:
            if max(map(len, models)) > _MAX_MODEL_LEN or min(map(len, models)) == 0:
                ok &= [0 < len(m) <= _MAX_MODEL_LEN for m in models]
        else:
            ok &= [type(m) is str and 0 < len(m) <= _MAX_MODEL_LEN for m in models]
        features: list[Any] = list(map(get, objs, repeat(s.features_field, n)))
        if set(map(type, features)) != {dict}:
            good = [type(f) is dict for f in features]
            ok &= good
            features = [f if g else {} for f, g in zip(features, good, strict=True)]
        ids = list(map(get, objs, repeat(s.event_id_field, n)))
        if not set(map(type, ids)) <= {str, type(None)}:
            ok &= [i is None or type(i) is str for i in ids]
        predictions = list(map(get, objs, repeat(s.prediction_field, n)))
        raw = list(map(get, objs, repeat(s.timestamp_field, n)))
        ts = self._timestamps(raw, timestamps_ms, now, ok)
        return Envelopes(ok, models, ts, ids, features, predictions, objs)

    def _parse(self, values: list[bytes | None], ok: npt.NDArray[np.bool_]) -> list[Any]:
        """One object per value; ``{}`` (and ``ok`` False) where it is not a JSON object
        of at most ``max_event_bytes``."""
        limit = self._s.max_event_bytes
        loads = orjson.loads
        objs: list[Any] = []
        try:
            if max(map(len, values), default=0) <= limit:  # type: ignore[arg-type]
                objs = [loads(v) for v in values]  # type: ignore[arg-type]
        except (TypeError, orjson.JSONDecodeError):  # a tombstone, a bad value
            objs = []
        if len(objs) != len(values):
            objs = []
            for v in values:
                if v is None or len(v) > limit:
                    objs.append(None)
                    continue
                try:
                    objs.append(loads(v))
                except orjson.JSONDecodeError:
                    objs.append(None)
        if set(map(type, objs)) != {dict}:
            good = [type(o) is dict for o in objs]
            ok &= good
            objs = [o if g else {} for o, g in zip(objs, good, strict=True)]
        return objs

    def _timestamps(
        self,
        raw: list[Any],
        timestamps_ms: npt.NDArray[np.int64],
        now: float,
        ok: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.float64]:
        """Event times as :meth:`Decoder.timestamp` computes them; ``ok`` False where it
        would raise."""
        n = len(raw)
        record_ts = timestamps_ms / 1000.0
        types = set(map(type, raw))
        if types <= {int, float}:
            ts = np.array(raw, dtype=np.float64)
            numeric = np.ones(n, dtype=np.bool_)
        else:
            ts = np.zeros(n, dtype=np.float64)
            numeric = np.zeros(n, dtype=np.bool_)
            for i, r in enumerate(raw):
                t = type(r)
                if t is int or t is float:
                    ts[i] = r
                    numeric[i] = True
                elif r is None:
                    if timestamps_ms[i] < 0:
                        ok[i] = False
                    ts[i] = record_ts[i]
                elif t is str:
                    try:
                        ts[i] = parse_rfc3339(r)
                    except EventError:
                        ok[i] = False
                else:
                    ok[i] = False
        with np.errstate(invalid="ignore", over="ignore"):
            if numeric.any():
                # As Decoder.timestamp: a finite, non-negative epoch; > 1e11 is in ms.
                ok &= ~numeric | (np.isfinite(ts) & (ts >= 0))
                ms = numeric & (ts > 1e11)
                ts[ms] /= 1000.0
            limit = self._s.max_future_seconds
            ok &= ts >= MIN_EVENT_TIME
            ok &= (timestamps_ms < 0) | ~(ts - record_ts > limit)
            ok &= ~(ts - now > limit)
            ok &= ts < MAX_EVENT_TIME
        return ts
