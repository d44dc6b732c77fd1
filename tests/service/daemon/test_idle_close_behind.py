"""A model whose partition still holds unread records is behind, not idle: the idle
timeout must not close its open window (the crash-loop test found it losing events).

While the consumer catches up (after a restart, say) it can serve other partitions for
longer than ``idle_timeout_seconds``; closing the starved model's window then would
turn the rest of its events into ``late`` ones, dropped. In memory, on the daemon's
own loop: partition 0 (model ``a``) is served first, 100 records a poll, while model
``b``'s open window waits on partition 1 for 30 s of processing time.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import Record
from drift_monitor.source.memory import MemorySource
from tests.system.resilience.kafka_support import event, write_baselines

E0 = 1_764_150_000.0  # event time, on a 10 s window boundary
WINDOW = {"size_seconds": 10, "allowed_lateness_seconds": 0.5, "idle_timeout_seconds": 2}


def _record(partition: int, offset: int, model: str, eid: str, ts: float) -> Record:
    value = event(random.Random(offset), model, eid, ts)
    return Record("t", partition, offset, model.encode(), value, int(ts * 1000))


def test_idle_timeout_does_not_close_a_window_whose_partition_is_behind(tmp_path: Path) -> None:
    write_baselines(tmp_path / "b", ["a", "b"])
    config = validate_config(
        {
            "kafka": {"bootstrap_servers": ["memory:0"], "topics": ["t"], "max_poll_records": 100},
            "baselines": {"dir": str(tmp_path / "b")},
            "state": {"dir": str(tmp_path / "s"), "audit_windows": True},
            "models": [{"name": "a", "window": WINDOW}, {"name": "b", "window": WINDOW}],
        }
    )
    clock = ManualClock(E0 + 3600)
    src = MemorySource()
    mon = Monitor(config, src, clock=clock, serve_http=False)

    # b's window opens with 50 events (a has one event, so partition 0 is served first).
    src.feed([_record(0, 0, "a", "a0", E0)])
    src.feed([_record(1, j, "b", f"b{j}", E0 + j * 0.02) for j in range(50)])
    mon.run_once()  # the first assignment: rewind
    while src.lag() and any(src.lag().values()):
        mon.run_once()
    # Then a long backlog of a on partition 0 and the rest of b's window on partition 1.
    src.feed([_record(0, i, "a", f"a{i}", E0 + i * 0.01) for i in range(1, 3001)])
    src.feed([_record(1, j, "b", f"b{j}", E0 + j * 0.02) for j in range(50, 300)])
    src.feed([_record(1, 300, "b", "b300", E0 + 11.0)])  # closes b's window by watermark
    polls = 0
    while any(src.lag().values()):
        clock.advance(1.0)  # one second of processing time per poll: 30 s behind on b
        mon._post("tick")
        mon.run_once()
        polls += 1
    assert polls > 2 * WINDOW["idle_timeout_seconds"]
    clock.advance(WINDOW["idle_timeout_seconds"] + 1)
    mon._post("tick")
    mon.run_once()  # nothing left to read: now the idle timeout closes what is open
    assert mon.audit is not None
    mon.audit.sync()

    audit = [json.loads(line) for line in (tmp_path / "s" / "windows-audit.jsonl").open()]
    by_window = {(w["model"], w["start"] - E0): w["events"] for w in audit}
    assert by_window[("b", 0.0)] == 300, by_window
    assert by_window[("b", 10.0)] == 1
    assert [by_window[("a", s)] for s in (0.0, 10.0, 20.0)] == [1000, 1000, 1000]
    assert mon.state.snapshot().events.get(("b", "late"), 0) == 0
