"""The whole loop against a real broker and a real daemon process: undrifted traffic
gives status ok, DEFAULT_DRIFT traffic flags exactly the drifted columns."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.demo.dataset import DEFAULT_DRIFT, drifted_columns, training_frame
from tests.services.daemon import CLI, DaemonProcess, read_audit, wait_for
from tests.services.kafka import KafkaBroker
from tests.services.streams import WINDOW_S, encode, produce, timed_events, window_start
from tests.system.pipeline.conftest import BASELINE_VERSION

pytestmark = pytest.mark.kafka

MODEL = "credit"
WINDOWS_PER_PART = 3
PER_WINDOW = 1200  # 60 s of event time at 50 ms spacing
COLUMNS = [c for c in training_frame(10, seed=7).columns]


def _replay(broker: KafkaBroker, topic: str, lines: list[bytes], path: Path) -> None:
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = subprocess.run(
        [
            *CLI,
            "replay",
            "--input",
            str(path),
            "--topic",
            topic,
            "--bootstrap-servers",
            broker.bootstrap,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"produced {len(lines):,} events" in result.stderr


def _closed_windows(d: DaemonProcess, n: int, timeout: float = 60.0) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        windows = read_audit(d.audit_path)
        return windows if len(windows) >= n else None

    return wait_for(probe, timeout, f"{n} closed windows in {d.audit_path}", on_timeout=d.log_tail)


def test_undrifted_then_drifted_stream(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic = unique("e2e")
    kafka_broker.create_topic(topic)
    d = topic_daemon(
        "e2e",
        topic,
        [MODEL],
        audit_windows=True,
    ).start()

    code, body = d.get("/readyz")
    assert code == 200, body

    t0 = window_start()
    n_part = WINDOWS_PER_PART * PER_WINDOW
    ok = timed_events(MODEL, n_part, t0, seed=101)
    drifted = timed_events(
        MODEL, n_part, t0 + WINDOWS_PER_PART * WINDOW_S, seed=202, drift=DEFAULT_DRIFT
    )

    # Part 1 with the replay CLI (keyed by the model field); the idle timeout closes
    # the last window.
    _replay(kafka_broker, topic, encode(ok), tmp_path / "ok.jsonl")
    first = _closed_windows(d, WINDOWS_PER_PART)
    assert [w["events"] for w in first] == [PER_WINDOW] * WINDOWS_PER_PART
    assert [w["status"] for w in first] == ["ok"] * WINDOWS_PER_PART
    assert [w["start"] for w in first] == [t0 + k * WINDOW_S for k in range(WINDOWS_PER_PART)]

    m = d.metrics()
    assert m.get("drift_monitor_model_status", model=MODEL) == 0
    assert m.by_label("drift_monitor_feature_status", "feature", model=MODEL) == {
        c: 0 for c in COLUMNS
    }
    assert m.get("drift_monitor_events_total", model=MODEL, outcome="accepted") == n_part

    # Part 2 with a plain producer keyed by model.
    produce(kafka_broker.bootstrap, topic, encode(drifted), [MODEL.encode()] * n_part)
    windows = _closed_windows(d, 2 * WINDOWS_PER_PART)
    assert len(windows) == 2 * WINDOWS_PER_PART
    assert [w["status"] for w in windows[WINDOWS_PER_PART:]] == ["alert"] * WINDOWS_PER_PART
    ids = [i for w in windows for i in w["ids"]]
    assert sorted(ids) == sorted(e["event_id"] for e in ok + drifted)

    m = d.metrics()
    expected_drift = set(drifted_columns(DEFAULT_DRIFT))
    status = m.by_label("drift_monitor_feature_status", "feature", model=MODEL)
    assert status == {c: 2 if c in expected_drift else 0 for c in COLUMNS}
    assert m.get("drift_monitor_model_status", model=MODEL) == 2
    assert m.get("drift_monitor_drifted_features", model=MODEL) == len(expected_drift)
    assert m.get("drift_monitor_window_events", model=MODEL) == PER_WINDOW
    assert m.get("drift_monitor_events_total", model=MODEL, outcome="accepted") == 2 * n_part
    for outcome in ("invalid", "late", "unknown_model"):
        assert m.value("drift_monitor_events_total", outcome=outcome) == 0
    assert m.get("drift_monitor_baseline_info", model=MODEL, version=BASELINE_VERSION) == 1
    assert m.get("drift_monitor_kafka_connected") == 1

    # Statistic gauges: one family per test, labelled by column kind.
    kinds = {
        "drift_monitor_feature_psi": {"numeric", "categorical", "prediction"},
        "drift_monitor_feature_jensen_shannon": {"numeric", "categorical", "prediction"},
        "drift_monitor_feature_ks_statistic": {"numeric", "prediction"},
        "drift_monitor_feature_ks_p_value": {"numeric", "prediction"},
        "drift_monitor_feature_wasserstein": {"numeric", "prediction"},
        "drift_monitor_feature_chi2_statistic": {"categorical"},
        "drift_monitor_feature_chi2_p_value": {"categorical"},
    }
    for family, want in kinds.items():
        samples = m.select(family, model=MODEL)
        assert samples, family
        assert {lab["kind"] for lab, _ in samples} == want, family
    psi = m.by_label("drift_monitor_feature_psi", "feature", model=MODEL)
    assert set(psi) == set(COLUMNS)
    assert all(psi[c] >= 0.25 for c in expected_drift)
    assert m.by_label("drift_monitor_feature_psi", "kind", feature="default_score") == {
        "prediction": psi["default_score"]
    }
    assert m.value("drift_monitor_feature_unseen_ratio", model=MODEL, feature="loan_purpose") > 0.02
    assert m.get("drift_monitor_feature_unseen_ratio", model=MODEL, feature="state") == 0
    assert m.value("drift_monitor_evaluation_duration_seconds_count", model=MODEL) >= 6

    code, body = d.get("/readyz")
    assert code == 200, body
    doc = d.status()
    entry = doc["models"][MODEL]
    assert doc["ready"] is True
    assert doc["kafka"]["assigned"] is True
    assert entry["status"] == "alert"
    assert entry["baseline"]["version"] == BASELINE_VERSION
    assert entry["window"]["events"] == PER_WINDOW
    assert entry["events"]["accepted"] == 2 * n_part
    listed = {c["name"] for c in entry["top_columns"] if c["status"] == "alert"}
    assert listed == expected_drift

    d.sigterm()
