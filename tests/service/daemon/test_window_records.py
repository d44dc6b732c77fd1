"""Every evaluated window as one record: on the report sink (keyed by model, beside the
incidents), in the audit log (the same record), in /status (the last N), and as the
input of ``drift-monitor report --from``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.cli import main
from drift_monitor.clock import ManualClock
from drift_monitor.config import AppConfig
from drift_monitor.daemon import Monitor
from drift_monitor.evaluation.results import Status
from drift_monitor.http.server import status_document
from drift_monitor.source.memory import MemoryReports, MemorySource
from tests.service.daemon.sink_faults import WINDOW2_FIRST, WINDOW3_FIRST, FaultyDaemon, values
from tests.service.daemon.support import T0, run, stream

LABELS = {s.label for s in Status}
COLUMNS = {"x", "y", "c", "score"}


def _run(cfg: AppConfig) -> tuple[Monitor, MemoryReports]:
    src, reports = MemorySource(), MemoryReports()
    for v in stream(6000, drift_from=2400):  # 300 s of events: windows 0..3 close
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(T0 + 3600), reports=reports, serve_http=False)
    run(mon)
    return mon, reports


def _records(reports: MemoryReports) -> list[dict[str, Any]]:
    out = []
    for key, body in reports.acked:
        doc = json.loads(body)
        if doc["type"] == "window.evaluated":
            assert key == "m"
            out.append(doc)
    return out


def test_every_window_is_one_record_on_the_report_sink_and_in_the_audit_log(
    setup: tuple[AppConfig, Path],
) -> None:
    cfg, tmp = setup
    mon, reports = _run(cfg)
    mon.shutdown()
    records = _records(reports)
    closed = mon.state.windows_closed["m"]
    assert closed == 4 and len(records) == closed
    for i, r in enumerate(records):
        w = r["window"]
        assert isinstance(w, dict)
        assert (w["start_ms"], w["end_ms"]) == (
            round((T0 + 60 * i) * 1000),
            round((T0 + 60 * (i + 1)) * 1000),
        )
        assert w["start"].endswith(".000Z") and w["events"] == r["events"] == 1200
        assert r["model"] == "m" and r["baseline_version"] == "v1" and r["status"] in LABELS
        features = r["features"]
        assert isinstance(features, list) and {f["name"] for f in features} == COLUMNS
        for f in features:
            assert f["status"] in LABELS and f["tests"], f
            for t in f["tests"].values():
                assert set(t) >= {"statistic", "p_value"}
    # the drift (x shifts from event 2400, i.e. from window 2) shows in the records
    x_status = [next(f["status"] for f in r["features"] if f["name"] == "x") for r in records]
    assert x_status[:2] == ["ok", "ok"] and x_status[2:] == ["alert", "alert"]
    # the incident is still published once, told apart by its type
    incidents = [json.loads(b)["type"] for _, b in reports.acked]
    assert incidents.count("drift.detected") == 1
    # the audit log holds the same record (plus the bounds in seconds and the ids)
    audit = [
        json.loads(line)
        for line in (tmp / "state" / "windows-audit.jsonl").read_text().splitlines()
    ]
    assert len(audit) == closed
    for a, r in zip(audit, records, strict=True):
        assert {k: v for k, v in a.items() if k not in ("start", "end", "ids")} == r
        assert a["end"] * 1000 == r["window"]["end_ms"] and len(a["ids"]) == 1200


def test_status_keeps_the_last_n_windows_newest_first_in_ms(setup: tuple[AppConfig, Path]) -> None:
    cfg, _ = setup
    cfg = cfg.model_copy(update={"http": cfg.http.model_copy(update={"status_windows": 3})})
    mon, _ = _run(cfg)
    doc = status_document(mon.state)["models"]["m"]
    mon.shutdown()
    ends = [w["window"]["end_ms"] for w in doc["windows"]]
    assert ends == [round((T0 + 60 * k) * 1000) for k in (4, 3, 2)]
    assert doc["windows"][0]["status"] == "alert" and doc["windows"][0]["drifted"] == ["x"]
    assert doc["windows"][-1]["window"]["start"] == "2026-11-26T10:01:00.000Z"
    assert doc["window"]["end_ms"] == ends[0] and doc["window"]["end"].endswith(":04:00.000Z")


def test_report_from_the_audit_log_and_a_topic_dump(
    setup: tuple[AppConfig, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, tmp = setup
    mon, reports = _run(cfg)
    mon.shutdown()
    audit = tmp / "state" / "windows-audit.jsonl"
    with audit.open("a") as fh:
        fh.write('{"model": "m", "torn')  # a torn last line (kill -9) is skipped
    dump = tmp / "topic.jsonl"
    dump.write_bytes(b"".join(body + b"\n" for _, body in reports.acked))
    out = tmp / "r.html"
    args = ["report", "--from", str(audit), "--from", str(dump), "--model", "m"]
    assert main([*args, "--out", str(out)]) == 0
    assert "4 window(s), 1 incident(s), 1 unreadable line(s) skipped" in capsys.readouterr().err
    page = out.read_text()
    # a strip cell per window (4 windows, each an SVG rect with a tooltip) and one
    # section per column, x (the drifted one) first
    assert len(re.findall(r"<title>2026-11-26T10:0\d:00.000Z – ", page)) == 4
    sections = re.findall(r'<section class="col st-(\w+)" id="col-\d+"><h3>(\w+) ', page)
    assert sections[0] == ("alert", "x") and {n for _, n in sections} == COLUMNS
    # the incident is marked on every chart (strip + each test chart)
    charts = page.count("<svg ")
    assert page.count("<title>drift.detected ") == charts > 4
    # every statistic point of x's KS chart is there with its status colour
    assert page.count("<title>2026-11-26T10:0") >= 4 * (1 + 1)

    # a model without records: one line naming the file and the models found, exit 2
    assert main(["report", "--from", str(dump), "--model", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "\n" not in err
        and "no window records of model 'nope'" in err
        and "(models found: m)" in err
    )


@pytest.mark.parametrize("on_send", [False, True], ids=["flush_fails", "send_fails"])
def test_a_failing_report_sink_holds_the_commit_and_each_record_goes_out_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, on_send: bool
) -> None:
    """The window record follows the delivery invariant: no commit past a window whose
    record was not acknowledged; after healing, exactly one record per window is handed
    to the producer (a retried window is not handed over twice) and acknowledged."""
    d = FaultyDaemon(tmp_path, monkeypatch)
    try:
        items = values()
        d.feed(items[:WINDOW3_FIRST])
        d.rounds(5)
        assert max(d.committed_offsets()) == WINDOW2_FIRST
        d.reports.fail(on_send=on_send)
        d.feed(items[WINDOW3_FIRST:])  # closes window 2: its record cannot be acked
        d.rounds(20)
        assert max(d.committed_offsets()) == WINDOW2_FIRST
        assert d.reports.failures > 0
        d.reports.heal()
        d.drain()
        assert max(d.committed_offsets()) == WINDOW3_FIRST
        ends = [round((T0 + 60 * (k + 1)) * 1000) for k in range(3)]
        for sent in (d.reports.messages, d.reports.acked):
            docs = [json.loads(b) for _, b in sent]
            assert [r["window"]["end_ms"] for r in docs if r["type"] == "window.evaluated"] == ends
            assert [r["type"] for r in docs if r["type"] != "window.evaluated"] == [
                "drift.detected"
            ]
    finally:
        d.monitor.shutdown()
