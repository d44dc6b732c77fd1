"""Commit metadata: compact encodings that round-trip, fit Kafka's 4 KiB default with
500 models on one partition, and say loudly when they cannot hold every model."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.checkpoint import METADATA_MAX, CommitMetadata, MetadataError
from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.source.memory import MemorySource

T0 = 1_795_680_000.0  # 2026-11-26T06:40:00Z, a multiple of 60


def test_a_few_models_stay_plain_json() -> None:
    meta = CommitMetadata(6003, {"m": T0 + 240, "n": T0 + 180})
    enc = meta.encode()
    assert enc.dropped == 0 and enc.text.startswith('{"v":1')
    assert CommitMetadata.decode(enc.text) == meta


def test_500_models_fit_and_round_trip() -> None:
    closed = {f"model-{i:03d}": T0 + 60 * (i % 7) for i in range(500)}
    enc = CommitMetadata(123_456, closed).encode()
    assert enc.dropped == 0 and len(enc.text) <= METADATA_MAX and enc.text.startswith("z2:")
    back = CommitMetadata.decode(enc.text)
    assert back.hw == 123_456 and dict(back.closed) == closed


def test_500_long_random_names_fit_as_digests() -> None:
    names = [hashlib.sha256(str(i).encode()).hexdigest()[:40] for i in range(500)]
    closed = {n: T0 + 60 * (i % 3) for i, n in enumerate(names)}
    enc = CommitMetadata(9, closed).encode()
    assert enc.dropped == 0 and len(enc.text) <= METADATA_MAX and enc.text.startswith("h2:")
    assert dict(CommitMetadata.decode(enc.text, names).closed) == closed


def test_too_many_models_are_dropped_and_counted() -> None:
    names = [hashlib.sha256(str(i).encode()).hexdigest()[:36] for i in range(3000)]
    closed = {n: T0 + i for i, n in enumerate(names)}  # no two share a window end
    enc = CommitMetadata(1, closed).encode()
    assert len(enc.text) <= METADATA_MAX
    kept = CommitMetadata.decode(enc.text, names).closed
    assert enc.dropped == 3000 - len(kept) > 0
    # the newest checkpoints are the ones kept
    assert min(kept.values()) > max(t for n, t in closed.items() if n not in kept)


def test_garbage_is_a_metadata_error_and_non_finite_is_left_out() -> None:
    for text in ("z2:!!!!", "h2:AAAA", "{", "[1]"):
        with pytest.raises(MetadataError):
            CommitMetadata.decode(text)
    enc = CommitMetadata(5, {"a": -math.inf, "b": T0}).encode()
    assert dict(CommitMetadata.decode(enc.text).closed) == {"b": T0}


N_MODELS = 500
PER_MODEL = 30  # events per model and window


@pytest.fixture(scope="module")
def many_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("many")
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=300)})
    for i in range(N_MODELS):
        save_baseline(
            build_baseline(df, f"model-{i:03d}", version="v1"), root / f"model-{i:03d}.dmb"
        )
    return root


def _monitor(root: Path, src: MemorySource, state: Path) -> Monitor:
    cfg = validate_config(
        {
            "kafka": {"bootstrap_servers": ["memory:0"], "topics": ["t"]},
            "baselines": {"dir": str(root)},
            "state": {"dir": str(state)},
            "models": [
                {
                    "name": f"model-{i:03d}",
                    "window": {"size_seconds": 60, "allowed_lateness_seconds": 0},
                }
                for i in range(N_MODELS)
            ],
        }
    )
    return Monitor(cfg, src, clock=ManualClock(T0), serve_http=False)


def test_500_models_on_one_partition_resume_without_partial_windows(
    many_models: Path, tmp_path: Path
) -> None:
    """Models 1..499 fill window 0 and start window 1; model-000 sends one event in
    the middle of it and nothing more, so its open window holds the commit there. After
    a "kill -9" the new process re-reads from the middle of window 0: with the
    checkpoint of all 500 models in the metadata those re-read events are replays, and
    no window is evaluated again from half of its events."""
    src = MemorySource()
    rng = np.random.default_rng(2)
    for k in range(PER_MODEL + 1):
        ts = T0 + k * (60 / PER_MODEL)
        if k == PER_MODEL // 2:
            src.append("t", orjson.dumps({"model": "model-000", "timestamp": ts, "features": {}}))
        for i in range(1, N_MODELS):
            doc = {"model": f"model-{i:03d}", "timestamp": ts, "features": {"x": rng.normal()}}
            src.append("t", orjson.dumps(doc))
    mon = _monitor(many_models, src, tmp_path / "state")
    for _ in range(200):
        if mon.run_once() == 0 and src.remaining() == 0:
            break
    assert sum(mon.state.windows_closed.values()) == N_MODELS - 1
    assert mon.commit()
    committed = src.committed(("t", 0))
    assert committed is not None and len(committed.metadata) <= METADATA_MAX
    assert committed.offset == (PER_MODEL // 2) * (N_MODELS - 1)  # model-000's event
    assert not mon.state.checkpoint_dropped and not mon.state.warnings
    names = [f"model-{i:03d}" for i in range(N_MODELS)]
    assert len(CommitMetadata.decode(committed.metadata, names).closed) == N_MODELS - 1
    # "kill -9": no shutdown; a new process of the same group takes over
    again = _monitor(many_models, src, tmp_path / "state2")
    for _ in range(200):
        if again.run_once() == 0 and src.remaining() == 0:
            break
    assert sum(again.state.windows_closed.values()) == 0  # no partial window 0
    assert sum(again.state.replayed.values()) == (PER_MODEL - PER_MODEL // 2) * (N_MODELS - 1)
    again.pipeline.close_all_windows()
    starts = {m: r.start for m, r in again.state.results.items()}
    assert starts.pop("model-000") == T0 and set(starts.values()) == {T0 + 60}


def test_metadata_that_cannot_fit_is_said_loudly(
    many_models: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = MemorySource()
    mon = _monitor(many_models, src, tmp_path / "state")
    mon.pipeline.metadata_limit = 600  # a broker with a small offset.metadata.max.bytes
    for i in range(N_MODELS):  # each model its own window end: grouping cannot help
        mon.pipeline.offsets.read(("t", 0), i)
        mon.pipeline.offsets.saw_model(("t", 0), f"model-{i:03d}")
        w = mon.pipeline._windows_for(f"model-{i:03d}")
        assert w is not None
        w.restore(T0 + i)
    [commit] = mon.pipeline.commit_positions().values()
    assert len(commit.metadata) <= 600
    dropped = mon.state.checkpoint_dropped[("t", 0)]
    assert 0 < dropped < N_MODELS
    assert f"lacks {dropped} of {N_MODELS}" in mon.state.warnings["checkpoint_metadata:t/0"]
    assert (
        mon.registry.get_sample_value(
            "drift_monitor_checkpoint_models_dropped", {"topic": "t", "partition": "0"}
        )
        == dropped
    )
    assert [r for r in caplog.records if "cannot hold the window checkpoint" in r.message]
