"""Segment incidents (``episodes.segment_incidents``): a segment drifting alone opens
one ``drift.detected`` naming the segment and closes it with one ``drift.resolved``,
through the same episode state and report sink as the model's, exactly once even when
a sink fails between the model's step and the segment's and the window is retried.
Off by default: the same windows then open no incident at all."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from drift_monitor.baseline import Baseline, build_baseline
from drift_monitor.errors import SinkError
from drift_monitor.evaluation import DetectionSettings, Status, WindowResult, evaluate_frame
from drift_monitor.evaluation.episodes import EpisodeTracker, segment_key
from drift_monitor.evaluation.settings import EpisodeSettings
from drift_monitor.sinks.incidents import IncidentHandler
from drift_monitor.source.memory import MemoryReports
from tests.unit.evaluation.test_segments import frame

WINDOW_S = 60.0
T0 = 1_800_000_000.0
PLAN = "OOAAAOOOO"  # O clean, A only the US segment shifted


@pytest.fixture(scope="module")
def windows() -> list[WindowResult]:
    baseline: Baseline = build_baseline(
        frame(20_000, seed=1), "shop", version="v1", segment_by="country", segment_top_k=3
    )
    settings = DetectionSettings(segment_by="country")
    out = []
    for i, kind in enumerate(PLAN):
        r = evaluate_frame(
            frame(4_000, seed=50 + i, shift_us=2.5 if kind == "A" else 0.0), baseline, settings
        )
        start, end = T0 + i * WINDOW_S, T0 + (i + 1) * WINDOW_S
        segments = tuple(dataclasses.replace(s, start=start, end=end) for s in r.segments)
        out.append(dataclasses.replace(r, start=start, end=end, segments=segments))
    return out


def handler(path: Path, reports: MemoryReports, on: bool = True) -> IncidentHandler:
    settings = EpisodeSettings(enter_after=2, resolve_after=3, segment_incidents=on)
    return IncidentHandler(EpisodeTracker({"shop": settings}, path), None, reports)


def test_the_plan_drifts_only_the_us_segment(windows: list[WindowResult]) -> None:
    for kind, r in zip(PLAN, windows, strict=True):
        assert r.status != Status.ALERT  # the model itself never alerts
        assert [s.segment for s in r.drifted_segments] == (["US"] if kind == "A" else [])


def test_a_segment_drifting_alone_opens_and_resolves_one_incident(
    windows: list[WindowResult], tmp_path: Path
) -> None:
    reports = MemoryReports()
    h = handler(tmp_path / "episodes.json", reports)
    for r in windows:
        assert h.handle(r, r.end or 0.0) is None  # the model itself never transitions
        h.handle(r, r.end or 0.0)  # a retried window changes nothing
    bodies = [json.loads(body) for _, body in reports.acked]
    assert [(b["type"], b["segment"], b["segment_by"]) for b in bodies] == [
        ("drift.detected", "US", "country"),
        ("drift.resolved", "US", "country"),
    ]
    assert {k for k, _ in reports.acked} == {"shop"}
    detected = bodies[0]
    assert detected["id"] == bodies[1]["id"]
    assert detected["id"].startswith("drift-" + segment_key("shop", "US") + "-")
    assert detected["model"] == "shop" and detected["severity"] == "alert"
    assert {f["name"] for f in detected["drifted_features"]} == {"amount"}
    assert detected["window"]["events"] == windows[3].segments[1].events


def test_a_failure_between_the_model_and_the_segment_step_sends_once(
    windows: list[WindowResult], tmp_path: Path
) -> None:
    path = tmp_path / "episodes.json"
    reports = MemoryReports()
    h = handler(path, reports)
    for r in windows[:3]:
        h.handle(r, r.end or 0.0)
    reports.fail()  # the detecting window (the 2nd alerting one) cannot be flushed
    with pytest.raises(SinkError):
        h.handle(windows[3], windows[3].end or 0.0)
    reports.heal()
    # Restart: a new handler reads the episode state, the window is re-evaluated.
    h2 = handler(path, reports)
    for r in windows[3:]:
        h2.handle(r, r.end or 0.0)
    ids = {(json.loads(b)["type"], json.loads(b)["id"]) for _, b in reports.acked}
    assert sorted(t for t, _ in ids) == ["drift.detected", "drift.resolved"]
    assert len({i for _, i in ids}) == 1
    # A detected message published twice (before and after the failure) is one incident
    # to a consumer: same id; the outbox deduplicates webhooks on it.


def test_segment_incidents_are_off_by_default(windows: list[WindowResult], tmp_path: Path) -> None:
    reports = MemoryReports()
    h = handler(tmp_path / "episodes.json", reports, on=False)
    for r in windows:
        h.handle(r, r.end or 0.0)
    assert reports.acked == []
    assert EpisodeSettings().segment_incidents is False
