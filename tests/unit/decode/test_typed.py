"""The typed (msgspec) batch decoder: type building, refusals, and equality with the
orjson batch decoder on hostile values (drift_monitor/decode/typed.py)."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import orjson
import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.decode.columnar import BatchDecoder, Envelopes
from drift_monitor.decode.decoder import Decoder
from drift_monitor.decode.settings import DecodeSettings
from drift_monitor.decode.typed import MAX_EXTRA, Kind, TypedBatchDecoder, TypedSchema
from drift_monitor.windows.layout import CategoricalSlot, ModelLayout
from drift_monitor.windows.typed_columns import covers, schema_columns
from tests.unit.pipeline.test_columnar_fuzz import T0, _value

NOW = T0 + 60
COLUMNS: dict[str, Kind] = {"x": "numeric", "y": "numeric", "z": "numeric"}
COLUMNS |= {"country": "categorical", "plan": "categorical", "score": "numeric", "p": "any"}


def _decoders(columns: dict[str, Kind], **settings: Any) -> tuple[TypedBatchDecoder, BatchDecoder]:
    decoder = Decoder(DecodeSettings(**settings), clock=ManualClock(NOW))
    typed = TypedBatchDecoder(decoder)
    typed.use(columns)
    return typed, BatchDecoder(decoder)


def _decode(dec: TypedBatchDecoder | BatchDecoder, values: list[bytes | None]) -> Envelopes:
    return dec.decode(values, np.full(len(values), int(NOW * 1000), dtype=np.int64), NOW)


def _same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down (-0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return math.copysign(1, a) == math.copysign(1, b) and (a == b or (a != a and b != b))
    return bool(a == b)


def _check_equal(typed: Envelopes, plain: Envelopes, schema: TypedSchema) -> int:
    """Every typed record decodes as the orjson batch decoder decodes it; the others are
    the orjson decoder's own. Returns how many were typed."""
    assert typed.typed is not None
    assert (typed.ok >= plain.ok).all()
    assert typed.timestamps[plain.ok].tobytes() == plain.timestamps[plain.ok].tobytes()
    for i in range(len(typed.ok)):
        if not typed.ok[i]:
            continue
        if not plain.ok[i]:  # an integer event id: as the per-event decoder decodes it
            assert typed.typed[i] and type(plain.event_ids[i]) is int
            plain.event_ids[i] = str(plain.event_ids[i])
            plain.ok[i] = True
            plain.features[i] = plain.objects[i]["features"]
        for a, b in (
            (typed.models[i], plain.models[i]),
            (typed.event_ids[i], plain.event_ids[i]),
            (typed.predictions[i], plain.predictions[i]),
        ):
            assert _same(a, b), (i, a, b)
        f, g = typed.features[i], plain.features[i]
        if not typed.typed[i]:
            assert _same(f, g)
            continue
        for name, kind in schema.columns.items():
            v, w = getattr(f, schema.attr[name]), g.get(name)
            if kind == "numeric" and type(w) is int:
                w = float(w)
            assert _same(v, w), (i, name, v, w)
    return int(typed.typed.sum())


@pytest.mark.parametrize("seed", range(3))
def test_hostile_values_decode_as_the_orjson_batch_decoder(seed: int) -> None:
    rng = random.Random(seed)
    typed, plain = _decoders(COLUMNS, max_event_bytes=400)
    assert typed.schema is not None
    n_typed = 0
    for _ in range(6):
        values = [_value(rng, NOW - rng.uniform(0, 30)) for _ in range(500)]
        values += [_hostile(rng) for _ in range(100)]
        schema = typed.schema
        assert schema is not None
        n_typed += _check_equal(_decode(typed, values), _decode(plain, values), schema)
    assert n_typed > 300  # the typed path took a real share


def _hostile(rng: random.Random) -> bytes:
    """A valid event with an unknown field (top level or feature) whose value orjson and
    msgspec may read differently, or a wrong type in a typed column."""
    bad = rng.choice(
        [b"1e999", b'"\xff"', b"18446744073709551616", b"-9223372036854775809", b"-0.0",
         b'[1, {"q": 1e999}]', b'{"d": [[1]]}', b'"\\ud800"', b"1" * 320, b"true", b"null",
         b"3", b'"s"', b"2.5"]
    )  # fmt: skip
    where = rng.choice(["top", "feature", "x", "country", "timestamp", "prediction", "p"])
    feats = b'"x": 1.5, "country": "US"'
    if where in ("x", "country", "p"):
        feats = b'"%s": %s' % (where.encode(), bad)
    elif where == "feature":
        feats += b', "extra": %s' % bad
    top = b', "meta": %s' % bad if where == "top" else b""
    ts = bad if where == "timestamp" else b"%d" % NOW
    pred = bad if where == "prediction" else b"0.5"
    return b'{"model": "a", "timestamp": %s, "features": {%s}, "prediction": %s%s}' % (
        ts,
        feats,
        pred,
        top,
    )


