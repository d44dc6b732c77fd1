"""GapDetector after a recreated topic (issue 12 item 9): with ``auto_offset_reset:
latest`` the out-of-range reset lands at the new log's end, passing over its first
records; they are an ``offset_reset`` gap next to the ``moved_back`` record. With
``earliest`` the new log is read from its start: the move back alone."""

from __future__ import annotations

from drift_monitor.source.gaps import Gap, GapDetector

TP = ("events", 0)


class Sink:
    def __init__(self) -> None:
        self.gaps: list[tuple[str, int, str, int, int, int]] = []

    def record_gap(
        self, topic: str, partition: int, reason: str, start: int, end: int, skipped: int
    ) -> None:
        self.gaps.append((topic, partition, reason, start, end, skipped))


def test_latest_reset_after_a_recreate_counts_the_new_logs_skipped_records() -> None:
    d = GapDetector(lambda tp: 0, "latest")
    sink = Sink()
    d.sink = sink
    d.expect(TP, 3050)  # the old incarnation's commit
    gaps = d.observe(TP, 40, 45)  # the new log has 40 records already: reset to its end
    assert gaps == [
        Gap("events", 0, "moved_back", 40, 3050),
        Gap("events", 0, "offset_reset", 0, 40),
    ]
    assert sink.gaps[-1] == ("events", 0, "offset_reset", 0, 40, 40)


def test_earliest_reset_after_a_recreate_is_a_move_back_only() -> None:
    asked: list[tuple[str, int]] = []

    def log_start(tp: tuple[str, int]) -> int:
        asked.append(tp)
        return 0

    d = GapDetector(log_start, "earliest")
    d.expect(TP, 3050)
    assert d.observe(TP, 0, 10) == [Gap("events", 0, "moved_back", 0, 3050)]
    assert asked == []  # nothing skipped: the log start is not asked
