"""The decision hooks: window verdicts -> drift episodes, final prediction windows' performance
-> performance episodes; both -> webhooks (durable outbox) and the report topic."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from drift_monitor.evaluation.episodes import EpisodeTracker, Transition, segment_key
from drift_monitor.evaluation.results import Status, WindowResult, json_number, json_time
from drift_monitor.labels.decision import MetricVerdict, PerformanceStatus
from drift_monitor.labels.tracker import WindowPerformance
from drift_monitor.source.base import ReportSink
from drift_monitor.stats.performance import HIGHER_IS_BETTER
from drift_monitor.webhooks.delivery import Dispatcher
from drift_monitor.webhooks.payload import Trigger, canonical_json

log = logging.getLogger("drift_monitor.incidents")

_PUBLISHED_KEPT = 1_000  # incidents remembered; far more than can be in flight


def incident_body(
    transition: Transition, detected_at: float, segment_by: str | None = None
) -> dict[str, Any]:
    """The SPEC webhook body for an episode transition.

    ``drifted_features`` lists, for every alerting column of the window (worst first),
    each deciding test that alerted, with its statistic, raw p-value and alert threshold.
    A segment's incident (``episodes.segment_incidents``) also carries ``segment_by`` and
    ``segment``, and its window, features and share are the segment's.
    """
    r = transition.result
    if r is None:
        raise ValueError(f"{transition.type} has no drift window: see performance_body")
    features: list[dict[str, Any]] = []
    for c in r.drifted:
        for t in c.tests.values():
            if t.status is not None and t.status >= Status.WARNING:
                features.append(
                    {
                        "name": c.name,
                        "kind": c.kind,
                        "test": t.test,
                        "statistic": json_number(t.statistic),
                        "p_value": json_number(t.p_value),
                        "threshold": t.threshold,
                        "status": t.status.label,
                    }
                )
    return {
        "type": transition.type,
        "id": transition.episode_id,
        "model": r.model,
        "baseline_version": r.baseline_version,
        "severity": "alert" if transition.type == "drift.detected" else r.status.label,
        "window": {
            "start": json_time(r.start, "milliseconds"),
            "end": json_time(r.end, "milliseconds"),
            "events": r.events,
        },
        "drifted_features": features,
        "drift_share": r.drift_share,
        "detected_at": json_time(detected_at, "milliseconds"),
        **({"segment_by": segment_by, "segment": r.segment} if r.segment is not None else {}),
    }


class Handoff:
    """Hands a transition's body on: to the webhook outbox (which deduplicates on the
    incident id) and to the report topic, then flushes the report producer. A
    (incident id, type) handed to the report producer by this process is not published
    again by a retried window (the producer keeps and retries its copy). Raises
    SinkError when an effect is not durable."""

    def __init__(self, dispatcher: Dispatcher | None, reports: ReportSink | None) -> None:
        self._dispatcher = dispatcher
        self._reports = reports
        self._published: dict[tuple[str, str], None] = {}

    def __call__(self, transition: Transition, model: str, body: dict[str, Any]) -> None:
        """Enqueue the webhook and publish + flush the report record of ``transition``."""
        if self._dispatcher is not None:
            self._dispatcher.submit(Trigger(transition.episode_id, transition.type, model, body))
        if self._reports is not None:
            key = (transition.episode_id, transition.type)
            if key not in self._published:
                self._reports.publish(model, canonical_json(body))
                self._published[key] = None
                if len(self._published) > _PUBLISHED_KEPT:
                    del self._published[next(iter(self._published))]
            self._reports.flush()


class IncidentHandler:
    """Feeds closed-window verdicts to the episode tracker and hands every transition to
    the webhook outbox and the report topic before the tracker's state is saved.

    Order, so a retry after any failure is idempotent: compute the step (nothing
    changes), enqueue the webhook (the outbox deduplicates on the incident id),
    publish and flush the report, then persist the tracker. Any of them raising
    SinkError leaves the tracker as it was: the retried window proposes the same step
    with the same id."""

    def __init__(
        self,
        tracker: EpisodeTracker,
        dispatcher: Dispatcher | None = None,
        reports: ReportSink | None = None,
    ) -> None:
        self.tracker = tracker
        self._hand_on = Handoff(dispatcher, reports)

    def handle(self, result: WindowResult, now: float) -> Transition | None:
        """Observe one verdict (epoch-seconds ``now`` stamps ``detected_at``); returns the
        model's transition. With ``episodes.segment_incidents``, each segment of the
        window then steps its own episode the same way (each step idempotent on its
        own, so a retry after a failure between them redoes only what is missing).
        Raises SinkError when an effect is not durable (see the class docstring)."""
        transition = self._step(result, now, None)
        cfg = self.tracker.settings.get(result.model)
        if cfg is not None and cfg.segment_incidents and result.segment_by is not None:
            for seg in result.segments:
                if seg.segment is not None:
                    key = segment_key(result.model, seg.segment)
                    self._step(seg, now, key, result.segment_by)
        return transition

    def _step(
        self, result: WindowResult, now: float, state: str | None, segment_by: str | None = None
    ) -> Transition | None:
        step = self.tracker.propose(result, state)
        if step is None:
            return None
        transition = step.transition
        if transition is not None:
            self._hand_on(transition, result.model, incident_body(transition, now, segment_by))
        self.tracker.commit(step)
        if transition is not None:
            log.warning(
                "%s: model %s%s, %d drifted column(s): %s",
                transition.type,
                result.model,
                f" segment {result.segment!r}" if result.segment is not None else "",
                len(result.drifted),
                ", ".join(c.name for c in result.drifted) or "-",
                extra={"model": result.model, "episode": transition.episode_id},
            )
        return transition


def performance_body(
    transition: Transition,
    window: WindowPerformance,
    start: float,
    baseline_version: str,
    detected_at: float,
) -> dict[str, Any]:
    """The webhook body of a ``performance.degraded`` / ``performance.recovered``
    transition: the SPEC body, with ``drifted_features`` listing the window's degraded
    deciding metrics in the same shape (``kind`` ``performance``, ``test`` the metric,
    ``statistic`` its value, ``threshold`` the value it had to stay above / below:
    baseline minus / plus the larger of tolerance and minimum) and ``drift_share`` the
    share of deciding metrics degraded; plus one extension, ``performance``: the whole
    verdict (every metric, labels, coverage, delays). ``window.events`` counts the
    window's tracked (sampled) predictions."""
    v = window.verdict
    deciding = [m for m in v.metrics if m.decides]
    features = [
        {
            "name": m.metric,
            "kind": "performance",
            "test": m.metric,
            "statistic": json_number(m.value),
            "p_value": None,
            "threshold": json_number(_threshold(m)),
            "status": "alert",
        }
        for m in v.degraded_metrics
    ]
    return {
        "type": transition.type,
        "id": transition.episode_id,
        "model": window.model,
        "baseline_version": baseline_version,
        "severity": "alert" if transition.type == "performance.degraded" else "ok",
        "window": {
            "start": json_time(start, "milliseconds"),
            "end": json_time(window.window_end, "milliseconds"),
            "events": window.tracked,
        },
        "drifted_features": features,
        "drift_share": len(features) / len(deciding) if deciding else 0.0,
        "detected_at": json_time(detected_at, "milliseconds"),
        "performance": {
            "status": v.status.value,
            "labels": window.joined,
            "tracked": window.tracked,
            "coverage": window.coverage,
            "delay_median_seconds": json_number(window.delay_median),
            "delay_max_seconds": json_number(window.delay_max),
            "metrics": [m.to_json() for m in v.metrics],
        },
    }


