"""The join store's log file: its header, torn and corrupt tails, compaction, the lock,
and a randomized check of the store (flushes, rollbacks, reopens) against a plain
reference model of the join's rules."""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drift_monitor.errors import SinkError
from drift_monitor.labels import joinlog
from drift_monitor.labels.records import WindowCoverage
from drift_monitor.labels.store import JoinCounters, JoinStore, Label, Prediction
from tests.unit.labels.test_label_store import T0, lab, pred


def _view(s: JoinStore, models: tuple[str, ...] = ("m",)) -> dict[str, Any]:
    """What the store shows: windows (final ones too), every window's pairs, entries."""
    out: dict[str, Any] = {"entries": s.entries}
    for m in models:
        ws = s.windows(m, include_final=True)
        out[m] = [(w, *(a.tolist() for a in s.pairs(m, w.window_id))) for w in ws]
    return out


def test_the_file_starts_with_the_header_and_holds_one_frame_per_flush(tmp_path: Path) -> None:
    path = tmp_path / "j.join"
    s = JoinStore(path)
    assert path.read_bytes() == joinlog.HEADER
    s.flush()  # nothing changed: nothing written
    assert path.stat().st_size == len(joinlog.HEADER)
    s.apply("m", [pred(1), pred(2)], [lab(1)])
    s.expire(T0)
    s.flush()
    data = path.read_bytes()
    length, _ = joinlog._FRAME.unpack_from(data, len(joinlog.HEADER))
    assert len(data) == len(joinlog.HEADER) + 8 + length  # one frame for the batch


def test_a_file_that_is_not_a_join_log_is_a_sink_error(tmp_path: Path) -> None:
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(SinkError) as info:
        JoinStore(path)
    assert info.value.target == str(path) and "move it away" in str(info.value)
    assert path.read_bytes().startswith(b"SQLite format 3")  # left as it was
    path.write_bytes(joinlog.MAGIC + b"\x09\x00\x00\x00")
    with pytest.raises(SinkError, match="version 9"):
        JoinStore(path)


@pytest.mark.parametrize("damage", ["torn", "crc", "zeros"])
def test_a_damaged_tail_frame_is_truncated_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    path = tmp_path / "j.join"
    s = JoinStore(path)
    s.apply("m", [pred(i) for i in range(5)], [lab(0)])
    s.flush()
    good = path.stat().st_size
    expected = _view(s)
    s.apply("m", [pred(i) for i in range(5, 9)], [lab(1)])
    s.flush()
    s.close()
    data = bytearray(path.read_bytes())
    if damage == "torn":  # a kill mid-write: the last frame is cut short
        data = data[: good + (len(data) - good) // 2]
    elif damage == "crc":  # a byte of the last frame's payload is wrong
        data[-3] ^= 0xFF
    else:  # power loss: the size grew but the data never reached the disk
        data[good:] = b"\x00" * (len(data) - good)
    path.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="drift_monitor.labels"):
        s = JoinStore(path)
    assert "torn or corrupt frame" in caplog.text
    assert _view(s) == expected
    assert path.stat().st_size == good
    s.apply("m", [pred(5)])  # the log goes on after the last good frame
    s.flush()
    s.close()
    assert JoinStore(path).entries == 6


def test_a_second_open_of_the_same_file_is_refused(tmp_path: Path) -> None:
    s = JoinStore(tmp_path / "j.join")
    with pytest.raises(SinkError, match="in use by another"):
        JoinStore(tmp_path / "j.join")
    s.close()
    JoinStore(tmp_path / "j.join").close()


