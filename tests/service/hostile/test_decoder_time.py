"""Item 3 and 8 of issue 12: event time is bounded by the wall clock and a sane range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config.models import DecodeSettings
from drift_monitor.daemon import Monitor
from drift_monitor.decode import INVALID_REASONS, Decoder
from drift_monitor.errors import EventError
from drift_monitor.source.memory import MemoryDeadLetters, MemorySource
from tests.service.daemon.support import T0, make_setup, run, stream

NOW = T0 + 3600.0  # processing time: an hour after the stream starts


def decoder(clock: ManualClock, **settings: float) -> Decoder:
    return Decoder(DecodeSettings(**settings), clock=clock)  # type: ignore[arg-type]


def event(ts: object | None) -> bytes:
    ev: dict[str, object] = {"model": "m", "features": {"x": 1.0}}
    if ts is not None:
        ev["timestamp"] = ts
    return orjson.dumps(ev)


def reason(d: Decoder, value: bytes, record_ms: int) -> str:
    with pytest.raises(EventError) as err:
        d.decode(value, None, "t", record_ms)
    assert err.value.reason in INVALID_REASONS
    return err.value.reason


def test_an_hour_ahead_of_the_wall_clock_is_future_even_when_the_record_agrees() -> None:
    # The attack: the producer stamps the record itself now+55 min (the broker accepts it).
    clock = ManualClock(NOW)
    ahead = NOW + 55 * 60
    d = decoder(clock)
    assert reason(d, event(ahead), int(ahead * 1000)) == "future_timestamp"
    # No timestamp field: the record timestamp is the event time, bounded the same way.
    assert reason(d, event(None), int(ahead * 1000)) == "future_timestamp"


def test_small_skew_is_accepted_and_the_bound_is_configurable() -> None:
    clock = ManualClock(NOW)
    d = decoder(clock)
    assert d.decode(event(NOW + 100), None, "t", int((NOW + 100) * 1000)).timestamp == NOW + 100
    assert d.decode(event(NOW - 86400), None, "t", int(NOW * 1000)).timestamp == NOW - 86400
    assert reason(d, event(NOW + 121), int((NOW + 121) * 1000)) == "future_timestamp"
    wide = decoder(clock, max_future_seconds=3600)
    assert wide.decode(event(NOW + 3000), None, "t", int((NOW + 3000) * 1000)).timestamp > NOW
    clock.advance(3000)  # the clock catches up: the same event is now on time
    assert d.decode(event(NOW + 3000), None, "t", int(NOW * 1000 + 3e6)).timestamp > NOW


@pytest.mark.parametrize(
    "ts",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
        "2200-01-01T00:00:00Z",
        1e20,  # epoch ms -> 1e17 s
    ],
)
def test_timestamps_outside_the_sane_range_are_invalid(ts: object) -> None:
    # A clock far ahead so that only the range can reject the far-future ones.
    clock = ManualClock(dt.datetime(9999, 1, 1, tzinfo=dt.UTC).timestamp())
    d = decoder(clock, max_future_seconds=1e18)
    assert reason(d, event(ts), -1) == "timestamp_out_of_range"


def test_range_edges_are_valid() -> None:
    clock = ManualClock(dt.datetime(2300, 1, 1, tzinfo=dt.UTC).timestamp())
    d = decoder(clock)
    assert d.decode(event("1970-01-01T00:00:00Z"), None, "t", -1).timestamp == 0.0
    edge = d.decode(event("2199-12-31T23:59:59Z"), None, "t", -1).timestamp
    assert edge == dt.datetime(2199, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()


def test_year_one_events_in_the_daemon_are_counted_not_fatal(tmp_path: Path) -> None:
    # A drifted burst stamped in year 1 (+14:00, i.e. year 0 in UTC): before the range
    # check it filled a window that alerted, and opening the incident crashed the loop
    # with "year 0 is out of range".
    cfg, _ = make_setup(tmp_path)
    src, dlq = MemorySource(), MemoryDeadLetters()
    burst = 3000
    for i, v in enumerate(stream(burst, drift_from=0)):
        ev = orjson.loads(v)
        ev["timestamp"] = f"0001-01-01T00:00:{i * 0.01:09.6f}+14:00"
        src.append("t", orjson.dumps(ev), key=b"m")
    for v in stream(6000, drift_from=2400):
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(NOW), dead_letters=dlq, serve_http=False)
    run(mon)
    reg = mon.registry
    got = reg.get_sample_value(
        "drift_monitor_invalid_events_total", {"reason": "timestamp_out_of_range"}
    )
    assert got == burst
    assert {r for _, r, _ in dlq.records} == {"timestamp_out_of_range"}
    assert reg.get_sample_value("drift_monitor_model_status", {"model": "m"}) == 2
    accepted = {"model": "m", "outcome": "accepted"}
    assert reg.get_sample_value("drift_monitor_events_total", accepted) == 6000


def test_one_event_an_hour_ahead_does_not_make_later_events_late(tmp_path: Path) -> None:
    # The attack of item 3: one record stamped now+55 min (event and record timestamp
    # agree, the broker accepts it) used to pull the watermark an hour ahead, so every
    # later on-time event was `late`.
    cfg, _ = make_setup(tmp_path)
    src = MemorySource()
    events = stream(3000, drift_from=3000)
    now = T0 + 150.0  # processing time: the stream is live (3000 events = 150 s)
    ahead = now + 55 * 60
    for i, v in enumerate(events):
        if i == 1000:
            src.append("t", event(ahead), key=b"m", ts_ms=int(ahead * 1000))
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(now), serve_http=False)
    run(mon)
    reg = mon.registry
    late = reg.get_sample_value("drift_monitor_events_total", {"model": "m", "outcome": "late"})
    assert not late
    accepted = {"model": "m", "outcome": "accepted"}
    assert reg.get_sample_value("drift_monitor_events_total", accepted) == 3000
    future = {"reason": "future_timestamp"}
    assert reg.get_sample_value("drift_monitor_invalid_events_total", future) == 1
