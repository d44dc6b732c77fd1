"""100 000 hostile records mixed into valid traffic, through the daemon's own pipeline.

Zero crashes; every bad record counted by reason (and dead-lettered); every valid
record accounted for; memory stays bounded; log lines rate limited.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.config import AppConfig, validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.source.base import Record
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.fuzz import KINDS, VALID_KINDS, hostile, valid_event

T0 = 1_764_150_000.0
N_HOSTILE = 100_000
N_VALID = 50_000
MAX_BYTES = 65_536


def _rss() -> int:
    """Resident set size of this process in bytes (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class CountingDeadLetters:
    """Counts dead letters by reason without keeping the records (bounded memory)."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()

    def send(self, record: Record, reason: str, detail: str) -> None:
        assert len(detail) < 10_000
        self.reasons[reason] += 1

    def flush(self) -> None:
        return


@pytest.fixture
def config(tmp_path: Path) -> AppConfig:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "x": rng.normal(size=5000),
            "y": rng.exponential(size=5000),
            "c": rng.choice(["a", "b", "c"], 5000),
            "score": rng.uniform(size=5000),
        }
    )
    save_baseline(build_baseline(df, "m", prediction=["score"]), tmp_path / "b" / "m.dmb")
    return validate_config(
        {
            "kafka": {"bootstrap_servers": ["memory:0"], "topics": ["t"], "max_poll_records": 5000},
            "baselines": {"dir": str(tmp_path / "b")},
            "state": {"dir": str(tmp_path / "s"), "audit_windows": True},
            "decode": {"max_event_bytes": MAX_BYTES},
            "models": [
                {
                    "name": "m",
                    "window": {
                        "size_seconds": 60,
                        "allowed_lateness_seconds": 5,
                        "idle_timeout_seconds": 1,
                        "max_events": 2000,
                    },
                }
            ],
        }
    )


def test_hostile_records_are_counted_routed_and_harmless(
    config: AppConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(20261126)
    src = MemorySource(retain_committed=False)
    dlq = CountingDeadLetters()
    clock = ManualClock(T0 + 3600)  # processing time after the stream
    mon = Monitor(config, src, clock=clock, dead_letters=dlq, serve_http=False)
    kinds: Counter[str] = Counter()
    warm = growth = 0
    produced_valid = 0
    offset = 0
    total = N_HOSTILE + N_VALID
    with caplog.at_level(logging.WARNING, logger="drift_monitor"):
        for i in range(total):
            ts = T0 + i * 0.01  # 1 500 s of event time: 25 windows
            if rng.random() < N_HOSTILE / total:
                kind = rng.choice(KINDS)
                kinds[kind] += 1
                value = hostile(rng, kind, ts, MAX_BYTES)
            else:
                value = valid_event(rng, ts, produced_valid)
                produced_valid += 1
            src.feed([Record("t", 0, offset, b"m", value, int(ts * 1000))])
            offset += 1
            if offset % 5000 == 0:
                mon.run_once()
                mon.commit()
                if offset == 60_000:
                    warm = _rss()
                if offset > 60_000:
                    growth = max(growth, _rss() - warm)
        while src.remaining():
            mon.run_once()
        clock.advance(5)
        mon.pipeline.tick()
        assert mon.audit is not None
        mon.audit.sync()

    reg = mon.registry

    def val(name: str, labels: dict[str, str]) -> float:
        return reg.get_sample_value(name, labels) or 0.0

    n_hostile = sum(kinds.values())
    assert n_hostile > 60_000
    invalid = sum(
        val("drift_monitor_events_total", {"model": m, "outcome": "invalid"}) for m in ("m", "-")
    )
    unknown = val("drift_monitor_events_total", {"model": "-", "outcome": "unknown_model"})
    accepted = val("drift_monitor_events_total", {"model": "m", "outcome": "accepted"})
    late = val("drift_monitor_events_total", {"model": "m", "outcome": "late"})
    # every record has exactly one outcome
    assert invalid + unknown + accepted + late == total
    # every bad record is counted and dead-lettered with a reason
    expected_bad = sum(n for k, n in kinds.items() if k not in VALID_KINDS)
    assert invalid + unknown == expected_bad
    assert sum(dlq.reasons.values()) == expected_bad
    assert unknown == kinds["unknown_model"]
    by_reason = {
        r: val("drift_monitor_invalid_events_total", {"reason": r})
        for r in dlq.reasons
        if r != "unknown_model"
    }
    assert by_reason == {r: n for r, n in dlq.reasons.items() if r != "unknown_model"}
    assert by_reason["too_large"] == kinds["huge_string"]
    assert by_reason["future_timestamp"] == kinds["far_future"]
    # random bytes are mostly invalid UTF-8 too
    assert (
        kinds["invalid_utf8"]
        <= by_reason["not_utf8"]
        <= (kinds["invalid_utf8"] + kinds["random_bytes"])
    )
    # every valid event (and every accepted hostile-but-valid one) is in a window
    audit = [
        json.loads(line)
        for line in (tmp_path / "s" / "windows-audit.jsonl").read_text().splitlines()
    ]
    ids = Counter(i for w in audit for i in w["ids"])
    assert all(ids[f"v{i}"] == 1 for i in range(produced_valid))
    assert sum(w["events"] for w in audit) == accepted
    # far-past events are late, or opened an early window: never lost, never fatal
    assert late <= kinds["far_past"]
    # no event data leaks into labels: unknown models are all counted under "-"
    families = {m.name: m for m in reg.collect()}
    labels = {s.labels.get("model") for m in families.values() for s in m.samples}
    assert labels <= {None, "m", "-"}
    # bounded memory: RSS over the last 60 % of the stream (~240 MB of hostile
    # payloads pass through it) does not grow with the stream
    assert growth < 48 * 2**20, f"RSS grew {growth / 2**20:.1f} MiB after warm-up"
    # rate-limited logs: a few lines per minute of processing time, not one per record
    rejected_logs = [r for r in caplog.records if "rejected event" in r.getMessage()]
    assert len(rejected_logs) <= 10 * 2 + 10
    print(
        f"\nfuzzed {n_hostile:,} hostile + {produced_valid:,} valid records; "
        f"outcomes: accepted {accepted:.0f}, invalid {invalid:.0f}, unknown_model "
        f"{unknown:.0f}, late {late:.0f}; reasons: {dict(dlq.reasons)}; "
        f"RSS growth over the last 60 % of the stream {growth / 2**20:.1f} MiB"
    )
