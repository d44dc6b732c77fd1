"""GapDetector: a forward jump is a gap only when the log start moved past the expected
offset (retention); transaction markers and compaction are not; a move back is logged."""

from __future__ import annotations

import pytest

from drift_monitor.source.gaps import GapDetector

TP = ("events", 0)


class Sink:
    def __init__(self) -> None:
        self.gaps: list[tuple[str, int, str, int, int, int]] = []

    def record_gap(
        self, topic: str, partition: int, reason: str, start: int, end: int, skipped: int
    ) -> None:
        self.gaps.append((topic, partition, reason, start, end, skipped))


def detector(log_start: int | None, reset: str = "earliest") -> tuple[GapDetector, Sink]:
    d = GapDetector(lambda tp: log_start, reset)
    sink = Sink()
    d.sink = sink
    return d, sink


def test_contiguous_reads_and_the_first_sight_are_no_gap() -> None:
    d, sink = detector(0)
    assert d.observe(TP, 0, 100) == []  # first sight: nothing expected yet
    assert d.observe(TP, 100, 250) == []
    assert d.observe(TP, 250, 250) == []  # an empty poll at the position
    assert sink.gaps == []


def test_a_jump_over_markers_or_compacted_records_is_not_a_gap() -> None:
    d, sink = detector(log_start=0)
    d.expect(TP, 100)
    assert d.observe(TP, 102, 200) == []  # offsets 100, 101: a commit marker, compacted
    assert sink.gaps == []


def test_records_deleted_before_they_were_read_are_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    d, sink = detector(log_start=50_000)
    d.expect(TP, 31_000)
    (gap,) = d.observe(TP, 50_000, 50_000)  # the retention jump of docs/BENCHMARKS.md
    assert (gap.reason, gap.start, gap.end, gap.skipped) == ("retention", 31_000, 50_000, 19_000)
    assert sink.gaps == [("events", 0, "retention", 31_000, 50_000, 19_000)]
    assert "19000 records at offsets 31000..49999 were never read" in caplog.text
    assert d.observe(TP, 50_000, 50_010) == []  # counted once


def test_reset_to_latest_also_counts_the_live_records_it_skipped() -> None:
    d, sink = detector(log_start=500, reset="latest")
    d.expect(TP, 100)
    gaps = d.observe(TP, 900, 910)
    assert [(g.reason, g.start, g.end) for g in gaps] == [
        ("retention", 100, 500),
        ("offset_reset", 500, 900),
    ]
    assert sum(g.skipped for g in gaps) == 800
    assert [g[5] for g in sink.gaps] == [400, 400]


def test_a_position_moving_back_is_reported_without_a_count() -> None:
    d, sink = detector(log_start=0)
    d.expect(TP, 3000)
    (gap,) = d.observe(TP, 0, 50)  # the topic was deleted and recreated
    assert gap.reason == "moved_back" and gap.skipped == 0
    assert sink.gaps == [("events", 0, "moved_back", 0, 3000, 0)]


def test_an_unknown_log_start_is_no_gap_and_a_seek_resets_expectations() -> None:
    d, sink = detector(log_start=None)
    d.expect(TP, 10)
    assert d.observe(TP, 20, 30) == []
    d.expect(TP, 5)  # the daemon rewinds to its commit
    assert d.observe(TP, 5, 30) == []
    d.forget(set())
    assert d.observe(TP, 1000, 1001) == []  # no longer assigned: nothing expected
    assert sink.gaps == []