def test_compaction_keeps_the_state_and_bounds_the_file(tmp_path: Path) -> None:
    path = tmp_path / "j.join"
    s = JoinStore(path, max_delay=50.0, max_entries=400)
    s.compact_min_bytes = 20_000
    rng = np.random.default_rng(3)
    sizes = []
    for b in range(200):  # predictions come and go: the live state stays small
        base = b * 20
        s.apply(
            "m",
            [pred(base + i, window=b // 10, t=T0 + base + i) for i in range(20)],
            [lab(int(i)) for i in rng.integers(0, base + 20, 10)],
        )
        s.expire(T0 + base)
        for w in s.windows("m"):
            if w.window_id < b // 10 - 2:
                s.finalize("m", w.window_id)
        s.forget_windows("m", T0 + base - 400)
        s.flush()
        sizes.append(path.stat().st_size)
    assert s._snapshot_bytes > 0, "the log was compacted"
    assert max(sizes[50:]) <= max(s.compact_min_bytes, 2 * s._snapshot_bytes) + 10_000
    assert max(sizes) < 60_000, max(sizes)  # ~80 records/batch x 200 batches uncompacted
    expected = _view(s)
    s.close()
    again = JoinStore(path, max_delay=50.0, max_entries=400)
    assert _view(again) == expected
    assert not (tmp_path / "j.join.tmp").exists()
    again.close()
    (tmp_path / "j.join.tmp").write_bytes(b"half a snapshot")  # a crash mid-compaction
    assert _view(JoinStore(path, max_delay=50.0, max_entries=400)) == expected
    assert not (tmp_path / "j.join.tmp").exists()


class Reference:
    """The join's rules, plainly (no slots, no log): what the store must show."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.preds: dict[str, dict[str, list[Any]]] = {}  # eid -> [wid, t, out, y, ty]
        self.waiting: dict[str, dict[str, tuple[float, float]]] = {}
        self.windows: dict[str, dict[int, list[Any]]] = {}
        self.final_ids: dict[str, dict[int, set[str]]] = {}
        self.final_order: list[tuple[str, int]] = []
        self.cutoff: dict[str, float] = {}
        self.all_cutoff = -math.inf
        self.counters: dict[str, JoinCounters] = {}

    def _m(self, m: str) -> JoinCounters:
        if m not in self.preds:
            self.preds[m], self.waiting[m], self.windows[m] = {}, {}, {}
            self.final_ids[m], self.cutoff[m] = {}, self.all_cutoff
        return self.counters.setdefault(m, JoinCounters())

    def entries(self) -> int:
        return sum(len(p) for p in self.preds.values()) + sum(len(w) for w in self.waiting.values())

    def apply(self, m: str, preds: list[Prediction], labels: list[Label]) -> None:
        c = self._m(m)
        finals = {e for ids in self.final_ids[m].values() for e in ids}
        seen: set[str] = set()
        for p in preds:
            if p.event_id in seen or p.event_id in self.preds[m]:
                c.duplicates += 1
                continue
            seen.add(p.event_id)
            w = self.windows[m].get(p.window_id)
            if (w is not None and w[3]) or p.event_time < self.cutoff[m]:
                c.late += 1
                continue
            if w is None:
                w = self.windows[m][p.window_id] = [p.window_end, 0, 0, False]
            w[1] += 1
            c.predictions += 1
            y, ty = self.waiting[m].pop(p.event_id, (None, None))
            if y is not None:
                w[2] += 1
                c.joined += 1
            outs = [float(x) for x in p.outputs]
            self.preds[m][p.event_id] = [p.window_id, p.event_time, outs, y, ty]
        seen = set()
        for q in labels:
            e = q.event_id
            if e in seen:
                c.duplicates += 1
                continue
            seen.add(e)
            row = self.preds[m].get(e)
            if row is not None:
                if row[3] is not None:
                    c.duplicates += 1
                else:
                    row[3], row[4] = q.value, q.label_time
                    self.windows[m][row[0]][2] += 1
                    c.joined += 1
            elif e in self.waiting[m]:
                c.duplicates += 1
            elif e in finals:
                c.late += 1
            else:
                self.waiting[m][e] = (q.value, q.label_time)
                c.waiting += 1
        over = self.entries() - self.cap
        if over > 0:
            left = over + max(1, self.cap // 100)
            kinds: list[list[tuple[float, str, str]]] = [
                sorted((v[1], mm, e) for mm, d in self.waiting.items() for e, v in d.items()),
                sorted(
                    (r[1], mm, e)
                    for mm, d in self.preds.items()
                    for e, r in d.items()
                    if r[3] is None
                ),
                sorted(
                    (r[1], mm, e)
                    for mm, d in self.preds.items()
                    for e, r in d.items()
                    if r[3] is not None
                ),
            ]
            for k, victims in enumerate(kinds):
                for _, mm, e in victims[:left]:
                    if k == 0:
                        del self.waiting[mm][e]
                    else:
                        r = self.preds[mm].pop(e)
                        if k == 2:
                            self.windows[mm][r[0]][2] -= 1
                    self.counters.setdefault(mm, JoinCounters()).evicted += 1
                left -= min(left, len(victims))

    def expire(self, cutoff: float, model: str | None) -> None:
        if model is None:
            self.all_cutoff = max(self.all_cutoff, cutoff)
        for m in [model] if model is not None else list(self.preds):
            c = self._m(m)
            self.cutoff[m] = max(self.cutoff[m], cutoff)
            for e in [e for e, r in self.preds[m].items() if r[3] is None and r[1] < cutoff]:
                del self.preds[m][e]
                c.expired += 1
            for e in [e for e, v in self.waiting[m].items() if v[1] < cutoff]:
                del self.waiting[m][e]
                c.orphaned += 1

    def finalize(self, m: str, wid: int) -> None:
        if m not in self.windows or wid not in self.windows[m]:
            return
        gone = {e for e, r in self.preds[m].items() if r[0] == wid}
        for e in gone:
            del self.preds[m][e]
        self.windows[m][wid][3] = True
        if wid not in self.final_ids[m]:
            self.final_ids[m][wid] = set()
            self.final_order.append((m, wid))
        self.final_ids[m][wid] |= gone
        while sum(len(s) for d in self.final_ids.values() for s in d.values()) > self.cap:
            mm, w = self.final_order.pop(0)
            self.final_ids[mm].pop(w, None)

    def forget(self, m: str, before: float) -> None:
        if m not in self.windows:
            return
        for w in [w for w, r in self.windows[m].items() if r[3] and r[0] < before]:
            del self.windows[m][w]
            self.final_ids[m].pop(w, None)

    def view(self, models: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {"entries": self.entries()}
        for m in models:
            rows = []
            for w, (end, tr, jo, fi) in sorted(self.windows.get(m, {}).items()):
                pairs = sorted(
                    (e, r) for e, r in self.preds[m].items() if r[0] == w and r[3] is not None
                )
                width = max((len(r[2]) for _, r in pairs), default=1)
                outs = [r[2] + [math.nan] * (width - len(r[2])) for _, r in pairs]
                rows.append(
                    (
                        WindowCoverage(m, w, end, tr, jo, fi),
                        [r[3] for _, r in pairs],
                        outs,
                        [r[4] - r[1] for _, r in pairs],
                    )
                )
            out[m] = rows
        return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal views, NaN equal to NaN (padded outputs)."""
    return repr(a) == repr(b)


@pytest.mark.parametrize("seed", range(6))
def test_random_operations_match_the_reference_across_flushes_rollbacks_and_reopens(
    tmp_path: Path, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    models = ("m", "n")
    cap = int(rng.choice([40, 120, 10_000]))
    path = tmp_path / "j.join"
    s = JoinStore(path, max_delay=100.0, max_entries=cap)
    s.compact_min_bytes = int(rng.choice([2_000, 1 << 24]))
    ref = Reference(cap)
    durable = Reference(cap)  # the reference as of the last flush
    now = T0
    hit: dict[str, int] = {}
    compactions = 0
    for step in range(400):
        r = rng.uniform()
        m = str(rng.choice(models))
        if r < 0.5:
            now += float(rng.uniform(0, 5))
            preds = []
            for _ in range(int(rng.integers(0, 12))):
                i = int(rng.integers(0, 400))
                t = now - float(rng.uniform(0, 150))
                wid = int((t - T0) // 20)
                width = 1 if rng.uniform() < 0.9 else int(rng.integers(0, 4))
                outs = tuple(rng.uniform(size=width))
                preds.append(Prediction(f"e{i}", wid, T0 + 20.0 * (wid + 1), t, outs))
            labels = [
                Label(
                    f"e{int(rng.integers(0, 400))}",
                    float(rng.integers(0, 2)),
                    now - float(rng.uniform(0, 150)),
                )
                for _ in range(int(rng.integers(0, 12)))
            ]
            s.apply(m, preds, labels)
            ref.apply(m, preds, labels)
        elif r < 0.6:
            cutoff_now = now - float(rng.uniform(0, 50))
            which = m if rng.uniform() < 0.5 else None
            s.expire(cutoff_now, which)
            ref.expire(cutoff_now - 100.0, which)
        elif r < 0.7:
            ws = s.windows(m)
            if ws:
                wid = ws[int(rng.integers(0, len(ws)))].window_id
                s.finalize(m, wid)
                ref.finalize(m, wid)
        elif r < 0.75:
            before = now - float(rng.uniform(0, 200))
            s.forget_windows(m, before)
            ref.forget(m, before)
        elif r < 0.88:
            s.flush()
            durable = copy.deepcopy(ref)
        elif r < 0.95:
            s.rollback()
            ref = copy.deepcopy(durable)
            ref.counters = {k: _zero_delays(v) for k, v in durable.counters.items()}
        else:
            s.close()
            s = JoinStore(path, max_delay=100.0, max_entries=cap)
            s.compact_min_bytes = 2_000
            ref = copy.deepcopy(durable)
            ref.counters, durable.counters = {}, {}
        assert _same(_view(s, models), ref.view(models)), step
        for mm in models:
            got = s.counters(mm)
            want = ref.counters.get(mm, JoinCounters())
            assert _zero_delays(got) == _zero_delays(want), (step, mm)
            for k in ("joined", "late", "expired", "orphaned", "evicted", "duplicates"):
                hit[k] = max(hit.get(k, 0), getattr(got, k))
        compactions += s._snapshot_bytes > 0
    # the run went through every rule (the cap only when it is small)
    assert all(hit[k] > 0 for k in hit if k != "evicted"), hit
    assert hit["evicted"] > 0 or cap == 10_000, hit
    assert compactions > 0 or s.compact_min_bytes > 2_000
    s.flush()
    expected = _view(s, models)
    s.close()
    assert _same(_view(JoinStore(path, max_delay=100.0, max_entries=cap), models), expected)


def _zero_delays(c: JoinCounters) -> JoinCounters:
    return dataclasses.replace(c, delays=[])
