"""Malformed records among valid ones: each is counted by reason, copied to the
dead-letter topic with the reason header, and never disturbs the valid events."""

from __future__ import annotations

import copy
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from tests.services.daemon import DaemonProcess, Metrics, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import encode, iso, produce, read_topic, timed_events, window_start

pytestmark = pytest.mark.kafka

MODEL = "credit"
KEY = MODEL.encode()
MAX_EVENT_BYTES = 2048
N_VALID = 600


@dataclass(frozen=True)
class Bad:
    """A malformed record, the reason it must be rejected with, and the
    ``events_total`` labels it must be counted under."""

    key: bytes | None
    value: bytes | None
    reason: str
    model: str = "-"  # the model label: known once the event decoded
    outcome: str = "invalid"


def _bad_records(template: dict[str, Any]) -> list[Bad]:
    n = 0

    def variant(**changes: Any) -> bytes:
        nonlocal n
        n += 1
        ev = copy.deepcopy(template)
        ev["event_id"] = f"bad-{n}"
        for k, v in changes.items():
            if k.startswith("f_"):
                ev["features"][k[2:]] = v
            elif v is _DROP:
                del ev[k]
            else:
                ev[k] = v
        return orjson.dumps(ev)

    def age(literal: bytes) -> bytes:
        return variant(f_age=1).replace(b'"age":1', b'"age":' + literal)

    return [
        Bad(KEY, b'{"model": "credit", "features": {"age": 4', "bad_json"),
        Bad(KEY, b"not json at all", "bad_json"),
        Bad(KEY, b'{"model": "credit", "features": {"state": "\xff\xfe"}}', "not_utf8"),
        Bad(KEY, b"\xc3\x28[1, 2]", "not_utf8"),
        Bad(KEY, b'[{"model": "credit"}]', "not_object"),
        Bad(KEY, b'"credit"', "not_object"),
        Bad(KEY, None, "not_object"),  # a tombstone
        Bad(None, variant(model=_DROP), "missing_model"),
        Bad(KEY, variant(model=42), "bad_model"),
        Bad(KEY, variant(features=_DROP), "missing_features"),
        Bad(KEY, variant(features=[1, 2]), "wrong_type"),
        Bad(KEY, variant(f_annual_income="52000"), "wrong_type", MODEL),
        Bad(KEY, variant(f_age=True), "wrong_type", MODEL),
        Bad(KEY, variant(f_state={"code": "CA"}), "wrong_type", MODEL),
        Bad(KEY, variant(prediction="0.3"), "wrong_type", MODEL),
        # NaN is not JSON at all; 1e400 is JSON that no double can hold.
        Bad(KEY, age(b"NaN"), "bad_json"),
        Bad(KEY, age(b"1e400"), "non_finite"),
        Bad(KEY, age(b"-1e999"), "non_finite"),
        Bad(KEY, variant(timestamp="yesterday"), "bad_timestamp"),
        Bad(KEY, variant(timestamp=-5), "bad_timestamp"),
        Bad(KEY, variant(timestamp=[2026]), "bad_timestamp"),
        Bad(KEY, variant(timestamp=iso(time.time() + 3 * 3600)), "future_timestamp"),
        Bad(b"nobody", variant(model="nobody"), "unknown_model", "-", "unknown_model"),
        Bad(KEY, variant(f_state="x" * MAX_EVENT_BYTES), "too_large"),
    ]


_DROP = object()


def test_invalid_events_counted_and_dead_lettered(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
) -> None:
    topic, dlq = unique("invalid"), unique("invalid-dlq")
    kafka_broker.create_topic(topic)
    kafka_broker.create_topic(dlq)
    d = topic_daemon(
        "invalid",
        topic,
        [MODEL],
        dead_letter_topic=dlq,
        max_event_bytes=MAX_EVENT_BYTES,
    ).start()

    t0 = window_start()
    valid = timed_events(MODEL, N_VALID, t0, seed=7, spacing=0.05)
    # Valid edge cases: a huge but finite number, an epoch-ms timestamp, missing values.
    valid[10]["features"]["annual_income"] = 1e300
    valid[11]["timestamp"] = int(t0 * 1000) + 550
    valid[12]["features"]["credit_score"] = None
    del valid[13]["features"]["age"]
    bad = _bad_records(valid[0])

    records: list[tuple[bytes | None, bytes | None]] = [(KEY, v) for v in encode(valid)]
    rng = random.Random(3)
    for b in bad:
        records.insert(rng.randrange(len(records) + 1), (b.key, b.value))
    produce(kafka_broker.bootstrap, topic, [v for _, v in records], [k for k, _ in records])

    def counted() -> Metrics | None:
        m = d.metrics()
        done = m.total("drift_monitor_events_total") >= len(records)
        return m if done and m.get("drift_monitor_window_events", model=MODEL) else None

    m = wait_for(counted, 60, "every record counted and the window closed", on_timeout=d.log_tail)
    want_reasons = Counter(b.reason for b in bad if b.outcome == "invalid")
    assert m.by_label("drift_monitor_invalid_events_total", "reason") == dict(want_reasons)
    want_events = Counter((b.model, b.outcome) for b in bad) + Counter(
        {(MODEL, "accepted"): N_VALID}
    )
    got_events = {
        (lab["model"], lab["outcome"]): v for lab, v in m.select("drift_monitor_events_total")
    }
    assert got_events == dict(want_events)
    assert m.get("drift_monitor_window_events", model=MODEL) == N_VALID
    assert m.get("drift_monitor_feature_missing_ratio", model=MODEL, feature="age") == (
        pytest.approx(1 / N_VALID)
    )

    dead = read_topic(kafka_broker.bootstrap, dlq, len(bad))
    got: Counter[tuple[bytes | None, str]] = Counter()
    for r in dead:
        headers = dict(r.headers)
        src_topic, _, src_offset = headers["drift-monitor-source"].decode().partition("@")
        assert src_topic == f"{topic}/0"
        assert records[int(src_offset)] == (r.key, r.value), "DLQ copy differs from the record"
        assert headers["drift-monitor-detail"], headers
        got[(r.value, headers["drift-monitor-reason"].decode())] += 1
    assert got == Counter((b.value, b.reason) for b in bad)

    doc = d.status()
    assert doc["invalid_reasons"] == dict(sorted(want_reasons.items()))
    assert doc["models"][MODEL]["events"] == {
        o: int(n) for (model, o), n in want_events.items() if model == MODEL
    }
    d.sigterm()
