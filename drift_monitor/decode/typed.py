"""Typed batch decoding: the values of a polled batch -> envelopes, in msgspec's C code.

The fast path of :class:`~drift_monitor.decode.columnar.BatchDecoder` (issue 14): one
``msgspec.json.Decoder`` of a ``Struct`` type built from the columns of the loaded
layouts (:class:`TypedSchema`; built once per set of layouts, not per batch) parses a
value and checks its types in one pass: numeric columns ``float | None`` (a JSON
integer becomes a float, a bool or a string is refused), categorical columns
``str | None``, a column that two models read with different kinds (and the
prediction, the timestamp and the label) untyped, for the caller to check. The
extractor then takes columns straight from the structs
(:class:`~drift_monitor.windows.typed_columns.StructExtractor`).

Exactness: a value msgspec refuses (bad JSON, a wrong type, a missing model or features
object, a bool event id, a tombstone, an oversize value...) is left to
:class:`BatchDecoder` for that record alone, so every reason and every label-only event
stays as it was. So are values where msgspec and orjson (the per-event parser) could
disagree on an accepted value: the structs forbid unknown fields (msgspec skips an
unknown field without checking its numbers for overflow, which orjson refuses), and an
untyped value holding a container or an integer outside 64 bits (orjson makes such an
integer a float, msgspec keeps it exact) goes to orjson too. Envelope fields an event
carries often (the label, up to :data:`MAX_EXTRA` names learned from refused values)
are added to the type untyped, with the same check. A record whose envelope the batch
checks refuse (model length, timestamp) goes to :class:`BatchDecoder` too: a typed
record is always ``ok``. One thing the typed path takes that :class:`BatchDecoder` leaves
per event: an integer event id (as its string, as :class:`Decoder` makes it). A stream
the types hardly fit backs off to :class:`BatchDecoder` for a few batches (no second
parse per value). Both parsers keep the last of duplicate keys and ``-0.0``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from operator import attrgetter
from typing import Any, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from drift_monitor.decode.columnar import BatchDecoder, Envelopes
from drift_monitor.decode.decoder import _MAX_MODEL_LEN, Decoder
from drift_monitor.decode.settings import DecodeSettings

#: The kind of a feature field: typed ``float | None``, ``str | None``, or untyped.
Kind = Literal["numeric", "categorical", "any"]

#: Most unknown field names (per level: envelope, features) learned into the type.
MAX_EXTRA = 64

#: Most batches in a row left to :class:`BatchDecoder` when the types do not fit.
MAX_SKIP = 64

#: orjson keeps integers in [-2**63, 2**64 - 1] exact and makes others floats.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
_SCALARS = frozenset({str, float, bool, type(None)})
_NUMBERS = frozenset({int, float})
_ID_TYPES = frozenset({str, type(None)})
#: msgspec's message for an unknown field: its name, and its path below the envelope
#: (the features object) when not at the top.
_UNKNOWN = re.compile(r"Object contains unknown field `(.*?)`(?: - at `\$(.+)`)?", re.DOTALL)
_REFUSED = (msgspec.ValidationError, msgspec.DecodeError, RecursionError, TypeError)


def orjson_safe(values: list[Any]) -> list[bool]:
    """Per untyped value from msgspec: True when orjson parses it to an equal object (a
    scalar, or an object of scalars, with no integer outside 64 bits)."""
    return [_safe(v) or (type(v) is dict and all(map(_safe, v.values()))) for v in values]


def _safe(v: Any) -> bool:
    t = type(v)
    return t in _SCALARS or (t is int and _INT_MIN <= v <= _INT_MAX)


def all_safe(values: list[Any]) -> bool:
    """True when every value is a string, float, bool or None, or all are numbers within
    64 bits (the common cases, checked by type set and range alone); else False (then
    see :func:`orjson_safe`)."""
    types = set(map(type, values))
    if types <= _SCALARS:
        return True
    return types <= _NUMBERS and min(values) >= _INT_MIN and max(values) <= _INT_MAX


class TypedSchema:
    """The struct types of one set of feature columns under ``settings``.

    ``columns``: feature name -> kind (any string is a name: fields get safe attribute
    names, renamed to the JSON names). ``extra``/``extra_features``: unknown envelope and
    features names to take untyped (never read, only checked). ``attr[name]``: the
    attribute of feature ``name`` in the features struct. Raises ValueError when the
    envelope names collide (two settings fields naming one key).
    """

    def __init__(
        self,
        columns: Mapping[str, Kind],
        settings: DecodeSettings,
        extra: tuple[str, ...] = (),
        extra_features: tuple[str, ...] = (),
    ) -> None:
        self.columns = dict(columns)
        self.extra, self.extra_features = extra, extra_features
        self.attr = {name: f"f{i}" for i, name in enumerate(self.columns)}
        self.loose = tuple(self.attr[n] for n, k in self.columns.items() if k == "any")
        self.loose += tuple(f"x{i}" for i in range(len(extra_features)))
        types = {"numeric": float | None, "categorical": str | None, "any": Any}
        fields: list[Any] = [(self.attr[n], types[k], None) for n, k in self.columns.items()]
        fields += [(f"x{i}", Any, None) for i in range(len(extra_features))]
        rename = {a: n for n, a in self.attr.items()}
        rename.update({f"x{i}": n for i, n in enumerate(extra_features)})
        features = _struct("Features", fields, rename)
        s = settings
        names = {
            "model": s.model_field,
            "features": s.features_field,
            "event_id": s.event_id_field,
            "timestamp": s.timestamp_field,
            "prediction": s.prediction_field,
            "label": s.label_field,
        }
        names.update({f"x{i}": n for i, n in enumerate(extra) if n not in names.values()})
        if len(set(names.values())) < len(names):
            raise ValueError("decode settings name one key twice")
        envelope = _struct(
            "Envelope",
            [
                ("model", str),
                ("features", features),
                ("event_id", str | int | None, None),
                ("timestamp", Any, None),
                ("prediction", Any, None),
                ("label", Any, None),
                *((a, Any, None) for a in names if a.startswith("x")),
            ],
            names,
        )
        self.envelope_loose = ("label", *(a for a in names if a.startswith("x")))
        self.decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(envelope)


def _struct(name: str, fields: list[Any], rename: dict[str, str]) -> Any:
    # gc=False: the structs hold only JSON values (no cycles), and a batch allocates
    # thousands of them; forbid_unknown_fields: see the module docstring.
    return msgspec.defstruct(name, fields, rename=rename, forbid_unknown_fields=True, gc=False)


class TypedBatchDecoder:
    """:class:`BatchDecoder` with the typed fast path; :meth:`use` sets the columns."""

    def __init__(self, decoder: Decoder) -> None:
        self._batch = BatchDecoder(decoder)
        self._s = decoder.settings
        self.schema: TypedSchema | None = None
        self._columns: dict[str, Kind] | None = None
        self._unknown: tuple[set[str], set[str]] = (set(), set())
        self._next: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        self._skip = self._misses = 0

    def use(self, columns: Mapping[str, Kind]) -> TypedSchema | None:
        """The schema of ``columns`` (rebuilt only when they change); None when the
        typed path is off (flat layout, colliding names)."""
        if self._columns is None or columns != self._columns:
            self._columns = dict(columns)
            self._unknown[0].clear()
            self._unknown[1].clear()
            self._next = None
            self._skip = self._misses = 0
            self._build((), ())
        return self.schema

    def _build(self, extra: tuple[str, ...], extra_features: tuple[str, ...]) -> None:
        self.schema = None
        if self._s.layout == "nested" and self._columns is not None:
            try:
                self.schema = TypedSchema(self._columns, self._s, extra, extra_features)
            except (ValueError, TypeError):
                self.schema = None

    def decode(
        self, values: list[bytes | None], timestamps_ms: npt.NDArray[np.int64], now: float
    ) -> Envelopes:
        """The envelopes of ``values`` as :meth:`BatchDecoder.decode` gives them, with
        ``typed[i]`` True where ``features[i]`` is a features struct (its ``objects[i]``
        is then an empty dict)."""
        if self._next is not None:  # names learned in the last batch
            self._build(*self._next)
            self._next = None
        schema = self.schema
        n = len(values)
        if schema is None or n == 0 or self._skip > 0:
            self._skip = max(0, self._skip - 1)
            return self._batch.decode(values, timestamps_ms, now)
        dec = schema.decoder.decode
        envs: list[Any]
        try:
            if max(map(len, values)) > self._s.max_event_bytes:  # type: ignore[arg-type]
                raise TypeError
            envs = list(map(dec, values))  # type: ignore[arg-type]
        except _REFUSED:
            envs = [self._one(dec, v) for v in values]
            self._learn(schema)
        typed = np.ones(n, dtype=np.bool_)
        if envs.count(None):
            typed[:] = [e is not None for e in envs]
            envs = [e if e is not None else _NONE_ENVELOPE for e in envs]
        models: list[Any] = list(map(_MODEL, envs))
        features: list[Any] = list(map(_FEATURES, envs))
        predictions: list[Any] = list(map(_PREDICTION, envs))
        ids: list[Any] = list(map(_ID, envs))
        ts = self._check(
            schema, envs, models, features, predictions, ids, typed, timestamps_ms, now
        )
        self._back_off(typed)
        objects: list[Any] = [{}] * n
        ok = np.ones(n, dtype=np.bool_)
        if not typed.all():
            slow = np.flatnonzero(~typed)
            sub = self._batch.decode([values[j] for j in slow.tolist()], timestamps_ms[slow], now)
            ok[slow] = sub.ok
            ts[slow] = sub.timestamps
            for k, j in enumerate(slow.tolist()):
                models[j], ids[j], features[j] = sub.models[k], sub.event_ids[k], sub.features[k]
                predictions[j], objects[j] = sub.predictions[k], sub.objects[k]
        return Envelopes(ok, models, ts, ids, features, predictions, objects, typed)

    def _back_off(self, typed: npt.NDArray[np.bool_]) -> None:
        """After a large batch the types hardly fit (under 1/8 typed) and nothing new was
        learned: the next 2, 4, ... (at most :data:`MAX_SKIP`) batches go straight to
        :class:`BatchDecoder` (a stream the types never fit costs no second parse)."""
        n = len(typed)
        if n >= 64 and self._next is None and int(np.count_nonzero(typed)) * 8 < n:
            self._misses += 1
            self._skip = min(2**self._misses, MAX_SKIP)
        elif n >= 64:
            self._misses = 0

    def _one(self, dec: Any, value: bytes | None) -> Any:
        """One value's envelope; None where msgspec refuses it (the unknown field names
        it names are noted for :meth:`_learn`)."""
        if value is None or len(value) > self._s.max_event_bytes:
            return None
        try:
            return dec(value)
        except msgspec.ValidationError as exc:
            m = _UNKNOWN.fullmatch(str(exc))
            if m is not None and len(self._unknown[0]) + len(self._unknown[1]) < 4 * MAX_EXTRA:
                self._unknown[m.group(2) is not None].add(m.group(1))
            return None
        except _REFUSED:
            return None

    def _learn(self, schema: TypedSchema) -> None:
        """Add the unknown names seen (up to :data:`MAX_EXTRA` per level) to the type
        from the next batch on (this batch's structs are of ``schema``)."""
        top, feats = self._unknown
        extra = tuple(sorted(top))[:MAX_EXTRA]
        extra_features = tuple(sorted(feats - set(schema.columns)))[:MAX_EXTRA]
        if extra != schema.extra or extra_features != schema.extra_features:
            self._next = (extra, extra_features)

    def _check(
        self,
        schema: TypedSchema,
        envs: list[Any],
        models: list[str],
        features: list[Any],
        predictions: list[Any],
        ids: list[Any],
        typed: npt.NDArray[np.bool_],
        timestamps_ms: npt.NDArray[np.int64],
        now: float,
    ) -> npt.NDArray[np.float64]:
        """Event times (epoch s; garbage where not typed); ``typed`` set False where
        orjson could read a value differently or the batch checks refuse the envelope
        (then :class:`BatchDecoder` takes the record). An integer event id becomes its
        string, as :meth:`Decoder.decode_object` makes it."""
        if not set(map(type, ids)) <= _ID_TYPES:
            for i, v in enumerate(ids):
                if type(v) is int:
                    if _INT_MIN <= v <= _INT_MAX:
                        ids[i] = str(v)
                    else:
                        typed[i] = False
        if max(map(len, models)) > _MAX_MODEL_LEN or min(map(len, models)) == 0:
            typed &= [0 < len(m) <= _MAX_MODEL_LEN for m in models]
        raw_ts = list(map(_TIMESTAMP, envs))
        untyped = [raw_ts, predictions]
        untyped += [list(map(attrgetter(a), envs)) for a in schema.envelope_loose]
        untyped += [list(map(attrgetter(a), features)) for a in schema.loose]
        for col in untyped:
            if not all_safe(col):
                typed &= orjson_safe(col)
        if not typed.all():  # only values that orjson reads alike reach numpy
            raw_ts = [t if g else 0.0 for t, g in zip(raw_ts, typed.tolist(), strict=True)]
        good = typed.copy()
        ts = self._batch._timestamps(raw_ts, timestamps_ms, now, good)
        typed &= good
        return ts


class _NoEnvelope:
    """Stands in for a refused value's envelope in :meth:`TypedBatchDecoder._check`."""

    __slots__ = ()
    model = "-"
    features = None
    event_id = None
    timestamp = 0.0
    prediction = None
    label = None

    def __getattr__(self, name: str) -> None:
        return None


_NONE_ENVELOPE = _NoEnvelope()
_NoEnvelope.features = _NONE_ENVELOPE  # type: ignore[assignment]  # any attribute: None
_MODEL = attrgetter("model")
_ID = attrgetter("event_id")
_FEATURES = attrgetter("features")
_PREDICTION = attrgetter("prediction")
_TIMESTAMP = attrgetter("timestamp")
