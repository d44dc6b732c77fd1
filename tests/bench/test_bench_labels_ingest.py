"""``bench.labels_ingest`` runs end to end on a small stream (its own assertion checks the
join joined labels) and prints both rates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_labels_ingest_bench_small() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.labels_ingest", "--windows", "4", "--per-window", "200"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.startswith("labels off")]
    assert len(rows) == 2 and all("on/off" in r for r in rows), proc.stdout