def _threshold(m: MetricVerdict) -> float:
    """The value the metric had to stay on the good side of: the baseline minus (for a
    score; plus, for a loss) the larger of the chance tolerance and the minimum."""
    limit = max(m.tolerance, m.minimum)
    if not math.isfinite(limit) or not math.isfinite(m.baseline):
        return math.nan
    return m.baseline - limit if m.metric in HIGHER_IS_BETTER else m.baseline + limit


class PerformanceIncidents:
    """Final prediction windows' verdicts -> performance episodes -> webhooks and the
    report topic, in the order (and with the idempotence) of :class:`IncidentHandler`:
    propose, enqueue (outbox dedupes on the id), publish + flush, then persist.

    ``tracker`` is an :class:`EpisodeTracker` of kind ``performance`` (its own state
    file): degraded windows count as alerting, ok ones as clean, insufficient labels
    as neither, with the model's ``episodes`` settings."""

    def __init__(
        self,
        tracker: EpisodeTracker,
        dispatcher: Dispatcher | None = None,
        reports: ReportSink | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if tracker.kind != "performance":
            raise ValueError("PerformanceIncidents needs an EpisodeTracker(kind='performance')")
        self.tracker = tracker
        self._hand_on = Handoff(dispatcher, reports)
        self._now = clock

    def handle(
        self, window: WindowPerformance, start: float, baseline_version: str
    ) -> Transition | None:
        """Observe one final window (``start`` epoch s). Raises SinkError when an
        effect is not durable; nothing changes then, and the retry is idempotent."""
        if not window.final:
            return None  # only final results decide
        status = _STATUS[window.verdict.status]
        step = self.tracker.propose_status(window.model, window.window_end, status)
        if step is None:
            return None
        transition = step.transition
        if transition is not None:
            now = self._now() if self._now is not None else window.window_end
            body = performance_body(transition, window, start, baseline_version, now)
            self._hand_on(transition, window.model, body)
        self.tracker.commit(step)
        if transition is not None:
            log.warning(
                "%s: model %s, window ending %s: %s",
                transition.type,
                window.model,
                json_time(window.window_end),
                ", ".join(m.metric for m in window.verdict.degraded_metrics) or "-",
                extra={"model": window.model, "episode": transition.episode_id},
            )
        return transition


_STATUS = {
    PerformanceStatus.DEGRADED: Status.ALERT,
    PerformanceStatus.OK: Status.OK,
    PerformanceStatus.INSUFFICIENT_LABELS: Status.INSUFFICIENT_DATA,
}
