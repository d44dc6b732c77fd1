"""Performance episodes: the drift state machine on final windows' verdicts, with its own
transition types and ids."""

from __future__ import annotations

from pathlib import Path

from drift_monitor.evaluation.episodes import EpisodeTracker
from drift_monitor.evaluation.results import Status
from drift_monitor.evaluation.settings import EpisodeSettings

T = 1_795_000_020.0


def test_degraded_recovered_once_each_with_one_id(tmp_path: Path) -> None:
    tracker = EpisodeTracker(
        {"m": EpisodeSettings(enter_after=2, resolve_after=2)},
        tmp_path / "performance-episodes.json",
        kind="performance",
    )
    verdicts = [
        Status.OK,
        Status.ALERT,
        Status.INSUFFICIENT_DATA,  # neither extends nor breaks the run
        Status.ALERT,
        Status.ALERT,
        Status.OK,
        Status.OK,
        Status.OK,
    ]
    seen = []
    for i, status in enumerate(verdicts):
        step = tracker.propose_status("m", T + 60 * (i + 1), status)
        assert step is not None
        tracker.commit(step)
        if step.transition is not None:
            seen.append((i, step.transition.type, step.transition.episode_id))
    assert [(i, t) for i, t, _ in seen] == [
        (3, "performance.degraded"),
        (6, "performance.recovered"),
    ]
    assert seen[0][2] == seen[1][2] == "performance-m-20261118T111100000Z"
    # A replayed window (after a crash) proposes nothing, also from the saved state.
    again = EpisodeTracker({}, tmp_path / "performance-episodes.json", kind="performance")
    assert again.propose_status("m", T + 60 * 4, Status.ALERT) is None


def test_drift_ids_are_unchanged(tmp_path: Path) -> None:
    tracker = EpisodeTracker({"m": EpisodeSettings(enter_after=1)})
    step = tracker.propose_status("m", T, Status.ALERT)
    assert step is not None and step.transition is not None
    assert step.transition.type == "drift.detected"
    assert step.transition.episode_id == "drift-m-20261118T110700000Z"
