"""Hostile records through the real broker: the in-memory fuzz (test_hostile_events.py)
again, end to end, with the daemon as a subprocess and a dead-letter topic.

~20 000 records of every hostile kind of ``fuzz.py`` (random bytes, invalid UTF-8,
truncated or deeply nested JSON, wrong types, non-finite numbers, oversized values,
unknown models, far-future timestamps ...) mixed into valid traffic. Afterwards:

- zero crashes: the same process is alive and nothing in its log is a traceback;
- every record has exactly one outcome in ``events_total`` (accepted, invalid,
  unknown_model, late);
- every bad record is in the dead-letter topic exactly once, unchanged, with a
  ``drift-monitor-reason`` header that fits its kind, and ``/metrics``
  (``invalid_events_total{reason}``) counts the same reasons;
- every valid event is in the window audit log.

Sizes (``DRIFT_MONITOR_RESILIENCE_SCALE``): ``ci`` 20 000 hostile records among 30 000,
``large`` 100 000 among 150 000.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

import pytest

from tests.service.daemon.fuzz import KINDS, VALID_KINDS, hostile, valid_event
from tests.services.daemon import DaemonProcess, Metrics, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import read_topic
from tests.system.resilience.kafka_support import AuditTail, report, scaled

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

N_TOTAL: int = scaled(30_000, 150_000)
N_HOSTILE: int = scaled(20_000, 100_000)
#: Below the broker's message.max.bytes (~1 MB) and the producer's max_request_size,
#: so oversized records reach the daemon (and fit in the dead-letter topic).
MAX_EVENT_BYTES = 32_768
MODEL = "m"  # fuzz.py's model
SEED = 20261127
#: The dead-letter reasons each hostile kind may get (kinds in VALID_KINDS get none).
ALLOWED: dict[str, set[str]] = {
    "random_bytes": {"not_utf8", "bad_json", "not_object"},
    "invalid_utf8": {"not_utf8"},
    "truncated_json": {"bad_json"},
    "deeply_nested": {"bad_json"},
    "wrong_types": {"wrong_type"},
    "non_finite": {"non_finite"},
    "huge_string": {"too_large"},
    "huge_array": {"wrong_type"},
    "unknown_model": {"unknown_model"},
    "missing_fields": {"missing_features"},
    "far_future": {"future_timestamp"},
    "bad_escape": {"bad_json"},
    "not_object": {"not_object"},
}


def test_hostile_records_through_kafka(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    record_property: Callable[[str, object], None],
) -> None:
    assert set(ALLOWED) | VALID_KINDS == set(KINDS)
    t_begin = time.monotonic()
    topic, dlq = unique("hostile"), unique("hostile-dlq")
    kafka_broker.create_topic(topic)
    kafka_broker.create_topic(dlq)

    rng = random.Random(SEED)
    t0 = time.time() - 2 * 3600
    values: list[bytes] = []
    kinds: list[str | None] = []  # None: a valid event
    n_valid = 0
    for i in range(N_TOTAL):
        ts = t0 + i * 0.01
        if rng.random() < N_HOSTILE / N_TOTAL:
            kind = rng.choice(KINDS)
            values.append(hostile(rng, kind, ts, MAX_EVENT_BYTES))
            kinds.append(kind)
        else:
            values.append(valid_event(rng, ts, n_valid))
            kinds.append(None)
            n_valid += 1
    by_kind = Counter(k for k in kinds if k is not None)

    d = topic_daemon(
        "hostile",
        topic,
        [MODEL],
        bootstrap=kafka_broker.bootstrap,
        window_seconds=60.0,
        allowed_lateness_seconds=5.0,
        idle_timeout_seconds=2.0,
        audit_windows=True,
        dead_letter_topic=dlq,
        max_event_bytes=MAX_EVENT_BYTES,
    ).start()
    pid = d.proc.pid if d.proc else None
    audit = AuditTail(d.audit_path)

    t_produce = time.monotonic()
    meta = kafka_broker.produce(topic, values, keys=[MODEL.encode()] * N_TOTAL, timeout_s=120)
    offsets = [m.offset for m in meta]
    assert offsets == list(range(N_TOTAL))
    t_produced = time.monotonic()

    def all_counted() -> Metrics | None:
        m = d.metrics()
        return m if m.total("drift_monitor_events_total") >= N_TOTAL else None

    m = wait_for(all_counted, 120, f"{N_TOTAL} records counted", on_timeout=d.log_tail)
    valid_ids = {f"v{i}" for i in range(n_valid)}
    audit.wait_covers(valid_ids, 60, "every valid event in the audit log", log_tail=d.log_tail)
    t_consumed = time.monotonic()
    expected_bad = sum(n for k, n in by_kind.items() if k not in VALID_KINDS)
    dead = read_topic(kafka_broker.bootstrap, dlq, expected_bad, timeout=120)
    m = d.metrics()
    assert d.running() and d.proc is not None and d.proc.pid == pid, "the daemon crashed"
    d.sigterm()
    log_text = d.log_path.read_text(errors="replace")

    # -- one outcome per record --------------------------------------------------------
    outcomes = {
        o: int(m.total("drift_monitor_events_total", outcome=o))
        for o in ("accepted", "invalid", "unknown_model", "late")
    }
    invalid_reasons = {
        k: int(v) for k, v in m.by_label("drift_monitor_invalid_events_total", "reason").items()
    }
    # -- the dead letters: each bad record once, unchanged, with a fitting reason ------
    dlq_reasons: Counter[str] = Counter()
    outcome_by_kind: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    seen: Counter[int] = Counter()
    wrong: list[tuple[int, str | None, str]] = []
    for r in dead:
        headers = dict(r.headers)
        reason = headers["drift-monitor-reason"].decode()
        src = headers["drift-monitor-source"].decode()
        assert src.startswith(f"{topic}/0@"), src
        off = int(src.rpartition("@")[2])
        seen[off] += 1
        assert r.value == values[off], f"dead letter of offset {off} differs from the record"
        assert r.key == MODEL.encode()
        dlq_reasons[reason] += 1
        sent_kind = kinds[off]
        if sent_kind is None or reason not in ALLOWED.get(sent_kind, set()):
            wrong.append((off, sent_kind, reason))
        if sent_kind is not None:
            outcome_by_kind[sent_kind][reason] += 1
    for kind in VALID_KINDS:
        outcome_by_kind[kind]["accepted or late"] = by_kind[kind]

    summary = {
        "records": N_TOTAL,
        "hostile": sum(by_kind.values()),
        "hostile_valid_kinds": sum(by_kind[k] for k in VALID_KINDS),
        "valid": n_valid,
        "outcomes": outcomes,
        "invalid_by_reason": invalid_reasons,
        "dead_letters": len(dead),
        "dead_letters_by_reason": dict(dlq_reasons),
        "valid_audited": len(valid_ids & audit.ids.keys()),
        "produce_s": round(t_produced - t_produce, 1),
        "consume_s": round(t_consumed - t_produced, 1),
        "total_s": round(time.monotonic() - t_begin, 1),
    }
    record_property("hostile_kafka", report("hostile_kafka", summary))
    print("outcome by kind: " + "; ".join(f"{k}: {dict(v)}" for k, v in outcome_by_kind.items()))

    assert "Traceback" not in log_text
    assert sum(outcomes.values()) == N_TOTAL
    assert outcomes["invalid"] + outcomes["unknown_model"] == expected_bad
    assert len(dead) == expected_bad and set(seen.values()) == {1}
    assert not wrong, f"{len(wrong)} dead letters with an unexpected reason: {wrong[:10]}"
    assert invalid_reasons == {r: n for r, n in dlq_reasons.items() if r != "unknown_model"}
    assert dlq_reasons["unknown_model"] == outcomes["unknown_model"] == by_kind["unknown_model"]
    assert all(audit.ids[i] == 1 for i in valid_ids)