def test_renamed_envelope_and_odd_feature_names() -> None:
    columns: dict[str, Kind] = {"a b": "numeric", "": "numeric", "f0": "categorical"}
    columns |= {"日本": "categorical", "class": "numeric", "1x": "numeric"}
    typed, plain = _decoders(
        columns,
        model_field="m",
        features_field="f.eats",
        event_id_field="id",
        timestamp_field="@ts",
        prediction_field="out",
    )
    value = orjson.dumps(
        {
            "m": "a",
            "id": "e1",
            "@ts": NOW - 5,
            "out": {"score": 1},
            "f.eats": {"a b": 1, "": -0.0, "f0": "US", "日本": "x", "class": 2.5, "1x": None},
        }
    )
    env = _decode(typed, [value])
    assert env.typed is not None and env.typed.tolist() == [True]
    schema = typed.schema
    assert schema is not None
    f = env.features[0]
    got = {name: getattr(f, schema.attr[name]) for name in columns}
    assert got == {"a b": 1.0, "": -0.0, "f0": "US", "日本": "x", "class": 2.5, "1x": None}
    assert math.copysign(1, got[""]) == -1
    assert (env.models[0], env.event_ids[0], env.predictions[0]) == ("a", "e1", {"score": 1})
    assert env.timestamps.tolist() == [NOW - 5]
    _check_equal(env, _decode(plain, [value]), schema)
    # the default names are unknown fields now: not typed, decoded as before
    old = orjson.dumps({"model": "a", "features": {"a b": 1}})
    env = _decode(typed, [old])
    assert env.typed is not None and env.typed.tolist() == [False]
    assert env.ok.tolist() == _decode(plain, [old]).ok.tolist() == [False]


def test_integer_event_ids_become_strings() -> None:
    typed, _ = _decoders(COLUMNS)
    values: list[bytes | None] = [
        b'{"model": "a", "event_id": %d, "features": {}}' % i for i in (7, -(2**63), 2**64 - 1, 0)
    ]
    env = _decode(typed, values)
    assert env.typed is not None and env.typed.all() and env.ok.all()
    assert env.event_ids == ["7", str(-(2**63)), str(2**64 - 1), "0"]
    decoder = Decoder(DecodeSettings(), clock=ManualClock(NOW))
    ms = int(NOW * 1000)
    assert [decoder.decode(v, None, "t", ms).event_id for v in values] == env.event_ids


def test_a_stream_the_types_do_not_fit_backs_off() -> None:
    typed, plain = _decoders(COLUMNS)
    bad: list[bytes | None] = [b'{"model": "a", "features": {"x": true}}'] * 64
    good: list[bytes | None] = [b'{"model": "a", "features": {"x": 1}}'] * 64
    shares = []
    for _ in range(8):
        env = _decode(typed, bad)
        assert env.ok.tolist() == _decode(plain, bad).ok.tolist()
        shares.append(env.typed is not None)
    # tried, skipped 2, tried, skipped 4 (the untyped path gives typed None)
    assert shares == [True, False, False, True, False, False, False, False]
    while typed._skip:
        _decode(typed, good)
    env = _decode(typed, good)
    assert env.typed is not None and env.typed.all()


def test_colliding_settings_turn_the_typed_path_off() -> None:
    typed, plain = _decoders(COLUMNS, timestamp_field="event_id")
    assert typed.schema is None
    values: list[bytes | None] = [b'{"model": "a", "features": {}, "event_id": "e"}']
    env = _decode(typed, values)
    assert env.typed is None and env.ok.tolist() == _decode(plain, values).ok.tolist()


def test_flat_layout_is_never_typed() -> None:
    typed, plain = _decoders(COLUMNS, layout="flat")
    assert typed.schema is None
    values: list[bytes | None] = [b'{"model": "a", "x": 1}']
    assert _decode(typed, values).ok.tolist() == _decode(plain, values).ok.tolist() == [False]


