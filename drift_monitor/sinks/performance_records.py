"""Per-window performance records (issue 15): one ``window.performance`` message
(:func:`~drift_monitor.labels.records.performance_record`) per evaluation of a
prediction window, on the report topic keyed by model, and each *final* one also as a
line of the window audit log (``state.audit_windows``), where ``report --from`` reads it
beside the ``window.evaluated`` lines.

Which evaluations: a window is scored when its counts changed, at most every
``labels.evaluate_every_seconds`` while it is open (provisional, ``"final": false``,
report topic only: an open window may be re-scored for up to ``max_delay``, which would
swell the audit log), and once when it becomes final (``"final": true``, both sinks).

Delivery (as :mod:`drift_monitor.sinks.records`): the record is handed to the producer
(and written to the audit log) before the window's incident hook runs and before its
finalisation is flushed to the join store; the daemon orders its checkpoint flushes
audit -> dead letters -> reports -> labels, so the store only records a window as final
once its final record is acknowledged and fsync'ed, and no offset is committed before
that. A crash before the join's flush re-finalises the window after the restart and
publishes its final record again: at least once, exactly once without a crash (a clean
stop or restart). Consumers deduplicate on ``model`` + ``window.id`` + ``final``
(``report --from`` keeps the final record, else the one with the most labels). Within a
process a final window is handed over once (a retry after a failed sink does not hand it
over again: the producer keeps its copy).
"""

from __future__ import annotations

from drift_monitor.labels.records import performance_record
from drift_monitor.labels.tracker import WindowPerformance
from drift_monitor.sinks.audit import AuditLog
from drift_monitor.source.base import ReportSink
from drift_monitor.webhooks.payload import canonical_json

_KEPT = 1_000  # final windows remembered per process; far more than can be in flight


class PerformanceRecords:
    """A performance hook (``(window, start, baseline_version)``) that publishes every
    evaluated prediction window to ``reports`` and writes final ones to ``audit``."""

    def __init__(self, reports: ReportSink | None, audit: AuditLog | None) -> None:
        self._reports = reports
        self._audit = audit
        # (model, window id) whose final record this process handed over
        self._final: dict[tuple[str, int], None] = {}

    def __call__(self, window: WindowPerformance, start: float, baseline_version: str) -> None:
        """Publish ``window``'s record (``start``: the window's start, epoch s). Raises
        SinkError when the audit log cannot be written (nothing is recorded then)."""
        key = (window.model, window.window_id)
        if window.final and key in self._final:
            return
        record = performance_record(window, window_start=start, baseline_version=baseline_version)
        body = canonical_json(record)
        if window.final and self._audit is not None:
            self._audit.append_record(body)
        if self._reports is not None:
            self._reports.publish(window.model, body)
        if window.final:
            self._final[key] = None
            if len(self._final) > _KEPT:
                del self._final[next(iter(self._final))]
