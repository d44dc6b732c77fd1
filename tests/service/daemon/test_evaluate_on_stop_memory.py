"""``run --evaluate-on-stop`` / ``window.evaluate_on_stop`` in process (the broker test
is tests/system/incidents/test_evaluate_on_stop.py): what the stop evaluates, what it
commits, and that the flag parses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from drift_monitor.checkpoint.metadata import CommitMetadata
from drift_monitor.cli import build_parser
from drift_monitor.clock import ManualClock
from drift_monitor.daemon import Monitor
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.support import T0, make_setup, run, stream

N = 600  # 30 s of event time: one open 60 s window, its end never reached


def _audit(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "state" / "windows-audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _stopped(tmp_path: Path, *, flag: bool, config: bool) -> tuple[Monitor, MemorySource]:
    cfg, _ = make_setup(tmp_path)
    if config:
        model = cfg.models[0]
        window = model.window.model_copy(update={"evaluate_on_stop": True})
        cfg = cfg.model_copy(update={"models": [model.model_copy(update={"window": window})]})
    src = MemorySource()
    for v in stream(N, drift_from=0):
        src.append("t", v, b"m")
    mon = Monitor(cfg, src, clock=ManualClock(T0 + 45), serve_http=False, evaluate_on_stop=flag)
    run(mon, 20)
    assert mon.pipeline.windows["m"].first_offsets() == {("t", 0): 0}  # open, holding
    mon.stop()
    mon.run()  # returns at once: the stop is set; evaluates (or not), commits, closes
    return mon, src


@pytest.mark.parametrize(("flag", "config"), [(True, False), (False, True)])
def test_the_stop_evaluates_the_open_window_and_commits_past_it(
    tmp_path: Path, flag: bool, config: bool
) -> None:
    mon, src = _stopped(tmp_path, flag=flag, config=config)
    windows = _audit(tmp_path)
    assert [(w["start"], w["events"]) for w in windows] == [(T0, N)]
    assert mon.pipeline.acked == 1
    commit = src.committed(("t", 0))
    assert commit is not None and commit.offset == N  # nothing left to re-read
    meta = CommitMetadata.decode(commit.metadata, ["m"])
    assert meta.closed["m"] == T0 + 60  # a restart treats the window as evaluated


def test_without_it_the_stop_evaluates_nothing_and_holds_the_commit(tmp_path: Path) -> None:
    mon, src = _stopped(tmp_path, flag=False, config=False)
    assert _audit(tmp_path) == []
    assert mon.pipeline.acked == 0
    commit = src.committed(("t", 0))
    assert commit is None or commit.offset == 0  # the open window's events are re-read
    if commit is not None and commit.metadata:
        meta = CommitMetadata.decode(commit.metadata, ["m"])
        assert not math.isfinite(meta.closed.get("m", -math.inf))


def test_the_run_flag_parses() -> None:
    p = build_parser()
    assert p.parse_args(["run", "--config", "c.yaml", "--evaluate-on-stop"]).evaluate_on_stop
    assert not p.parse_args(["run", "--config", "c.yaml"]).evaluate_on_stop
