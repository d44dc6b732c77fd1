"""The label join store: joins, waiting labels, idempotency, durability, bounds."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from drift_monitor.errors import SinkError
from drift_monitor.labels.store import JoinStore, Label, Prediction, tracked

T0 = 1_767_225_600.0
DAY = 86_400.0


def pred(i: int, window: int = 0, t: float | None = None, score: float = 0.5) -> Prediction:
    return Prediction(f"e{i}", window, T0 + 60.0 * (window + 1), t or T0 + i, (score,))


def lab(i: int, value: float = 1.0, t: float | None = None) -> Label:
    return Label(f"e{i}", value, t or T0 + 3600.0 + i)


def test_predictions_then_labels_join(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db")
    s.apply("m", [pred(i, score=i / 10) for i in range(10)])
    s.apply("m", labels=[lab(i, value=i % 2) for i in range(0, 10, 2)])
    assert s.counters("m").joined == 5
    assert s.counters("m").delays == [3600.0] * 5  # label_time - event_time of this batch's joins
    s.flush()
    (w,) = s.windows("m")
    assert (w.tracked, w.joined, w.coverage) == (10, 5, 0.5)
    y, out, delays = s.pairs("m", 0)
    order = sorted(f"e{i}" for i in range(0, 10, 2))
    idx = [int(e[1:]) for e in order]
    assert y.tolist() == [i % 2 for i in idx]
    assert out[:, 0].tolist() == [i / 10 for i in idx]
    assert delays.tolist() == [3600.0] * 5
    assert s.windows("other") == []


def test_label_before_prediction_waits_then_joins(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db")
    s.apply("m", labels=[lab(1, value=0.0, t=T0 + 5)])
    assert s.counters("m").waiting == 1 and s.entries == 1
    s.apply("m", [pred(1, t=T0 + 10)])
    assert s.counters("m").joined == 1 and s.entries == 1  # the waiting label became the join
    assert s.counters("m").delays == [-5.0]  # a label may carry an earlier time than its event
    y, _, _ = s.pairs("m", 0)
    assert y.tolist() == [0.0]


def test_duplicates_never_double_count(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db")
    s.apply("m", [pred(1), pred(1), pred(2)], [lab(1), lab(1)])
    s.apply("m", [pred(1), pred(2)], [lab(1), lab(2), lab(2), lab(3), lab(3)])
    s.apply("m", [pred(3)], [lab(3)])
    s.flush()
    (w,) = s.windows("m")
    assert (w.tracked, w.joined) == (3, 3)
    assert len(s.pairs("m", 0)[0]) == 3
    assert s.counters("m").joined == 3
    # batch 1: e1 twice (prediction), e1 twice (label); batch 2: e1, e2 re-read, e1
    # labelled again, e2 and e3 twice in the batch; batch 3: e3 labelled again.
    assert s.counters("m").duplicates == (1 + 1) + (2 + 1 + 1 + 1) + 1


def test_nothing_is_durable_before_flush_and_all_of_it_after(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    s = JoinStore(path)
    s.apply("m", [pred(i) for i in range(5)], [lab(0)])
    s.flush()
    s.apply("m", [pred(i) for i in range(5, 9)], [lab(1), lab(6)])
    s.close()  # no flush: the second batch is rolled back
    s = JoinStore(path)
    (w,) = s.windows("m")
    assert (w.tracked, w.joined) == (5, 1)
    assert s.entries == 5


def test_expiry_and_orphans(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db", max_delay=DAY)
    s.apply("m", [pred(1, t=T0), pred(2, t=T0 + DAY)], [lab(1), lab(99, t=T0 + 10)])
    s.expire(T0 + DAY + 100)
    # e1 joined (kept for its window), e2 still young, label 99 waited a day: orphaned.
    assert (s.counters("m").expired, s.counters("m").orphaned) == (0, 1)
    s.expire(T0 + 2 * DAY + 100)
    assert s.counters("m").expired == 1  # e2 never got its label
    assert s.entries == 1
    s.flush()


def test_cap_bounds_entries_and_counts_evictions(tmp_path: Path) -> None:
    cap = 1_000
    s = JoinStore(tmp_path / "j.db", max_entries=cap)
    rng = np.random.default_rng(0)
    for b in range(100):  # 10x more predictions in flight than the cap
        base = b * 100
        s.apply(
            "m",
            [pred(base + i, window=b // 10, t=T0 + base + i) for i in range(100)],
            [lab(10**6 + base + i) for i in range(5)]  # labels whose prediction never comes
            + [lab(base + i) for i in rng.choice(100, 10, replace=False)],
        )
        s.flush()
        assert s.entries <= cap
    total = 100 * 105
    assert s.counters("m").evicted > total - cap - 100
    entries = s.entries
    # Unlabelled predictions are evicted before joined ones, oldest first.
    joined = sum(w.joined for w in s.windows("m"))
    assert joined >= 0.8 * cap, joined
    s.close()
    assert JoinStore(tmp_path / "j.db", max_entries=cap).entries == entries  # as replayed


def test_finalized_window_ignores_late_predictions(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db")
    s.apply("m", [pred(1), pred(2)], [lab(1)])
    s.finalize("m", 0)
    s.apply("m", [pred(2), pred(3)], [lab(2)])  # a re-read after the window was final
    assert s.windows("m") == []
    (w,) = s.windows("m", include_final=True)
    assert w.final and (w.tracked, w.joined) == (2, 1)
    assert s.counters("m").late == 3  # and the label of e2, a prediction of the final window
    assert s.entries == 0
    s.forget_windows("m", ended_before=T0 + 10 * DAY)
    assert s.windows("m", include_final=True) == []


def _disk_full_after(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """The log's writes fail with ENOSPC once ``room`` more bytes were written (a
    write that does not fit is cut short first, as a full disk does)."""
    real = os.pwrite
    left = [room]

    def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real(fd, bytes(data[: left[0]]), offset)
        left[0] -= n
        return n

    monkeypatch.setattr(os, "pwrite", pwrite)


def test_a_failed_write_or_flush_is_a_sink_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.db"
    s = JoinStore(path)
    s.apply("m", [pred(i) for i in range(10)])
    s.flush()
    _disk_full_after(monkeypatch, 30_000)
    with pytest.raises(SinkError) as info:
        for b in range(50):
            s.apply("m", [pred(b * 1000 + i, t=T0 + i) for i in range(1000)])
            s.flush()
    assert info.value.sink == "labels" and info.value.target == str(path)
    assert "No space left" in str(info.value)
    # The failing batch left nothing behind; what was flushed before is intact.
    flushed = s.entries
    assert flushed == 10 + 1000 * b
    s.rollback()
    assert s.entries == flushed
    monkeypatch.undo()
    s.close()
    assert JoinStore(path).entries == flushed  # the cut-short frame was cut off the file


def test_a_failing_batch_discards_everything_since_the_last_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = JoinStore(tmp_path / "j.db")
    s.apply("m", [pred(1)], [lab(1)])
    s.flush()
    s.apply("m", [pred(2)])  # unflushed: discarded with the failing flush

    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "injected I/O error")

    monkeypatch.setattr(os, "fdatasync", fail)
    with pytest.raises(SinkError, match="I/O error"):
        s.flush()
    assert s.entries == 1 and s.counters("m").predictions == 1
    monkeypatch.undo()
    # A batch that fails in the middle (a bad prediction) discards everything too.
    s.apply("m", [pred(2)])
    bad = Prediction("bad", 0, T0 + 60, T0, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.apply("m", [pred(3), bad])
    assert s.entries == 1
    # The consume loop re-reads from its last committed offset: the replay is idempotent.
    s.apply("m", [pred(1), pred(2)], [lab(1), lab(2)])
    s.flush()
    (w,) = s.windows("m")
    assert (w.window_id, w.tracked, w.joined) == (0, 2, 2)
    assert s.entries == 2
    s.close()
    assert JoinStore(tmp_path / "j.db").windows("m") == [w]


def test_unwritable_path_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SinkError, match="labels sink"):
        JoinStore(tmp_path / "file" / "j.db")


def test_sampling_is_deterministic_and_near_the_rate() -> None:
    ids = [f"{i:08x}-event" for i in range(20_000)]
    picked = [tracked(e, 0.1) for e in ids]
    assert picked == [tracked(e, 0.1) for e in ids]
    assert 0.09 < sum(picked) / len(ids) < 0.11
    assert all(tracked(e, 1.0) for e in ids[:10]) and not any(tracked(e, 0.0) for e in ids)
    # Nested: an id sampled at 5 % is also sampled at 10 %.
    assert all(tracked(e, 0.1) for e in ids if tracked(e, 0.05))


def test_a_label_for_a_finalised_prediction_is_late_not_orphaned(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db", max_delay=DAY)
    s.apply("m", [pred(1), pred(2)], [lab(1)])
    s.finalize("m", 0)
    s.apply("m", labels=[lab(2)])  # e2's window is final: its label can never be used
    assert s.counters("m").late == 1 and s.counters("m").waiting == 0
    assert s.entries == 0
    s.expire(T0 + 3 * DAY)
    assert s.counters("m").orphaned == 0
    s.flush()
    s.close()
    s = JoinStore(tmp_path / "j.db", max_delay=DAY)  # the rule survives a restart
    s.apply("m", labels=[lab(2)])
    assert s.counters("m").late == 1 and s.entries == 0
    s.forget_windows("m", ended_before=T0 + 10 * DAY)  # forgotten: a label waits again
    s.apply("m", labels=[lab(2, t=T0 + 5 * DAY)])
    assert s.counters("m").waiting == 1


def test_a_prediction_reread_after_it_expired_is_not_tracked_again(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db", max_delay=DAY)
    s.apply("m", [pred(1, t=T0), pred(2, t=T0 + 2 * DAY)])
    s.expire(T0 + 2 * DAY)  # e1 expires unlabelled
    s.flush()
    assert s.counters("m").expired == 1
    s.apply("m", [pred(1, t=T0), pred(3, t=T0 + 2 * DAY)])  # a rewind re-reads e1
    s.expire(T0 + 2 * DAY)
    assert s.counters("m").expired == 1  # e1 was not held again, so it did not expire twice
    assert s.counters("m").late == 1
    (w,) = s.windows("m")
    assert w.tracked == 3  # e1 counted once
    s.flush()
    s.close()
    s = JoinStore(tmp_path / "j.db", max_delay=DAY)
    s.apply("m", [pred(1, t=T0)])
    assert s.counters("m").late == 1 and s.windows("m")[0].tracked == 3


def test_a_lowered_cap_evicts_durably(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.db", max_entries=100)
    s.apply("m", [pred(i, t=T0 + i) for i in range(100)])
    s.flush()
    s.close()
    s = JoinStore(tmp_path / "j.db", max_entries=50)
    assert s.entries <= 50  # the replay keeps to the cap it is given
    s.close()
