"""A daemon on the in-memory source whose sinks can be made to fail, then healed.

Stream (tests/service/daemon/support.py): model ``m``, 60 s tumbling windows, lateness 0,
``enter_after: 1``; 20 events a second, so 1 200 per window. ``PLAN`` events: windows
0 and 1 clean, window 2 drifted (alerts -> one ``drift.detected``), window 3 open at
the end. Three invalid records follow the first event of window 3 (dead-lettered).
Window 2 closes when the first event of window 3 arrives: that is "the moment the
window closes" at which a fault is armed.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.errors import SinkError
from drift_monitor.loop import Backoff
from drift_monitor.source.memory import MemoryDeadLetters, MemoryReports, MemorySource
from drift_monitor.webhooks.transport import MemoryTransport
from tests.service.daemon.support import T0, make_setup, stream

PER_WINDOW = 1_200
EVENTS = 4 * PER_WINDOW - 100
DRIFT_FROM = 2 * PER_WINDOW
INVALID = [b"{not json", b'{"model": "m", "features": {"x": "oops"}}', b"[]"]
#: offset of window 2's first event
WINDOW2_FIRST = DRIFT_FROM
#: offset of window 3's first event: closes window 2
WINDOW3_FIRST = 3 * PER_WINDOW
INVALID_AT = WINDOW3_FIRST + 1  # right after the record that closes window 2
SECRET_ENV = "DRIFT_MONITOR_SINK_FAULTS_SECRET"
SECRET = "whsec_c2luay1mYXVsdHMtdGVzdC1zZWNyZXQtMzJieXRlcyE="


def values() -> list[bytes]:
    """The stream with the invalid records inserted."""
    good = stream(EVENTS, drift_from=DRIFT_FROM)
    return good[:INVALID_AT] + INVALID + good[INVALID_AT:]


class FaultyDaemon:
    """Monitor + MemorySource + failing-capable sinks + a recording transport."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        *,
        audit: bool = True,
        webhooks: bool = True,
    ) -> None:
        monkeypatch.setenv(SECRET_ENV, SECRET)
        cfg, _ = make_setup(tmp_path)
        doc = cfg.model_dump(mode="json", exclude_none=True)
        doc["state"]["audit_windows"] = audit
        if webhooks:
            doc["webhooks"] = {
                "allow_networks": ["127.0.0.0/8"],  # never dialled: MemoryTransport
                "targets": [
                    {
                        "name": "retrain",
                        "url": "http://127.0.0.1:9/hook",
                        "secret": {"env": SECRET_ENV},
                    }
                ],
            }
        self.config = validate_config(doc, "sink-faults test config")
        # The wall clock after the stream: its events are not "from the future".
        self.clock = ManualClock(T0 + 30 * 86400)
        self.source = MemorySource()
        self.dead_letters = MemoryDeadLetters()
        self.reports = MemoryReports()
        self.transport = MemoryTransport()
        self.state_dir = tmp_path / "state"
        self.monitor = self._monitor()

    def _monitor(self) -> Monitor:
        mon = Monitor(
            self.config,
            self.source,
            clock=self.clock,
            dead_letters=self.dead_letters,
            reports=self.reports,
            transport=self.transport,
            serve_http=False,
        )
        mon.loop.backoff = Backoff(initial=0.0, maximum=0.0)  # retry at once: no sleeping
        return mon

    def feed(self, items: list[bytes]) -> None:
        for v in items:
            self.source.append("t", v, key=b"m")

    def rounds(self, n: int = 30) -> None:
        """Run the loop; the clock moves 3 s per round so the commit interval passes."""
        for _ in range(n):
            self.monitor.run_once()
            self.clock.advance(3.0)

    def drain(self) -> None:
        for _ in range(200):
            self.rounds(1)
            if self.source.remaining() == 0 and not self.monitor.loop.failing:
                break
        self.rounds(3)
        assert self.monitor.commit()

    # -- what the tests assert on ------------------------------------------------------

    def committed_offsets(self) -> list[int]:
        return [c.offset for tp, c in self.source.commits if tp == ("t", 0)]

    def detected(self) -> list[dict[str, Any]]:
        self.monitor.deliver_webhooks()
        bodies = [json.loads(r.body) for r in self.transport.requests]
        return [b for b in bodies if b["type"] == "drift.detected"]

    def outbox_rows(self) -> int:
        if self.monitor.outbox is None:
            return 0
        return self.monitor.outbox.pending_count() + len(self.monitor.outbox.history())

    def accepted(self) -> float:
        v = self.monitor.registry.get_sample_value(
            "drift_monitor_events_total", {"model": "m", "outcome": "accepted"}
        )
        return v or 0.0

    def invalid(self) -> int:
        return sum(
            n for (_, outcome), n in self.monitor.state.events.items() if outcome == "invalid"
        )

    def sink_up(self, sink: str) -> float | None:
        return self.monitor.registry.get_sample_value("drift_monitor_sink_up", {"sink": sink})

    def audit_windows(self) -> list[tuple[float, int]]:
        path = self.state_dir / "windows-audit.jsonl"
        return [(d["end"], d["events"]) for d in map(json.loads, path.read_text().splitlines())]


class Switch:
    """An armed/disarmed fault."""

    def __init__(self) -> None:
        self.armed = False
        self.hits = 0

    def hit(self) -> bool:
        if self.armed:
            self.hits += 1
        return self.armed


class _FaultyOs:
    """``os`` for one module, whose ``name`` fails with ENOSPC while armed."""

    def __init__(self, name: str, switch: Switch) -> None:
        self._name = name
        self._switch = switch
        self._real: Callable[..., Any] = getattr(os, name)

    def __getattr__(self, attr: str) -> Any:
        if attr != self._name:
            return getattr(os, attr)

        def failing(*args: Any, **kwargs: Any) -> Any:
            if self._switch.hit():
                raise OSError(errno.ENOSPC, "No space left on device")
            return self._real(*args, **kwargs)

        return failing


def os_fault(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Switch:
    """While the returned switch is armed, ``os.<name>`` as ``module`` sees it fails
    with ENOSPC (a full disk); nothing else is affected."""
    switch = Switch()
    monkeypatch.setattr(module, "os", _FaultyOs(name, switch))
    return switch


def raising(switch: Switch, sink: str, target: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, but raising SinkError while ``switch`` is armed."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if switch.hit():
            raise SinkError(sink, target, "injected failure")
        return real(*args, **kwargs)

    return wrapper
