"""The daemon starts, serves its probes and stops cleanly while no broker answers."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.config.models import KafkaSettings
from drift_monitor.source import kafka as kafka_source
from tests.services.metrics import scrape
from tests.services.ports import free_port
from tests.services.wait import wait_for


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)
    except OSError:
        return 0


def test_unconnected_source_retries_without_piling_up_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kafka_source, "RECONNECT_INTERVAL_S", 0.0)
    dead = f"127.0.0.1:{free_port()}"
    src = kafka_source.ConnectingKafkaSource(KafkaSettings(bootstrap_servers=[dead], topics=["t"]))
    before = threading.active_count()
    for _ in range(5):
        assert src.poll(1, 10) == []
    assert threading.active_count() == before
    assert not src.connected() and src.assignment() == set() and src.lag() == {}
    src.close()


def test_daemon_without_broker_is_alive_not_ready_and_stops_on_sigterm(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    save_baseline(
        build_baseline(pd.DataFrame({"x": rng.normal(size=500)}), "m"),
        tmp_path / "baselines" / "m.dmb",
    )
    port = free_port()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        f"kafka: {{bootstrap_servers: ['127.0.0.1:{free_port()}'], topics: [t]}}\n"
        f"http: {{host: 127.0.0.1, port: {port}}}\nmodels: [{{name: m}}]\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "drift_monitor", "run", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            return _get(f"http://127.0.0.1:{port}/healthz") == 200

        wait_for(healthy, 30, "/healthz", interval=0.2)
        assert _get(f"http://127.0.0.1:{port}/readyz") == 503
        metrics = scrape(f"http://127.0.0.1:{port}/metrics")
        assert metrics.get("drift_monitor_kafka_connected") == 0.0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "unreachable" in (proc.stderr.read() if proc.stderr else "")
