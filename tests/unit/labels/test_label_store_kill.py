"""kill -9 of a process writing joins, several times mid-stream: once reopened, no join is
lost and none is counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from drift_monitor.labels.store import JoinStore
from tests.unit.labels import label_join_writer as writer

REPO_ROOT = Path(__file__).resolve().parents[3]
KILLS = 5


def _offset(path: Path) -> int:
    return int(path.read_text()) if path.exists() else 0


@pytest.mark.slow
def test_sigkill_mid_stream_loses_and_double_counts_no_join(tmp_path: Path) -> None:
    store_path, offset_path = tmp_path / "join.db", tmp_path / "offset"
    cmd = [
        sys.executable,
        "-m",
        "tests.unit.labels.label_join_writer",
        str(store_path),
        str(offset_path),
    ]
    total = len(writer.stream())
    rng = np.random.default_rng(7)
    mid_stream = 0
    for _ in range(KILLS):
        before = _offset(offset_path)
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE)
        # Kill at a random point of the stream, chosen by progress, not by time: past the
        # restart point and before half of what is left, so that a fast writer on an idle
        # machine cannot finish first; then a random few ms more, so that the kill lands
        # anywhere within a batch (applying, flushing or committing).
        batches_left = (total - before) // writer.BATCH
        step = int(rng.integers(1, max(2, batches_left // 2)))
        target = min(total - 1, before + step * writer.BATCH)
        deadline = time.monotonic() + 60
        while _offset(offset_path) < target and proc.poll() is None:
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.001)
        time.sleep(float(rng.uniform(0.0, 0.005)))
        if proc.poll() is None:  # a fast writer may have finished (and been reaped) already
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.returncode == -signal.SIGKILL and _offset(offset_path) < total:
            mid_stream += 1
    assert mid_stream >= 3, f"only {mid_stream} kills landed mid-stream"
    done = subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr
    assert _offset(offset_path) == total

    store = JoinStore(store_path)
    expected = writer.expected()
    scores = writer.scores()
    got: dict[int, float] = {}
    for w in store.windows("m"):
        y, out, _ = store.pairs("m", w.window_id)
        assert w.joined == y.shape[0]  # the window's counter agrees with its pairs
        ids = sorted(i for i in expected if i // 500 == w.window_id)
        ids_by_event_order = sorted(f"ev-{i}" for i in ids)
        assert [scores[int(e[3:])] for e in ids_by_event_order] == out[:, 0].tolist()
        for e, v in zip(ids_by_event_order, y.tolist(), strict=True):
            got[int(e[3:])] = v
        assert w.tracked == sum(1 for i in scores if i // 500 == w.window_id)
    assert got == expected  # every label joined exactly once, to the right prediction
    assert store.entries == len(scores)  # predictions only: no label is left waiting
    store.close()
