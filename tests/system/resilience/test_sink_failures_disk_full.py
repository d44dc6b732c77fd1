"""Disk full (issue 12 item 4) on a real 1 MiB tmpfs: the state directory fills up at
the moment a window closes. Outbox, episode state and audit log each get their turn
(only that sink writes first: see ``CASES``). While full: no offset committed past
the window, the full path named in one line (``/readyz`` reason, ``/status``, the log);
once space is back: recovery with one incident, its webhook delivered once, every event
counted once."""

from __future__ import annotations

import errno
import logging
import subprocess
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

#: sink -> (audit log on, webhooks on, the file that must be named)
CASES = {
    "audit": (True, True, "windows-audit.jsonl"),
    "outbox": (False, True, "webhook-outbox.sqlite3"),
    "episodes": (False, False, "episodes.json"),
}


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    state.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(state)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # not root / no CAP_SYS_ADMIN: covered by the fault layer
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); see test_checkpoint_sinks")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system is full; returns it."""
    filler = directory / "filler"
    chunk = b"\0" * 4096
    with filler.open("wb", buffering=0) as fh:
        while True:
            try:
                fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                break
    with filler.open("ab", buffering=0) as fh:  # the last bytes too
        for _ in range(4096):
            try:
                fh.write(b"\0")
            except OSError:
                break
    return filler


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
