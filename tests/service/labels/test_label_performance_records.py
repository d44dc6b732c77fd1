"""``window.performance`` records from the daemon: every evaluated prediction window on
the report topic (provisional and final), each final one also in the window audit log;
a final window's record once across a clean restart, and never lost when the report
topic fails (the window is not durably final before its record is acknowledged);
``report --from`` draws them."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.cli import main
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.loop import Backoff
from drift_monitor.source.memory import MemoryReports
from tests.service.labels.support import LabelDaemon, label_config
from tests.services.labels import T0, WINDOW_S, labelled_stream, sklearn_metrics
from tests.services.streams import iso

WINDOWS = 6


class RecordingDaemon(LabelDaemon):
    """LabelDaemon with a report topic and the window audit log."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        labels: dict[str, Any] | None = None,
    ) -> None:
        self.reports = MemoryReports()
        self.earlier: list[tuple[str, bytes]] = []  # acknowledged before a crash
        super().__init__(tmp_path, monkeypatch, labels)
        doc = label_config(tmp_path, labels)
        doc["state"]["audit_windows"] = True
        self.config = validate_config(doc, "labels test config")
        self.drop()
        self.monitor = self._monitor()

    def _monitor(self) -> Monitor:
        mon = Monitor(
            self.config,
            self.source,
            clock=self.clock,
            transport=self.transport,
            serve_http=False,
            reports=self.reports,
        )
        mon.loop.backoff = Backoff(initial=0.0, maximum=0.0)
        return mon

    def restart(self) -> None:
        """kill -9: what the producer had not had acknowledged is lost with it."""
        self.earlier.extend(self.reports.acked)
        self.reports = MemoryReports()
        super().restart()

    def clean_restart(self) -> None:
        self.monitor.shutdown()
        self.monitor = self._monitor()

    def acked(self) -> list[dict[str, Any]]:
        docs = [json.loads(body) for _, body in [*self.earlier, *self.reports.acked]]
        return [d for d in docs if d["type"] == "window.performance"]

    def audited(self) -> list[dict[str, Any]]:
        path = Path(self.config.state.dir) / "windows-audit.jsonl"
        docs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [d for d in docs if d.get("type") == "window.performance"]


def _finals(docs: list[dict[str, Any]]) -> Counter[str]:
    return Counter(d["window"]["start"] for d in docs if d["final"])


def _tested() -> set[str]:
    return {iso(T0 + w * WINDOW_S) for w in range(WINDOWS)}


def test_every_final_window_is_published_once_across_a_clean_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    d = RecordingDaemon(tmp_path, monkeypatch)
    stream = labelled_stream(WINDOWS, 100, never=0.1, early=0.1, dup=0.1, tail_windows=6)
    half = len(stream.items) // 2
    d.feed_in_order(stream.items[:half])
    d.drain()
    assert _finals(d.acked()), "some windows became final before the restart"
    d.clean_restart()
    d.feed_in_order(stream.items[half:])
    d.drain()
    d.monitor.shutdown()

    published, audited = d.acked(), d.audited()
    finals = _finals(published)
    assert _tested() <= set(finals)
    assert set(finals.values()) == {1}, finals  # each final window once, restart included
    assert _finals(audited) == finals  # the audit log holds exactly the final ones
    assert all(a["final"] for a in audited)
    assert any(not p["final"] for p in published), "provisional updates are published"
    by_start = {p["window"]["start"]: p for p in published if p["final"]}
    for w in range(WINDOWS):
        rec = by_start[iso(T0 + w * WINDOW_S)]
        y, s, _ = stream.expected(w)
        tracked = sum(1 for t in stream.truth.values() if t[0] == w)
        assert (rec["model"], rec["task"]) == ("m", "binary")
        assert (rec["tracked"], rec["joined"], rec["labels"]) == (tracked, len(y), len(y))
        assert rec["window"]["end_ms"] - rec["window"]["start_ms"] == WINDOW_S * 1000
        for metric, want in sklearn_metrics(y, s).items():
            assert rec["metrics"][metric] == pytest.approx(want, abs=1e-9), (w, metric)
        assert rec["verdict"] == "ok"

    # report --from draws them (audit log + a dump of the report topic)
    audit = Path(d.config.state.dir) / "windows-audit.jsonl"
    dump = tmp_path / "topic.jsonl"
    dump.write_bytes(b"".join(body + b"\n" for _, body in d.reports.acked))
    out = tmp_path / "r.html"
    argv = ["report", "--from", str(audit), "--from", str(dump), "--model", "m"]
    assert main([*argv, "--out", str(out)]) == 0
    page = out.read_text()
    assert '<h2 id="performance">Model performance</h2>' in page
    m = re.search(r"(\d+) prediction window\(s\) with labels: .*?; (\d+) final\.", page)
    assert m is not None, "the performance section counts its windows"
    windows = {p["window"]["start"] for p in published}  # tail windows stay provisional
    assert (int(m.group(1)), int(m.group(2))) == (len(windows), len(finals))


