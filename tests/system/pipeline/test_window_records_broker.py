"""Every evaluated window as a record on the real broker: the daemon subprocess
publishes one ``window.evaluated`` record per closed window to the report topic (keyed
by model, window bounds in ms, every column's tests), the same record goes to the audit
log, the drift incident is still published exactly once, /status lists the windows in
ms, and ``drift-monitor report --from`` builds the report over time from them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.demo.dataset import DEFAULT_DRIFT, drifted_columns, training_frame
from tests.services.daemon import CLI, DaemonProcess, read_audit, wait_for
from tests.services.kafka import KafkaBroker, create_topic
from tests.services.streams import WINDOW_S, encode, produce, read_topic, timed_events, window_start
from tests.system.pipeline.conftest import BASELINE_VERSION

pytestmark = pytest.mark.kafka

MODEL = "credit"
WINDOWS = 3  # clean, then as many drifted
PER_WINDOW = 1200  # 60 s of event time at 50 ms spacing
COLUMNS = set(training_frame(10, seed=7).columns)
STATUSES = {"ok", "warning", "alert", "insufficient_data"}


def test_every_window_reaches_the_report_topic_once(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    topic, reports = unique("records"), unique("records-reports")
    create_topic(kafka_broker.bootstrap, topic)
    create_topic(kafka_broker.bootstrap, reports)  # auto-create is off on the broker
    d = topic_daemon(
        "records",
        topic,
        [MODEL],
        audit_windows=True,
        kafka_extra={"report_topic": reports},
        overrides={"http": {"status_windows": 4}},
    ).start()
    t0 = window_start()
    n = WINDOWS * PER_WINDOW
    evs = timed_events(MODEL, n, t0, seed=101) + timed_events(
        MODEL, n, t0 + WINDOWS * WINDOW_S, seed=202, drift=DEFAULT_DRIFT
    )
    produce(kafka_broker.bootstrap, topic, encode(evs), [MODEL.encode()] * len(evs))

    def closed() -> list[dict[str, Any]] | None:
        w = read_audit(d.audit_path)
        return w if len(w) >= 2 * WINDOWS else None

    audit = wait_for(closed, 90, "6 closed windows", on_timeout=d.log_tail)
    # 6 window records + 1 incident; read_topic polls once more to see any excess
    got = read_topic(kafka_broker.bootstrap, reports, 2 * WINDOWS + 1, timeout=60)
    assert {m.key for m in got} == {MODEL.encode()}
    docs = [json.loads(m.value) for m in got]
    records = [r for r in docs if r["type"] == "window.evaluated"]
    incidents = [r for r in docs if r["type"] != "window.evaluated"]
    assert [i["type"] for i in incidents] == ["drift.detected"]  # still once

    t0_ms = round(t0 * 1000)
    assert [(r["window"]["start_ms"], r["window"]["end_ms"]) for r in records] == [
        (t0_ms + k * 60_000, t0_ms + (k + 1) * 60_000) for k in range(2 * WINDOWS)
    ]
    expected_drift = set(drifted_columns(DEFAULT_DRIFT))
    for k, r in enumerate(records):
        assert r["model"] == MODEL and r["baseline_version"] == BASELINE_VERSION
        assert r["events"] == r["window"]["events"] == PER_WINDOW
        assert r["status"] == ("ok" if k < WINDOWS else "alert")
        assert {f["name"] for f in r["features"]} == COLUMNS
        for f in r["features"]:
            assert f["status"] in STATUSES and f["tests"], f
            assert all(set(t) >= {"statistic", "p_value"} for t in f["tests"].values())
        alerting = {f["name"] for f in r["features"] if f["status"] == "alert"}
        assert alerting == (set() if k < WINDOWS else expected_drift)
    # the incident's window is a window record's (same ms bounds, ISO form)
    assert incidents[0]["window"]["end"] in {r["window"]["end"] for r in records}
    # the audit log holds the same records (plus seconds bounds and the event ids)
    assert [
        {k: v for k, v in a.items() if k not in ("start", "end", "ids")} for a in audit
    ] == records

    # /status: the last 4 windows, newest first, ms bounds
    entry = d.status()["models"][MODEL]
    assert [w["window"]["end_ms"] for w in entry["windows"]] == [
        t0_ms + k * 60_000 for k in (6, 5, 4, 3)
    ]
    assert entry["window"]["start_ms"] == t0_ms + 5 * 60_000
    d.sigterm()

    # the report over time from the audit log and the topic's messages
    dump = tmp_path / "reports.jsonl"
    dump.write_bytes(b"".join(m.value + b"\n" for m in got))
    out = tmp_path / "history.html"
    result = subprocess.run(
        [
            *CLI,
            "report",
            "--from",
            str(d.audit_path),
            "--from",
            str(dump),
            "--model",
            MODEL,
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "6 window(s), 1 incident(s)" in result.stderr
    page = out.read_text()
    assert page.count("<title>drift.detected ") == page.count("<svg ") > 1
