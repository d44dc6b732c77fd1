"""Disk full (issue 12 item 4) on a real 1 MiB tmpfs: the state directory fills up at
the moment a window closes. Outbox, episode state and audit log each get their turn
(only that sink writes first: see ``CASES``). While full: no offset committed past
the window, the full path named in one line (``/readyz`` reason, ``/status``, the log);
once space is back: recovery with one incident, its webhook delivered once, every event
counted once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.daemon.sink_faults import (
    EVENTS,
    WINDOW2_FIRST,
    WINDOW3_FIRST,
    FaultyDaemon,
    values,
)
from tests.services.disk import fill, small_tmpfs

#: sink -> (audit log on, webhooks on, the file that must be named)
CASES = {
    "audit": (True, True, "windows-audit.jsonl"),
    "outbox": (False, True, "webhook-outbox.sqlite3"),
    "episodes": (False, False, "episodes.json"),
}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    # not root / no CAP_SYS_ADMIN: skipped here, covered by the fault layer
    with small_tmpfs(tmp_path / "state", skip_hint="; see test_checkpoint_sinks") as state:
        yield state


@pytest.mark.parametrize("sink", sorted(CASES))
def test_disk_full_at_window_close_loses_nothing(
    sink: str,
    tmpfs: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    audit, webhooks, filename = CASES[sink]
    d = FaultyDaemon(tmp_path, monkeypatch, audit=audit, webhooks=webhooks)
    try:
        items = values()
        d.feed(items[:WINDOW3_FIRST])
        d.rounds(5)
        assert max(d.committed_offsets()) == WINDOW2_FIRST
        filler = fill(tmpfs)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="drift_monitor.loop"):
            d.feed(items[WINDOW3_FIRST:])  # closes window 2 on a full disk
            d.rounds(20)
        path = str(tmpfs / filename)
        problem = d.monitor.state.sinks.get(sink)
        assert problem is not None and path in problem and "\n" not in problem, problem
        assert any(path in r.getMessage() for r in caplog.records)
        assert max(d.committed_offsets()) == WINDOW2_FIRST  # nothing committed past it
        if webhooks:  # the window never got past its first failing effect
            assert d.detected() == []
        filler.unlink()  # space is back
        d.drain()
        assert d.monitor.state.sinks.get(sink) is None
        assert max(d.committed_offsets()) == WINDOW3_FIRST
        assert d.accepted() == EVENTS
        incident = d.monitor.tracker.state("m").episode_id
        assert incident is not None
        if webhooks:
            detected = d.detected()
            assert [b["id"] for b in detected] == [incident]
        if audit:
            assert [e for e, _ in d.audit_windows()] == sorted({e for e, _ in d.audit_windows()})
            assert len(d.audit_windows()) == 3
    finally:
        d.monitor.shutdown()
