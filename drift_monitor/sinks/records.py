"""Per-window records on the report topic: one ``window.evaluated`` message per
evaluated window (:meth:`~drift_monitor.evaluation.results.WindowResult.record_json`),
keyed by model, beside the incidents (told apart by their ``type``).

Delivery: the message is handed to the producer before the window's other effects and
the report sink's flush runs before the offsets covering it are committed (the
checkpoint's ``reports`` flush), so no offset passes a window whose record was not
acknowledged. A window retried in this process (a sink failed after the hand-off) is
not handed over again: the producer keeps and retries its copy. After a crash the
re-read window is published again (at least once; consumers deduplicate on
``model`` + ``window.end_ms``).
"""

from __future__ import annotations

from drift_monitor.evaluation.results import WindowResult
from drift_monitor.source.base import ReportSink
from drift_monitor.webhooks.payload import canonical_json

_KEPT = 1_000  # windows remembered per process; far more than can be in flight


class WindowRecords:
    """Publishes every evaluated window to ``reports`` once per process."""

    def __init__(self, reports: ReportSink) -> None:
        self._reports = reports
        # (model, window end in ms) handed to the producer by this process
        self._published: dict[tuple[str, int | None], None] = {}

    def __call__(self, result: WindowResult) -> None:
        """Hand ``result``'s record to the producer unless already handed over; the
        acknowledgement is awaited by the report sink's flush (before the commit)."""
        record = result.record_json()
        key = (result.model, record["window"]["end_ms"])
        if key in self._published:
            return
        self._reports.publish(result.model, canonical_json(record))
        self._published[key] = None
        if len(self._published) > _KEPT:
            del self._published[next(iter(self._published))]
