"""EpisodeTracker: hysteresis from window verdicts to incidents, on real verdicts.

Every WindowResult here comes from ``evaluate_window`` on generated data: a baseline
of two normal columns, and windows whose column ``x`` is shifted by a chosen number of
standard deviations. Only PSI decides (``numeric_decision=["psi"]``), so a window's
status is exactly "which side of the PSI thresholds (0.1 / 0.25) did ``x`` land on":

- ``A``: x shifted by 0.65 sd -> PSI ~0.4   -> alert
- ``W``: x shifted by 0.35 sd -> PSI ~0.15  -> warning (clean for the hysteresis)
- ``O``: no shift            -> PSI ~0.005 -> ok
- ``I``: 40 events < min_events 100        -> insufficient_data

A plan string like ``"AAWAO"`` is a sequence of consecutive event-time windows.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import Baseline, build_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.config.models import EpisodeSettings
from drift_monitor.errors import ConfigError
from drift_monitor.evaluation import DetectionSettings, Status, evaluate_window
from drift_monitor.evaluation.episodes import EpisodeTracker, Transition, episode_id
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.sinks.incidents import IncidentHandler
from drift_monitor.webhooks import (
    Dispatcher,
    MemoryTransport,
    Outbox,
    WebhookSettings,
    verify,
)
from drift_monitor.windows.data import WindowData

MODEL = "scorer"
SIZE = 300.0
T0 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC).timestamp()
PSI_ALERT = 0.25
SHIFTS = {"A": 0.65, "W": 0.35, "O": 0.0, "I": 0.0}
EXPECTED = {
    "A": Status.ALERT,
    "W": Status.WARNING,
    "O": Status.OK,
    "I": Status.INSUFFICIENT_DATA,
}
# Fixed thresholds: the letters are defined by the fixed PSI levels 0.1 / 0.25 (with
# calibrated ones, at 2 000 events a PSI of 0.15 is past the alert floor 0.1).
DETECTION = DetectionSettings(numeric_decision=["psi"], threshold_mode="fixed")


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"x": rng.normal(0.0, 1.0, 20_000), "y": rng.normal(5.0, 2.0, 20_000)})
    return build_baseline(frame, MODEL, version="v1", source="tests.incidents")


class Windows:
    """Consecutive windows of real verdicts, generated from plan letters."""

    def __init__(self, baseline: Baseline, seed: int = 2026) -> None:
        self.baseline = baseline
        self.rng = np.random.default_rng(seed)
        self.index = 0

    def one(self, letter: str) -> WindowResult:
        n = 40 if letter == "I" else 2_000
        start = T0 + self.index * SIZE
        self.index += 1
        data = WindowData(
            events=n,
            numeric={
                "x": self.rng.normal(SHIFTS[letter], 1.0, n),
                "y": self.rng.normal(5.0, 2.0, n),
            },
            start=start,
            end=start + SIZE,
        )
        result = evaluate_window(self.baseline, data, DETECTION)
        # The fixture is only meaningful if the verdicts are what the letters say.
        assert result.status == EXPECTED[letter], (letter, result.status, psi_of(result))
        return result

    def plan(self, plan: str) -> list[WindowResult]:
        return [self.one(letter) for letter in plan]


def end(result: WindowResult) -> float:
    assert result.end is not None
    return result.end


def psi_of(result: WindowResult) -> float | None:
    col = next(c for c in result.columns if c.name == "x")
    test = col.tests.get("psi")
    return None if test is None else test.statistic


def tracker(
    enter_after: int = 2,
    resolve_after: int = 3,
    cooldown_seconds: float = 0.0,
    path: Path | None = None,
) -> EpisodeTracker:
    settings = EpisodeSettings(
        enter_after=enter_after, resolve_after=resolve_after, cooldown_seconds=cooldown_seconds
    )
    return EpisodeTracker({MODEL: settings}, path)


def feed(t: EpisodeTracker, results: Iterable[WindowResult]) -> list[Transition | None]:
    return [t.observe(r) for r in results]


def fired(transitions: list[Transition | None]) -> list[tuple[int, str, str]]:
    """(window index, type, id) of every transition."""
    return [(i, x.type, x.episode_id) for i, x in enumerate(transitions) if x is not None]


def types(transitions: list[Transition | None]) -> list[str]:
    return [x.type for x in transitions if x is not None]


# -- the building blocks ------------------------------------------------------------


def test_generated_windows_are_real_verdicts_on_both_sides_of_the_threshold(
    baseline: Baseline,
) -> None:
    results = Windows(baseline).plan("AWOI" * 3)
    for letter, r in zip("AWOI" * 3, results, strict=True):
        psi = psi_of(r)
        if letter == "A":
            assert psi is not None and psi >= PSI_ALERT
        elif letter == "W":
            assert psi is not None and 0.1 <= psi < PSI_ALERT
        elif letter == "O":
            assert psi is not None and psi < 0.1
        else:
            assert psi is None  # insufficient data: no statistic at all
    ends = [end(r) for r in results]
    assert ends == sorted(ends) and len(set(ends)) == len(ends)


def test_enters_after_k_consecutive_alerting_windows(baseline: Baseline) -> None:
    results = Windows(baseline).plan("AAOAAA")
    got = fired(feed(tracker(enter_after=3), results))
    assert got == [(5, "drift.detected", episode_id(MODEL, end(results[5])))]


def test_enter_after_1_opens_on_the_first_alerting_window(baseline: Baseline) -> None:
    results = Windows(baseline).plan("OA")
    assert fired(feed(tracker(enter_after=1), results)) == [
        (1, "drift.detected", episode_id(MODEL, end(results[1])))
    ]


def test_resolves_after_m_consecutive_clean_windows_ok_or_warning(baseline: Baseline) -> None:
    results = Windows(baseline).plan("AA" + "OW" + "A" + "OWO")
    got = fired(feed(tracker(enter_after=2, resolve_after=3), results))
    ident = episode_id(MODEL, end(results[1]))
    # The alert at index 4 reset the clean run of 2; only the next 3 clean ones resolve.
    assert got == [(1, "drift.detected", ident), (7, "drift.resolved", ident)]


def test_insufficient_data_neither_extends_nor_breaks_an_alert_run(baseline: Baseline) -> None:
    w = Windows(baseline)
    t = tracker(enter_after=2)
    # A run of 1 alert, then sparse windows: they do not count as alerts ...
    assert types(feed(t, w.plan("AII"))) == []
    assert t.state(MODEL).alert_run == 1
    # ... and do not break the run either: the next alert is the 2nd consecutive one.
    results = w.plan("A")
    assert fired(feed(t, results)) == [(0, "drift.detected", episode_id(MODEL, end(results[0])))]


def test_insufficient_data_neither_extends_nor_breaks_a_clean_run(baseline: Baseline) -> None:
    w = Windows(baseline)
    t = tracker(enter_after=1, resolve_after=3)
    assert types(feed(t, w.plan("A"))) == ["drift.detected"]
    assert types(feed(t, w.plan("OIOII"))) == []  # 2 clean windows so far
    assert t.state(MODEL).clean_run == 2 and t.in_episode(MODEL)
    assert types(feed(t, w.plan("IO"))) == ["drift.resolved"]


def test_cooldown_blocks_a_new_episode_until_it_has_passed(baseline: Baseline) -> None:
    results = Windows(baseline).plan("AO" + "AAAA")
    t = tracker(enter_after=1, resolve_after=1, cooldown_seconds=3 * SIZE)
    got = fired(feed(t, results))
    first = episode_id(MODEL, end(results[0]))
    second = episode_id(MODEL, end(results[4]))
    # Resolved at the end of window 1; windows 2, 3 and 4 end 300, 600 and 900 s later:
    # the first two are inside the 900 s cooldown, window 4 is the first one past it.
    assert end(results[4]) - end(results[1]) == 3 * SIZE
    assert got == [
        (0, "drift.detected", first),
        (1, "drift.resolved", first),
        (4, "drift.detected", second),
    ]
    assert second != first


def test_without_cooldown_a_new_episode_opens_at_once(baseline: Baseline) -> None:
    results = Windows(baseline).plan("AOA")
    got = types(feed(tracker(enter_after=1, resolve_after=1), results))
    assert got == ["drift.detected", "drift.resolved", "drift.detected"]


def test_a_replayed_window_is_ignored(baseline: Baseline) -> None:
    results = Windows(baseline).plan("AAO")
    t = tracker(enter_after=2, resolve_after=1)
    assert types(feed(t, results[:2])) == ["drift.detected"]
    before = t.state(MODEL)
    snapshot = (before.alert_run, before.clean_run, before.episode_id, before.last_window_end)
    # The same windows again (a re-read after a restart), and an older one: no effect.
    assert feed(t, [results[1], results[0], results[1]]) == [None, None, None]
    st = t.state(MODEL)
    assert (st.alert_run, st.clean_run, st.episode_id, st.last_window_end) == snapshot
    # A clean window replayed with an old end does not count towards resolving either.
    old_clean = Windows(baseline).plan("O")[0]
    assert st.last_window_end is not None and end(old_clean) <= st.last_window_end
    assert t.observe(old_clean) is None and t.in_episode(MODEL)
    assert types(feed(t, results[2:])) == ["drift.resolved"]


def test_ids_are_stable_and_survive_a_save_and_reload(baseline: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "episodes.json"
    results = Windows(baseline).plan("OAAWOAOWO")
    first = tracker(path=path)
    opened = fired(feed(first, results[:3]))
    first.save()
    ident = episode_id(MODEL, end(results[2]))
    assert opened == [(2, "drift.detected", ident)]
    assert json.loads(path.read_text())["models"][MODEL]["episode_id"] == ident

    again = tracker(path=path)  # a restarted process
    assert again.in_episode(MODEL) and again.state(MODEL).episode_id == ident
    # The replayed window that opened it is ignored; the rest resolves the same incident.
    rest = feed(again, results[2:])
    assert fired(rest) == [(6, "drift.resolved", ident)]
    again.save()
    assert tracker(path=path).in_episode(MODEL) is False


def test_a_crash_between_observe_and_save_rederives_the_same_id(
    baseline: Baseline, tmp_path: Path
) -> None:
    path = tmp_path / "episodes.json"
    results = Windows(baseline).plan("AA")
    t = tracker(path=path)
    t.observe(results[0])
    t.save()
    lost = t.observe(results[1])  # the process dies before save()
    assert lost is not None and lost.type == "drift.detected"
    again = tracker(path=path)
    replayed = again.observe(results[1])
    assert replayed is not None and replayed.episode_id == lost.episode_id


def test_an_unreadable_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "episodes.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read episode state"):
        tracker(path=path)


# -- a column oscillating around the alert threshold --------------------------------
#
# x's PSI alternates above and below 0.25 window after window. Whether that is one
# incident or a storm depends only on the longest runs of the oscillation:
#   - an alternating stream has alert runs of 1 and clean runs of 1;
#   - it can only OPEN an incident when enter_after <= 1 (or after a longer alert run);
#   - an open incident only RESOLVES when resolve_after <= 1: every alert window resets
#     the clean run, so with resolve_after >= 2 it stays open until the column settles.
# So enter_after=2/resolve_after=3 gives no incident for pure alternation and exactly
# one for "sustained drift, then oscillation, then calm"; enter_after=1/resolve_after=3
# gives exactly one that stays open; enter_after=1/resolve_after=1 flaps.

OSCILLATION = "AW" * 10


def test_oscillating_psi_crosses_the_alert_threshold_every_other_window(
    baseline: Baseline,
) -> None:
    results = Windows(baseline).plan(OSCILLATION)
    psis = [psi_of(r) or 0.0 for r in results]
    above = [p >= PSI_ALERT for p in psis]
    assert above == [True, False] * 10, psis
    assert [r.status for r in results] == [Status.ALERT, Status.WARNING] * 10


def test_pure_oscillation_never_opens_with_enter_after_2(baseline: Baseline) -> None:
    t = tracker(enter_after=2, resolve_after=3)
    runs = []
    for r in Windows(baseline).plan(OSCILLATION):
        assert t.observe(r) is None
        runs.append(t.state(MODEL).alert_run)
    # Why: the alert run never reaches enter_after=2, each warning window resets it.
    assert max(runs) == 1


def test_oscillation_after_sustained_drift_is_exactly_one_incident(baseline: Baseline) -> None:
    plan = "AA" + OSCILLATION + "AOWO"
    results = Windows(baseline).plan(plan)
    t = tracker(enter_after=2, resolve_after=3)
    clean_runs = []
    transitions = []
    for r in results:
        transitions.append(t.observe(r))
        clean_runs.append(t.state(MODEL).clean_run)
    got = fired(transitions)
    ident = episode_id(MODEL, end(results[1]))
    assert got == [(1, "drift.detected", ident), (len(plan) - 1, "drift.resolved", ident)]
    # Why it stays open through the oscillation: the clean run never reaches 3 there.
    assert max(clean_runs[2 : 2 + len(OSCILLATION)]) == 1


def test_oscillation_with_enter_after_1_is_one_incident_that_stays_open(
    baseline: Baseline,
) -> None:
    results = Windows(baseline).plan(OSCILLATION)
    t = tracker(enter_after=1, resolve_after=3)
    got = fired(feed(t, results))
    assert got == [(0, "drift.detected", episode_id(MODEL, end(results[0])))]
    assert t.in_episode(MODEL)


@pytest.mark.parametrize(
    ("resolve_after", "incidents"),
    [(1, 10), (2, 1), (3, 1), (5, 1)],
)
def test_only_resolve_after_1_turns_an_oscillation_into_an_incident_per_window(
    baseline: Baseline, resolve_after: int, incidents: int
) -> None:
    results = Windows(baseline).plan(OSCILLATION)
    got = types(feed(tracker(enter_after=1, resolve_after=resolve_after), results))
    assert got.count("drift.detected") == incidents
    assert got.count("drift.resolved") == (incidents if resolve_after == 1 else 0)


def test_the_incident_handler_sends_one_webhook_per_transition_for_an_oscillation(
    baseline: Baseline, tmp_path: Path
) -> None:
    """Through IncidentHandler, the durable outbox and the dispatcher: one
    drift.detected and one drift.resolved webhook for a whole oscillating episode."""
    secret = "incidents-unit-secret"
    settings = WebhookSettings.model_validate(
        {
            "allow_networks": ["127.0.0.0/8"],
            "targets": [{"name": "r", "url": "http://127.0.0.1:9/h", "secret": {"value": secret}}],
        }
    )
    clock = ManualClock(T0)
    transport = MemoryTransport()
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    dispatcher = Dispatcher(outbox, settings, transport, clock, random.Random(0))
    handler = IncidentHandler(tracker(path=tmp_path / "episodes.json"), dispatcher)
    for r in Windows(baseline).plan("AA" + OSCILLATION + "OOO"):
        clock.set(end(r))
        handler.handle(r, clock.now())
        seen = len(transport.requests)
        dispatcher.deliver_due()
        for req in transport.requests[seen:]:  # signed now, verified now
            verify(secret, req.headers, req.body, now=clock.now())
    outbox.close()
    sent = [json.loads(req.body) for req in transport.requests]
    assert [b["type"] for b in sent] == ["drift.detected", "drift.resolved"]
    assert sent[0]["id"] == sent[1]["id"]
    assert {f["name"] for f in sent[0]["drifted_features"]} == {"x"}
