"""The label join's flush is part of the checkpoint: a failing flush holds every offset
commit (sink_up{sink="labels"} 0, /readyz not ready), and once it works again the
re-read records are joined exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drift_monitor.errors import SinkError
from tests.service.labels.support import LabelDaemon
from tests.services.labels import labelled_stream


def _expected(stream: Any, windows: int) -> dict[int, tuple[int, int]]:
    out = {}
    for w in range(windows):
        labels, _, _ = stream.expected(w)
        out[w] = (sum(1 for t in stream.truth.values() if t[0] == w), len(labels))
    return out


def test_a_failing_label_flush_holds_the_commit_then_joins_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = LabelDaemon(tmp_path, monkeypatch)
    stream = labelled_stream(6, 100, never=0.1, early=0.1, dup=0.1, tail_windows=2)
    half = len(stream.items) // 2
    d.feed_in_order(stream.items[:half])
    d.drain()
    before = d.commits()
    assert before, "the first half was committed"
    assert d.monitor.labels is not None
    (store,) = d.monitor.labels.stores
    real_flush = store.flush
    failures = []

    def failing_flush() -> None:
        failures.append(1)
        store.rollback()  # what a failed COMMIT leaves: nothing of the batch
        raise SinkError("labels", str(store.path), "injected: disk full")

    monkeypatch.setattr(store, "flush", failing_flush)
    d.feed_in_order(stream.items[half:])
    d.rounds(30)
    assert failures, "the checkpointer flushed the join before committing"
    assert d.commits() == before, "no offset was committed while the join could not flush"
    assert d.monitor.registry.get_sample_value("drift_monitor_sink_up", {"sink": "labels"}) == 0
    ready, reason = d.monitor.state.ready()
    assert not ready
    assert "labels sink failing" in reason

    monkeypatch.setattr(store, "flush", real_flush)
    d.drain()
    assert d.monitor.registry.get_sample_value("drift_monitor_sink_up", {"sink": "labels"}) == 1
    assert d.monitor.state.ready()[0] or "no partitions" not in d.monitor.state.ready()[1]
    last = {tp: off for tp, off in d.commits()}
    assert last[("predictions", 0)] > dict(before)[("predictions", 0)]
    assert last[("labels", 0)] == len(stream.values("labels"))
    # Every prediction tracked once, every label joined once, despite the re-reads.
    got = d.store_windows()
    assert {w: got[w] for w in range(6)} == _expected(stream, 6)


def test_a_crash_between_flushes_loses_and_doubles_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The monitor is dropped several times mid-stream without a commit (what kill -9
    leaves: the store's last flush and the last offset commit); the join ends with
    exactly the expected pairs."""
    d = LabelDaemon(tmp_path, monkeypatch)
    stream = labelled_stream(6, 120, never=0.1, early=0.1, dup=0.1, tail_windows=2)
    cut = [len(stream.items) * k // 5 for k in range(1, 5)]
    start = 0
    for end in [*cut, len(stream.items)]:
        d.feed_in_order(stream.items[start:end], chunk=150)
        # some rounds: a commit may or may not have happened since the last flush
        d.rounds(2)
        if end != len(stream.items):
            d.restart()
        start = end
    d.drain()
    got = d.store_windows()
    assert {w: got[w] for w in range(6)} == _expected(stream, 6)
