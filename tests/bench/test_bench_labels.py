"""``bench.labels --size small`` runs (its own assertions check every join and expiry)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_labels_bench_small() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.labels", "--size", "small"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-m bench.labels --size small" in proc.stdout
    for store in ("sqlite-wal-full", "sqlite-wal-normal", "JoinStore (FULL)"):
        assert any(line.startswith(store) for line in proc.stdout.splitlines()), store
