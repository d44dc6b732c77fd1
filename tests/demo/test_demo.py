"""`drift-monitor demo`: the whole loop, no infrastructure, drifted columns exact."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_monitor.cli import main
from drift_monitor.demo.dataset import DEFAULT_DRIFT, drifted_columns
from drift_monitor.demo.run import DemoOptions, run_demo
from drift_monitor.logs import JsonFormatter


def test_demo_detects_the_injected_drift_then_the_degraded_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFT_MONITOR_DEMO_WEBHOOK_SECRET", "placeholder")
    out = io.StringIO()
    code = run_demo(DemoOptions(out=tmp_path / "demo", port=0, pace=0.0, live=False), out)
    text = out.getvalue()
    assert code == 0, text
    detected = re.search(r"detected drift : (.*?)\s{3}", text)
    assert detected is not None
    assert set(detected.group(1).split(", ")) == set(drifted_columns(DEFAULT_DRIFT))
    assert "(exactly the injected columns)" in text
    verdicts = re.search(r"insufficient\): ([OWAI ]+)", text)
    assert verdicts is not None
    # six clean windows, then six drifted ones
    assert verdicts.group(1).split() == ["O"] * 6 + ["A"] * 6
    # Model quality: the recession's labels (two windows late) degrade the model; the
    # performance incident comes after the drift incident, both signed and verified.
    quality = re.search(r"insufficient labels\): ([ODI ]+)", text)
    assert quality is not None
    assert quality.group(1).split() == ["O"] * 6 + ["D"] * 6
    assert "2 received by the demo's retraining endpoint" in text
    drift = text.index("drift.detected id=drift-credit-")
    perf = text.index("performance.degraded id=performance-credit-")
    assert drift < perf
    assert text.count("signature verified") == 2
    assert re.search(r"labels: roc_auc 0\.7\d\d \(baseline 0\.836\)", text), text
    report = tmp_path / "demo" / "drift-report.html"
    html = report.read_text()
    assert "<svg" in html and "credit_score" in html
    assert (tmp_path / "demo" / "baselines" / "credit.dmb").exists()
    # The report over time draws the same run: drift and model quality per window.
    history = (tmp_path / "demo" / "history.html").read_text()
    assert '<h2 id="performance">Model performance</h2>' in history
    assert "12 prediction window(s) with labels: 6 ok, 6 degraded; 12 final." in history
    assert "<title>performance.degraded performance-credit-" in history


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures logging process-wide; put it back for the tests that follow."""
    root = logging.getLogger()
    ours = logging.getLogger("drift_monitor")
    saved = (root.handlers[:], root.level, ours.level)
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    ours.setLevel(saved[2])


def test_demo_cli_fast(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the demo sets its webhook secret in the environment; undo it afterwards
    monkeypatch.setenv("DRIFT_MONITOR_DEMO_WEBHOOK_SECRET", "placeholder")
    assert main(["demo", "--fast", "--out", str(tmp_path / "d"), "--port", "0"]) == 0
    assert "next steps:" in capsys.readouterr().out


def test_json_logs_carry_structured_fields() -> None:
    record = logging.LogRecord(
        "drift_monitor.pipeline",
        logging.WARNING,
        __file__,
        1,
        "rejected event at %s/%d@%d",
        ("t", 3, 42),
        None,
    )
    record.model = "fraud"
    record.topic, record.partition, record.offset = "t", 3, 42
    doc = json.loads(JsonFormatter().format(record))
    assert doc["message"] == "rejected event at t/3@42"
    assert (doc["model"], doc["topic"], doc["partition"], doc["offset"]) == ("fraud", "t", 3, 42)
    assert doc["level"] == "warning" and doc["ts"].endswith("Z")