@pytest.mark.parametrize(
    "value",
    [
        None,  # tombstone
        b'{"model": "a", "features": {"x": true}}',  # bool in a numeric column
        b'{"model": "a", "features": {"country": 3}}',  # number in a categorical one
        b'{"model": "a", "event_id": true, "features": {}}',  # a bool event id
        b'{"model": "a", "event_id": 18446744073709551616, "features": {}}',  # > 64 bits
        b'{"model": "a"}',  # no features (maybe a label-only event)
        b'{"features": {}}',  # no model: the record key's, per event
        b'{"model": "a", "features": {"x": 1e999}}',
        b'{"model": "a", "features": {}, "pad": "' + b"x" * 400 + b'"}',  # too large
        b'{"model": "", "features": {}}',
        b'{"model": "a", "timestamp": 1e300, "features": {}}',
        b'{"model": "a", "features": {}} x',
    ],
)
def test_refused_values_go_to_the_orjson_batch_decoder(value: bytes | None) -> None:
    typed, plain = _decoders(COLUMNS, max_event_bytes=400)
    good = b'{"model": "a", "features": {"x": 1}}'
    env = _decode(typed, [good, value, good])
    assert env.typed is not None and env.typed.tolist() == [True, False, True]
    ref = _decode(plain, [good, value, good])
    assert env.ok.tolist() == ref.ok.tolist()
    assert env.objects[1] == ref.objects[1] and env.features[1] == ref.features[1]


def test_unknown_names_are_learned_for_the_next_batch() -> None:
    typed, plain = _decoders(COLUMNS)
    first = typed.schema
    values: list[bytes | None] = [
        b'{"model": "a", "features": {"x": 1, "new": 2}, "label": 1, "meta": {"k": "v"}}'
    ] * 3
    env = _decode(typed, values)
    assert env.typed is not None and not env.typed.any()  # this batch: as before
    assert typed.schema is first
    # msgspec names the first unknown field of a value: one name per batch here
    env = _decode(typed, values)
    assert env.typed is not None and not env.typed.any()
    env = _decode(typed, values)
    assert env.typed is not None and env.typed.all()
    schema = typed.schema
    assert schema is not None and schema is not first
    assert schema.extra == ("meta",) and schema.extra_features == ("new",)
    _check_equal(env, _decode(plain, values), schema)
    # a learned field is checked as any untyped value: orjson refuses 1e999
    bad: list[bytes | None] = [b'{"model": "a", "features": {"new": 1e999}}']
    env = _decode(typed, bad)
    assert env.typed is not None and env.typed.tolist() == [False]
    assert env.ok.tolist() == [False]
    # bounded: a flood of names learns at most MAX_EXTRA of them
    flood: list[bytes | None] = [
        b'{"model": "a", "features": {}, "k%d": 1}' % i for i in range(3 * MAX_EXTRA)
    ]
    _decode(typed, flood)
    _decode(typed, flood)
    assert typed.schema is not None and len(typed.schema.extra) == MAX_EXTRA


def _layout(numeric: tuple[str, ...], categorical: tuple[str, ...]) -> ModelLayout:
    cats = tuple(CategoricalSlot(c, {"US": 0}, 1, 1) for c in categorical)
    return ModelLayout(numeric, cats, frozenset(), None)


def test_schema_columns_kind_conflicts_and_layout_changes() -> None:
    a = _layout(("x", "k"), ("c",))
    b = _layout(("x",), ("k", "c"))
    columns = schema_columns([a, b])
    assert columns == {"x": "numeric", "k": "any", "c": "categorical"}
    assert covers(columns, a) and covers(columns, b)
    assert not covers(schema_columns([a]), b)  # k is numeric there
    typed, _ = _decoders(columns)
    first = typed.schema
    assert typed.use(dict(columns)) is first  # the same columns: not rebuilt
    env = _decode(
        typed, [b'{"model": "a", "features": {"k": 1}}', b'{"model": "b", "features": {"k": "US"}}']
    )
    assert env.typed is not None and env.typed.all()
    assert first is not None
    assert [getattr(f, first.attr["k"]) for f in env.features] == [1, "US"]
    assert typed.use(schema_columns([a])) is not first  # a layout change: rebuilt
