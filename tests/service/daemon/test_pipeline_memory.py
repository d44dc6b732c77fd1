"""The daemon's pipeline end to end on an in-memory source: drift, invalid events,
commit positions, and recovery after a simulated crash."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from drift_monitor.clock import ManualClock
from drift_monitor.config import AppConfig
from drift_monitor.daemon import Monitor
from drift_monitor.http.server import MonitorHttpServer
from drift_monitor.sinks.metrics import build_registry
from drift_monitor.source.memory import MemoryDeadLetters, MemorySource
from drift_monitor.status.state import MonitorState
from tests.service.daemon.support import T0, run, stream


def audit_ids(path: Path) -> list[str]:
    return [i for line in path.read_text().splitlines() for i in json.loads(line)["ids"]]


def test_drift_invalid_and_commit(setup: tuple[AppConfig, Path]) -> None:
    cfg, _ = setup
    src, dlq = MemorySource(), MemoryDeadLetters()
    clock = ManualClock(T0 + 3600)  # a replay: processing time is after event time
    mon = Monitor(cfg, src, clock=clock, dead_letters=dlq, serve_http=False)
    events = stream(6000, drift_from=3600)  # 300 s: windows of 60 s = 1200 events each
    for v in events[:3000]:
        src.append("t", v, key=b"m")
    ts = str(T0 + 100).encode()
    for bad in (
        b"{",
        b'{"model": "m", "timestamp": ' + ts + b', "features": {"x": "NaN?"}}',
        b'{"model": "zz", "timestamp": ' + ts + b', "features": {}}',
    ):
        src.append("t", bad)
    for v in events[3000:]:
        src.append("t", v, key=b"m")
    run(mon)
    reg = mon.registry
    assert (
        reg.get_sample_value("drift_monitor_events_total", {"model": "m", "outcome": "accepted"})
        == 6000
    )
    assert reg.get_sample_value("drift_monitor_invalid_events_total", {"reason": "bad_json"}) == 1
    assert reg.get_sample_value("drift_monitor_invalid_events_total", {"reason": "wrong_type"}) == 1
    assert (
        reg.get_sample_value(
            "drift_monitor_events_total", {"model": "-", "outcome": "unknown_model"}
        )
        == 1
    )
    assert sorted(r for _, r, _ in dlq.records) == ["bad_json", "unknown_model", "wrong_type"]
    # windows [0,60) .. [180,240) closed; the last (drifted) window is still open
    status = {
        c: reg.get_sample_value("drift_monitor_feature_status", {"model": "m", "feature": c})
        for c in ("x", "y", "c", "score")
    }
    assert status == {"x": 2, "y": 0, "c": 0, "score": 0}
    mon.commit()
    committed = src.committed(("t", 0))
    assert committed is not None
    # the open window's first event is offset 4800 + 3 invalid records before it
    assert committed.offset == 4803
    meta = json.loads(committed.metadata)
    assert meta["closed"]["m"] == T0 + 240 and meta["hw"] == 6003


def test_crash_and_restart_loses_nothing(setup: tuple[AppConfig, Path]) -> None:
    cfg, tmp = setup
    src = MemorySource()
    events = stream(6000, drift_from=10**9)
    for v in events:
        src.append("t", v, key=b"m")
    clock = ManualClock(T0 + 3600)  # a replay: processing time is after event time
    first = Monitor(cfg, src, clock=clock, serve_http=False)
    for _ in range(2):  # partial consumption, then a commit, then "SIGKILL"
        first.run_once()
    first.commit()
    assert first.audit is not None
    first.audit.sync()  # what a crash leaves on disk
    # restart: a new process reads from the committed offset
    committed = src.committed(("t", 0))
    assert committed is not None
    src.seek(("t", 0), committed.offset)
    second = Monitor(cfg, src, clock=clock, serve_http=False)
    run(second)
    clock.advance(10)
    second.run_once()
    second.pipeline.tick()  # idle timeout closes the last window
    assert second.audit is not None
    second.audit.sync()
    ids = audit_ids(tmp / "state" / "windows-audit.jsonl")
    assert set(ids) == {f"e{i}" for i in range(6000)}  # missing == 0
    assert len(ids) - len(set(ids)) == 0  # this crash point leaves no duplicates


def test_idle_clock_pauses_while_the_source_is_down(setup: tuple[AppConfig, Path]) -> None:
    cfg, _ = setup
    src = MemorySource()
    for v in stream(100, drift_from=10**9):
        src.append("t", v, key=b"m")
    clock = ManualClock(T0)
    mon = Monitor(cfg, src, clock=clock, serve_http=False)
    run(mon, 3)
    pipeline = mon.pipeline
    clock.advance(30)  # far past the 5 s idle timeout, but the brokers are down
    assert pipeline.tick(source_up=False) == 0
    # back up: producers may now deliver what they buffered; the idle clock restarted
    assert pipeline.tick(source_up=True) == 0
    clock.advance(5)
    assert pipeline.tick(source_up=True) == 1


def test_healthz_fails_when_the_consume_loop_is_stuck() -> None:
    clock = ManualClock(100.0)
    state = MonitorState(["m"], {}, monotonic=clock.now)
    registry = build_registry(state)
    server = MonitorHttpServer("127.0.0.1", 0, registry, state, liveness_timeout=120)
    server.start()
    try:

        def healthz() -> int:
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=5) as r:
                    return int(r.status)
            except urllib.error.HTTPError as e:
                return int(e.code)

        clock.advance(119)
        assert healthz() == 200
        clock.advance(2)  # a poll() that never returns: no beat for 121 s
        assert healthz() == 503
        state.beat()
        assert healthz() == 200
    finally:
        server.stop()
