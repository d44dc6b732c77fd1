"""``bench.label_ingest --size small`` runs: the join's throughput and the daemon with
labels off, on and sampled on the same stream, in one run. Its own assertions check
that every label (every sampled label) was joined exactly once and that prediction
windows became final; no timing is asserted (a shared 2-core machine)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_label_ingest_bench_small() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.label_ingest", "--size", "small"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "-m bench.label_ingest --size small" in out
    assert re.search(r"^\(a\) join: [\d,]+ labels/s per core", out, re.M), out
    for run in ("#1 labels off", "labels on", "labels on, sample_rate 0.1", "#2 labels off"):
        assert f"(b) daemon, same stream, {run}: " in out, run
    assert "(b) daemon, labels on, labels on a 'labels' topic: " in out, out
    # With labels on, prediction windows became final (and were scored).
    finals = re.findall(r"same stream, labels on[^:]*: .*?, (\d+) final performance windows", out)
    assert finals and all(int(n) > 0 for n in finals), out
    assert re.search(
        r"^ratio \(b\) daemon labels on / off, same stream \(records/s\): [\d.]+ "
        r"\(target >= 0\.8\) -> (met|MISSED)$",
        out,
        re.M,
    ), out
