"""Hostile record generator shared by the resilience tests (in memory and on Kafka)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

KINDS = (
    "random_bytes",
    "invalid_utf8",
    "truncated_json",
    "deeply_nested",
    "wrong_types",
    "non_finite",
    "huge_string",
    "huge_array",
    "unknown_model",
    "unknown_features",
    "missing_fields",
    "extra_fields",
    "far_past",
    "far_future",
    "bad_escape",
    "not_object",
)


def _valid(rng: random.Random, ts_s: float) -> dict[str, Any]:
    return {
        "model": "m",
        "event_id": f"fz{rng.getrandbits(48):x}",
        "timestamp": ts_s,
        "features": {"x": rng.gauss(0, 1), "y": rng.expovariate(1.0), "c": rng.choice("abc")},
        "prediction": rng.random(),
    }


def hostile(rng: random.Random, kind: str, ts_s: float, max_bytes: int) -> bytes:
    """One hostile record of ``kind`` (see KINDS); ``ts_s`` = the record time."""
    ev = _valid(rng, ts_s)
    makers: dict[str, Callable[[], bytes]] = {
        "random_bytes": lambda: rng.randbytes(rng.randint(0, 300)),
        "invalid_utf8": lambda: orjson.dumps(ev)[:-3] + b'\xff\xfe"}',
        "truncated_json": lambda: orjson.dumps(ev)[: rng.randint(1, 60)],
        "deeply_nested": lambda: (
            b'{"model":"m","features":{"x":' + b"[" * 3000 + b"]" * 3000 + b"}}"
        ),
        "wrong_types": lambda: orjson.dumps(
            {**ev, "features": {"x": rng.choice(["1.5", True, [1], {"a": 1}]), "c": "a"}}
        ),
        "non_finite": lambda: orjson.dumps(ev).replace(b'"y":', b'"y":1e999,"_":', 1),
        # built by concatenation: orjson.dumps over-allocates large outputs (~1 MB each)
        "huge_string": lambda: orjson.dumps(ev)[:-1] + b',"blob":"' + b"A" * max_bytes + b'"}',
        "huge_array": lambda: (
            b'{"model":"m","features":{"x":[' + b",".join(b"%d" % i for i in range(5_000)) + b"]}}"
        ),
        "unknown_model": lambda: orjson.dumps({**ev, "model": f"zz{rng.randint(0, 10**9)}"}),
        "unknown_features": lambda: orjson.dumps(
            {**ev, "features": {**ev["features"], f"f{rng.randint(0, 10**9)}": 1}}
        ),
        "missing_fields": lambda: orjson.dumps({"model": "m", "timestamp": ts_s}),
        "extra_fields": lambda: orjson.dumps({**ev, "surprise": {"a": [1, 2, 3]}}),
        "far_past": lambda: orjson.dumps({**ev, "timestamp": "1971-01-01T00:00:00Z"}),
        "far_future": lambda: orjson.dumps({**ev, "timestamp": "2999-01-01T00:00:00Z"}),
        "bad_escape": lambda: b'{"model":"m","features":{"c":"\\ud800"}}',
        "not_object": lambda: orjson.dumps(rng.choice([[1, 2], "str", 42, None])),
    }
    return makers[kind]()


#: Kinds that are still valid events (accepted, or late) rather than invalid.
VALID_KINDS = frozenset({"unknown_features", "extra_fields", "far_past"})


def valid_event(rng: random.Random, ts_s: float, i: int) -> bytes:
    """A valid event with a unique id ``v<i>``."""
    ev = _valid(rng, ts_s)
    ev["event_id"] = f"v{i}"
    return orjson.dumps(ev)
