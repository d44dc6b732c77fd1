"""The decision hook: window verdicts -> drift episodes -> webhooks and report topic."""

from __future__ import annotations

import logging
from typing import Any

from drift_monitor.evaluation.episodes import EpisodeTracker, Transition, segment_key
from drift_monitor.evaluation.results import Status, WindowResult, json_number, json_time
from drift_monitor.source.base import ReportSink
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
        self._dispatcher = dispatcher
        self._reports = reports
        # (incident id, type) handed to the report producer by this process: a retried
        # window does not publish again (the producer keeps and retries its copy).
        self._published: dict[tuple[str, str], None] = {}

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
            body = incident_body(transition, now, segment_by)
            trigger = Trigger(transition.episode_id, transition.type, result.model, body)
            if self._dispatcher is not None:
                self._dispatcher.submit(trigger)
            if self._reports is not None:
                key = (transition.episode_id, transition.type)
                if key not in self._published:
                    self._reports.publish(result.model, canonical_json(body))
                    self._published[key] = None
                    if len(self._published) > _PUBLISHED_KEPT:
                        del self._published[next(iter(self._published))]
                self._reports.flush()
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
