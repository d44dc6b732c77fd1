"""What the label join's log frames hold, and replaying them (:mod:`.joinlog` frames,
:class:`~drift_monitor.labels.joinstate.JoinState` state).

Two kinds of payload:

- ``{"ops": [...]}``: the calls of one flush, in order. ``["a", model, ids, windows,
  ends, times, outputs, widths, label_ids, values, label_times]`` is one ``apply``
  holding only the predictions and labels that changed the state (duplicates and late
  ones change nothing, so a replay of the rest gives the same state); ``["x", model |
  null, cutoff]`` an ``expire``, ``["f", model, window]`` a ``finalize``, ``["g",
  model, ended_before]`` a ``forget_windows``.
- ``{"snap": {...}}``: the whole state (compaction), slot for slot, so that the state
  read back is the state that was written.

Event ids are JSON strings; an id that UTF-8 cannot hold (a lone surrogate) is stored as
``{"u": hex of its surrogatepass bytes}`` so it round-trips exactly.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np
import orjson

from drift_monitor.labels.joinlog import Blobs, Payload, encode, num
from drift_monitor.labels.joinstate import JoinState
from drift_monitor.labels.jointable import COLUMNS, JOINED, OPEN, WAITING, ModelTable

#: one recorded call (see the module docstring); arrays stay numpy until encoded
Op = tuple[Any, ...]


def _strs(ids: list[Any]) -> list[Any]:
    try:
        orjson.dumps(ids)
        return ids
    except orjson.JSONEncodeError:
        return [
            e
            if not isinstance(e, str) or _utf8(e)
            else {"u": e.encode("utf-8", "surrogatepass").hex()}
            for e in ids
        ]


def _utf8(s: str) -> bool:
    try:
        s.encode()
        return True
    except UnicodeEncodeError:
        return False


def _unstrs(ids: list[Any]) -> list[Any]:
    if not any(isinstance(e, dict) for e in ids):
        return ids
    return [
        bytes.fromhex(e["u"]).decode("utf-8", "surrogatepass") if isinstance(e, dict) else e
        for e in ids
    ]


def _f(x: float | str) -> float:
    return float(x)


def encode_ops(ops: list[Op]) -> bytes:
    """The payload of one flush's calls."""
    b = Blobs()
    doc: list[Any] = []
    for op in ops:
        kind = op[0]
        if kind == "a":
            _, model, ids, wids, ends, times, outs, widths, lids, values, ltimes = op
            doc.append(
                [
                    "a",
                    model,
                    _strs(ids),
                    b.add(wids),
                    b.add(ends),
                    b.add(times),
                    b.add(outs),
                    b.add(widths),
                    _strs(lids),
                    b.add(values),
                    b.add(ltimes),
                ]
            )
        elif kind in ("x", "g"):
            doc.append([kind, op[1], num(op[2])])
        else:
            doc.append(list(op))
    return encode({"ops": doc}, b)


def run(state: JoinState, op: Op) -> None:
    """Apply one recorded call to ``state`` (live calls go through here too)."""
    kind = op[0]
    if kind == "a":
        _, model, ids, wids, ends, times, outs, widths, lids, values, ltimes = op
        if ids:
            state.add_predictions(model, ids, wids, ends, times, outs, widths)
        if lids:
            state.add_labels(model, lids, values, ltimes)
        state.enforce_cap()
    elif kind == "x":
        state.expire(op[2], op[1])
    elif kind == "f":
        state.finalize(op[1], op[2])
    elif kind == "g":
        state.forget_windows(op[1], op[2])
    else:
        raise ValueError(f"unknown join log operation {kind!r}")


def replay(state: JoinState, data: bytes) -> int:
    """Apply one frame's payload to ``state``; returns 1 for a snapshot, else 0."""
    p = Payload(data)
    if "snap" in p.doc:
        load(state, p)
        return 1
    for o in p.doc["ops"]:
        kind = o[0]
        if kind == "a":
            g = p.get
            run(
                state,
                (
                    "a",
                    o[1],
                    _unstrs(o[2]),
                    g(o[3]),
                    g(o[4]),
                    g(o[5]),
                    g(o[6]),
                    g(o[7]),
                    _unstrs(o[8]),
                    g(o[9]),
                    g(o[10]),
                ),
            )
        elif kind in ("x", "g"):
            run(state, (kind, o[1], _f(o[2])))
        else:
            run(state, tuple(o))
    return 0


def snapshot(state: JoinState) -> bytes:
    """The whole state as one payload (slot numbers, free lists and orders kept)."""
    b = Blobs()
    models = []
    for name, t in state.models.items():
        size = len(t.eids)
        models.append(
            {
                "name": name,
                "k": t.k,
                "eids": _strs(t.eids),
                "free": b.add(np.asarray(t.free, dtype=np.int64)),
                "cols": {c: b.add(t.cols[c][:size]) for c in COLUMNS},
                "windows": [[w, num(r[0]), r[1], r[2], r[3]] for w, r in t.windows.items()],
                "final": [[w, _strs(ids)] for w, ids in t.final_lists.items()],
                "cutoff": num(t.cutoff),
                "min_open": num(t.min_open),
                "min_wait": num(t.min_wait),
            }
        )
    doc = {
        "snap": {
            "entries": state.entries,
            "cutoff": num(state.cutoff),
            "final_order": [list(x) for x in state.final_order],
            "final_count": state.final_count,
            "models": models,
        }
    }
    return encode(doc, b)


def load(state: JoinState, p: Payload) -> None:
    """Replace ``state``'s contents by the snapshot ``p``."""
    snap = p.doc["snap"]
    state.models = {}
    for m in snap["models"]:
        eids = _unstrs(m["eids"])
        t = ModelTable(k=m["k"], capacity=max(1024, len(eids)))
        t.eids = eids
        t.free = p.get(m["free"]).tolist()
        for c, ref in m["cols"].items():
            t.cols[c][: len(eids)] = p.get(ref)
        st = t.cols["state"][: len(eids)].tolist()
        for s, (e, kind) in enumerate(zip(eids, st, strict=True)):
            if kind in (OPEN, JOINED):
                t.index[e] = s
            elif kind == WAITING:
                t.waiting[e] = s
        t.windows = {w: [_f(end), tr, jo, fi] for w, end, tr, jo, fi in m["windows"]}
        t.final = {w for w, r in t.windows.items() if r[3]}
        t.final_lists = {w: _unstrs(ids) for w, ids in m["final"]}
        t.final_ids = {e for ids in t.final_lists.values() for e in ids}
        t.cutoff, t.min_open, t.min_wait = _f(m["cutoff"]), _f(m["min_open"]), _f(m["min_wait"])
        state.models[m["name"]] = t
    state.entries = snap["entries"]
    state.cutoff = _f(snap["cutoff"])
    state.final_order = deque((m, w) for m, w in snap["final_order"])
    state.final_count = snap["final_count"]
    assert state.entries == sum(t.entries for t in state.models.values()), "snapshot entries"
    assert math.isfinite(state.entries)