def test_a_failing_report_topic_loses_no_final_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report topic fails (flush) while windows become final; the daemon is dropped
    without a commit (kill -9) and restarted once it works: every final window's
    record is acknowledged (at least once), the join counts each label once."""
    d = RecordingDaemon(tmp_path, monkeypatch)
    stream = labelled_stream(WINDOWS, 100, never=0.1, early=0.1, dup=0.1, tail_windows=6)
    half = len(stream.items) // 2
    d.feed_in_order(stream.items[:half])
    d.drain()
    before = d.commits()
    d.reports.fail("injected: report topic down")
    d.feed_in_order(stream.items[half:])
    d.rounds(30)
    assert d.commits() == before, "no commit while the report topic cannot flush"
    sent = [json.loads(body) for _, body in d.reports.messages]
    unacked = set(_finals([r for r in sent if r["type"] == "window.performance"]))
    unacked -= set(_finals(d.acked()))
    assert unacked, "windows became final (records handed over) while the topic failed"
    # kill -9: the finalisations since the failure were never flushed to the store.
    d.restart()  # with a report topic that works again
    d.drain()
    finals = _finals(d.acked())
    assert _tested() <= set(finals), finals
    assert unacked <= set(finals), "re-finalised after the restart, and published"
    final = {r["window"]["start"]: r for r in d.acked() if r["final"]}
    for w in range(WINDOWS):
        y, _, _ = stream.expected(w)
        assert final[iso(T0 + w * WINDOW_S)]["joined"] == len(y), w  # each label once


def test_open_windows_are_scored_at_most_every_evaluate_every_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same stream with open windows scored on every tick (0) and at most every
    60 s (the test clock moves 3 s per round): far fewer provisional evaluations, the
    same final records (finality and final scores do not depend on it)."""
    stream = labelled_stream(WINDOWS, 100, never=0.1, early=0.1, dup=0.1, tail_windows=6)
    runs = {}
    for every in (0.0, 60.0):
        d = RecordingDaemon(tmp_path / str(every), monkeypatch, {"evaluate_every_seconds": every})
        start = d.clock.now()
        d.feed_in_order(stream.items, chunk=100)
        d.drain()
        elapsed = d.clock.now() - start
        runs[every] = (d.acked(), elapsed)
        d.monitor.shutdown()
    every_tick, _ = runs[0.0]
    sparse, elapsed = runs[60.0]
    provisional = Counter(r["window"]["start"] for r in sparse if not r["final"])
    # at most one scoring of a window per 60 s of clock (plus the first one)
    assert provisional and max(provisional.values()) <= elapsed // 60 + 1, provisional
    assert len([r for r in every_tick if not r["final"]]) > 2 * sum(provisional.values())

    def finals(recs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {r["window"]["start"]: r for r in recs if r["final"]}

    assert finals(sparse) == finals(every_tick)
    assert _tested() <= set(finals(sparse))
