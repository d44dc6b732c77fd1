"""A daemon on the in-memory source with a labelled model (tests/services/labels.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.baseline import save_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.loop import Backoff
from drift_monitor.source.memory import MemorySource
from drift_monitor.webhooks.transport import MemoryTransport
from tests.services.labels import T0, WINDOW_S, Item, labelled_baseline
from tests.services.webhooks import loopback_webhooks

SECRET_ENV = "DRIFT_MONITOR_LABELS_TEST_SECRET"
SECRET = "whsec_bGFiZWxzLXRlc3Qtc2VjcmV0LTMyLWJ5dGVzLWxvbmch"


def label_config(tmp_path: Path, labels: dict[str, Any] | None = None) -> dict[str, Any]:
    """The daemon config document: model ``m`` with a labels section (merged over
    ``labels``), a loopback webhook target, 20 windows in /status."""
    save_baseline(labelled_baseline(), tmp_path / "baselines" / "m.dmb")
    section = {
        "topic": "labels",
        "max_delay_seconds": 5 * WINDOW_S,
        "final_coverage": 1.0,
        "min_labels": 50,
        "max_entries": 100_000,
    } | (labels or {})
    return {
        "kafka": {"bootstrap_servers": ["memory:0"], "topics": ["predictions"]},
        "baselines": {"dir": str(tmp_path / "baselines")},
        "state": {"dir": str(tmp_path / "state")},
        "http": {"status_windows": 40},
        "webhooks": loopback_webhooks(
            "http://127.0.0.1:9/hook",
            SECRET_ENV,
            timeout_seconds=None,
            initial_backoff_seconds=None,
            max_backoff_seconds=None,
        ),
        "models": [
            {
                "name": "m",
                "window": {
                    "size_seconds": WINDOW_S,
                    "allowed_lateness_seconds": 0,
                    "idle_timeout_seconds": 3600,
                },
                "episodes": {"enter_after": 2, "resolve_after": 2},
                "labels": section,
            }
        ],
    }


class LabelDaemon:
    """Monitor + MemorySource + a recording webhook transport, driven round by round."""

    def __init__(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, labels: dict[str, Any] | None = None
    ) -> None:
        monkeypatch.setenv(SECRET_ENV, SECRET)
        self.config = validate_config(label_config(tmp_path, labels), "labels test config")
        self.clock = ManualClock(T0 + 30 * 86400)
        self.source = MemorySource()
        self.transport = MemoryTransport()
        self.monitor = self._monitor()

    def _monitor(self) -> Monitor:
        mon = Monitor(
            self.config, self.source, clock=self.clock, transport=self.transport, serve_http=False
        )
        mon.loop.backoff = Backoff(initial=0.0, maximum=0.0)
        return mon

    def restart(self) -> None:
        """A crash: the monitor is dropped without commit or flush; a new one starts."""
        self.drop()
        self.monitor = self._monitor()

    def drop(self) -> None:
        """Drop the monitor without commit or flush, closing its files (the join store
        is locked while open) so that another one can be built on the same state."""
        assert self.monitor.labels is not None
        self.monitor.labels.close()
        if self.monitor.outbox is not None:
            self.monitor.outbox.close()

    def feed(self, topic: str, values: list[bytes]) -> None:
        for v in values:
            self.source.append(topic, v, key=b"m")

    def feed_in_order(self, items: list[Item], chunk: int = 200, rounds: int = 1) -> None:
        """Feed ``items`` a chunk at a time with ``rounds`` loop rounds after each, so
        the pipeline sees them in arrival order across the two topics."""
        for i in range(0, len(items), chunk):
            for it in items[i : i + chunk]:
                self.source.append(it.topic, it.value, key=b"m")
            self.rounds(rounds)

    def rounds(self, n: int = 20) -> None:
        """The clock moves 3 s per round so the commit interval passes; a tick each."""
        for _ in range(n):
            self.monitor.loop.post("tick")
            self.monitor.run_once()
            self.clock.advance(3.0)

    def drain(self, max_rounds: int = 2000) -> None:
        for _ in range(max_rounds):
            self.rounds(1)
            if self.source.remaining() == 0 and not self.monitor.loop.failing:
                break
        self.rounds(3)
        assert self.monitor.commit()

    def store_windows(self) -> dict[int, tuple[int, int]]:
        """Every window the join store holds (final or not): the stream's window number
        (0 = the one starting at T0) -> (tracked, joined)."""
        assert self.monitor.labels is not None
        (store,) = self.monitor.labels.stores
        first = int(T0 // WINDOW_S)
        return {
            w.window_id - first: (w.tracked, w.joined)
            for w in store.windows("m", include_final=True)
        }

    def status(self) -> dict[str, Any]:
        labels: dict[str, Any] | None = self.monitor._status_extras("m").get("labels")
        assert labels is not None
        return labels

    def final_windows(self) -> dict[str, dict[str, Any]]:
        """Final windows in /status, by start time."""
        return {w["start"]: w for w in self.status()["windows"] if w["final"]}

    def webhooks(self) -> list[dict[str, Any]]:
        self.monitor.deliver_webhooks()
        return [json.loads(r.body) for r in self.transport.requests]

    def commits(self) -> list[tuple[tuple[str, int], int]]:
        return [(tp, c.offset) for tp, c in self.source.commits]
