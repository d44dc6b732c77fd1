"""The delivery invariant, one sink at a time: a sink fails at the moment a window
closes, then heals. While it fails nothing is committed past the window and the
process says so (/readyz reason, sink_up 0); afterwards there is exactly one incident
with one id, its webhook is delivered once, its report published once, every event is
counted once and every window audited once and published once to the report topic."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import drift_monitor.evaluation.episodes as episodes_module
import drift_monitor.sinks.audit as audit_module
from tests.service.daemon.sink_faults import (
    EVENTS,
    INVALID,
    WINDOW2_FIRST,
    WINDOW3_FIRST,
    FaultyDaemon,
    Switch,
    os_fault,
    raising,
    values,
)
from tests.service.daemon.support import T0


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultyDaemon]:
    d = FaultyDaemon(tmp_path, monkeypatch)
    yield d
    d.monitor.shutdown()


def _arm(
    sink: str, d: FaultyDaemon, monkeypatch: pytest.MonkeyPatch
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(arm, heal) for ``sink``."""
    if sink == "outbox":
        assert d.monitor.outbox is not None
        sw = Switch()
        monkeypatch.setattr(
            d.monitor.outbox,
            "enqueue",
            raising(sw, "outbox", str(d.monitor.outbox.path), d.monitor.outbox.enqueue),
        )
    elif sink == "episodes":
        sw = os_fault(monkeypatch, episodes_module, "fsync")
    elif sink == "audit":
        sw = os_fault(monkeypatch, audit_module, "write")
    elif sink == "metrics":
        sw = Switch()
        state = d.monitor.state
        monkeypatch.setattr(
            state, "record_result", raising(sw, "metrics", "window state", state.record_result)
        )
    elif sink in ("reports", "dead_letters", "dead_letters_send"):
        target = d.reports if sink == "reports" else d.dead_letters
        on_send = sink == "dead_letters_send"
        return (lambda: target.fail(on_send=on_send)), target.heal
    else:  # pragma: no cover
        raise AssertionError(sink)

    def arm() -> None:
        sw.armed = True

    def heal() -> None:
        sw.armed = False

    return arm, heal


SINKS = ["outbox", "episodes", "audit", "metrics", "reports", "dead_letters", "dead_letters_send"]


@pytest.mark.parametrize("sink", SINKS)
def test_a_failing_sink_holds_the_commit_then_heals_without_duplicates(
    sink: str, daemon: FaultyDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = daemon
    items = values()
    d.feed(items[:WINDOW3_FIRST])
    d.rounds(5)
    assert max(d.committed_offsets()) == WINDOW2_FIRST  # windows 0, 1 done; 2 open
    arm, heal = _arm(sink, d, monkeypatch)
    arm()
    d.feed(items[WINDOW3_FIRST:])  # its first record closes window 2 -> effects fail
    d.rounds(20)
    # -- while failing: no progress past window 2, and the process says why -----------
    failing_name = "dead_letters" if sink.startswith("dead_letters") else sink
    assert d.monitor.loop.failing or d.monitor.state.sinks.get(failing_name)
    assert max(d.committed_offsets()) == WINDOW2_FIRST
    ready, reason = d.monitor.state.ready()
    assert not ready and f"{failing_name} sink failing" in reason
    assert d.sink_up(failing_name) == 0
    if sink == "outbox":
        assert d.outbox_rows() == 0 and d.detected() == []
    # -- healed ---------------------------------------------------------------------
    heal()
    d.drain()
    assert max(d.committed_offsets()) == WINDOW3_FIRST  # window 3 still open
    assert d.monitor.state.ready() == (True, "ready")
    assert d.sink_up(failing_name) == 1
    detected = d.detected()
    assert len(detected) == 1, detected
    incident = detected[0]["id"]
    assert d.monitor.tracker.state("m").episode_id == incident
    assert d.outbox_rows() == 1
    acked = [json.loads(b) for _, b in d.reports.acked]
    assert [r["id"] for r in acked if r["type"] != "window.evaluated"] == [incident]
    # one record per evaluated window, each acknowledged once, bounds in ms
    assert [
        (r["window"]["start_ms"], r["window"]["end_ms"], r["events"])
        for r in acked
        if r["type"] == "window.evaluated"
    ] == [(round((T0 + 60 * i) * 1000), round((T0 + 60 * (i + 1)) * 1000), 1200) for i in range(3)]
    assert d.accepted() == EVENTS  # every event counted once
    assert d.invalid() == len(INVALID)
    assert sorted(r.offset for r, _, _ in d.dead_letters.acked) == [
        WINDOW3_FIRST + 1 + i for i in range(len(INVALID))
    ]
    assert d.audit_windows() == [(T0 + 60, 1200), (T0 + 120, 1200), (T0 + 180, 1200)]
    assert sum(d.monitor.state.windows_closed.values()) == 3


def test_an_unexpected_error_exits_without_committing(daemon: FaultyDaemon) -> None:
    """Not a sink problem but a bug: run() re-raises and commits nothing further."""
    d = daemon
    items = values()
    d.feed(items[:WINDOW3_FIRST])
    d.rounds(5)
    before = list(d.source.commits)

    def boom(result: object, window: object) -> None:
        raise RuntimeError("a bug in a hook")

    d.monitor.pipeline.hooks.insert(0, boom)
    d.feed(items[WINDOW3_FIRST:])
    d.monitor.loop.stopping.clear()
    with pytest.raises(RuntimeError):
        d.monitor.run()
    assert d.source.commits == before
