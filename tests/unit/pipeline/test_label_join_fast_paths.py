"""The label join's cheap common cases against the general code they stand in for
(issue 15): :func:`decode_label_flat` against :func:`decode_label_object`,
:meth:`LabelJoin.add_predictions` (a block of rows) against
:meth:`LabelJoin.add_prediction` row by row, and the label encoding of
:meth:`LabelJoin.add_label` against :func:`encode_label` - on the same values, hostile
ones included (NaN, infinities, bools, huge ints, strings, nested objects, missing
ids). Where the cheap path declines (None) the general one decides; where it answers,
the answers are equal."""

from __future__ import annotations

import itertools
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.config.loader import validate_config
from drift_monitor.errors import EventError
from drift_monitor.labels.config import LabelFields
from drift_monitor.labels.encode import encode_label
from drift_monitor.labels.events import LabelEvent, decode_label_flat, decode_label_object
from drift_monitor.labels.store import Prediction
from drift_monitor.pipeline.baselines import BaselineRegistry
from drift_monitor.pipeline.labels import LabelJoin
from drift_monitor.status.state import MonitorState
from tests.unit.pipeline.test_columnar_fuzz import T0
from tests.unit.pipeline.test_columnar_labels_fuzz import _labelled_baselines

NOW = T0 + 60.0
MAX_FUTURE = 120.0
HOSTILE: list[Any] = [
    0, 1, 2, -1, 0.0, 1.0, -0.0, 0.5, 1.5, -0.25, 1e300, math.nan, math.inf, -math.inf,
    True, False, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 2**70, "", "1", "0", "yes",
    "2024-01-01T00:00:00Z", None, [1], {"v": 1}, {"p": 0.3}, {"p": "x"}, {"score": 0.2},
]  # fmt: skip
TIMES: list[Any] = [
    T0, T0 + 100.0, T0 + 1000.0, int(T0), int(T0 * 1000), int((T0 + 10**6) * 1000),
    T0 * 1000.0, 1e11, 1e11 + 1, 0, 0.0, -1, -0.5, math.nan, math.inf, True, 2**63,
    2**64 - 1, "2024-01-01T00:00:00Z", "nope", None, [1],
]  # fmt: skip

#: label, event id, model, timestamp: values of the common shape
COMMON: list[list[Any]] = [
    [0, 1, 0.0, 1.0],
    ["e1", "é", "e2"],
    ["m0", "d"],
    [T0, T0 + 100.0, int(T0), int(T0 * 1000), T0 * 1000.0],
]


def _slow(obj: dict[str, Any], fields: LabelFields, key: bytes | None) -> Any:
    try:
        return decode_label_object(
            obj, key, int(T0 * 1000), fields, default_model="d", now=NOW, max_future=MAX_FUTURE
        )
    except EventError as err:
        return err.reason


@pytest.mark.parametrize(
    "fields",
    [
        LabelFields(),
        LabelFields(label="outcome.value", timestamp="ts", model="m", event_id="id"),
        LabelFields(timestamp=None),
        LabelFields(model=None),
        LabelFields(model="", timestamp=""),
    ],
)
def test_decode_label_flat_equals_decode_label_object(fields: LabelFields) -> None:
    rng = random.Random(11)
    names = [fields.label, fields.event_id, fields.model or "model", fields.timestamp or "ts"]
    answered = 0
    for _ in range(3000):
        obj: dict[str, Any] = {}
        pools = [HOSTILE, HOSTILE, HOSTILE, TIMES]
        for name, common, pool in zip(names, COMMON, pools, strict=True):
            if rng.random() < 0.9:
                obj[name] = rng.choice(pool) if rng.random() < 0.2 else rng.choice(common)
        if rng.random() < 0.1:
            obj["outcome"] = {"value": rng.choice(HOSTILE)}
        if rng.random() < 0.1:
            obj[""] = "m-empty"
        fast = decode_label_flat(obj, fields, NOW, MAX_FUTURE)
        if fast is None:
            continue
        answered += 1
        for key in (None, b"k", b"\xff"):
            assert _slow(obj, fields, key) == fast, obj
    if fields.model and fields.timestamp:  # the common shape is answered
        assert answered > 100
        ok = {fields.label: 1, fields.event_id: "e1", fields.model: "m0"}
        ev = decode_label_flat({**ok, fields.timestamp: int(T0 * 1000)}, fields, NOW, MAX_FUTURE)
        assert ev == LabelEvent("m0", "e1", 1, T0)
    else:  # the record key or timestamp decides: the general path
        assert answered == 0


@pytest.fixture(scope="module")
def baselines_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fuzz test's labelled baselines, built once for the module."""
    directory = tmp_path_factory.mktemp("labelled") / "baselines"
    _labelled_baselines(directory)
    return directory


def _join(tmp: Path, baselines_dir: Path, sample_rate: float) -> LabelJoin:
    labels = {"max_delay_seconds": 600.0, "window_seconds": 60.0, "sample_rate": sample_rate}
    cfg = validate_config(
        {
            "kafka": {"bootstrap_servers": ["in-memory:0"], "topics": ["t"], "group_id": "g"},
            "baselines": {"dir": str(baselines_dir)},
            "state": {"dir": str(tmp / "state")},
            "models": [{"name": "a", "labels": {**labels, "window_seconds": 37.0}}],
        }
    )
    state = MonitorState(["a"], {"a": 60.0})
    baselines = BaselineRegistry(cfg)
    baselines.reload()
    join = LabelJoin(cfg, baselines, state, clock=ManualClock(NOW))
    assert join.models["a"].spec is not None
    return join


def _types(predictions: list[Prediction]) -> list[type]:
    return [type(x) for p in predictions for x in (p.window_id, p.window_end, *p.outputs)]


@pytest.mark.parametrize("sample_rate", [1.0, 0.5])
def test_add_predictions_equals_add_prediction_row_by_row(
    tmp_path: Path, baselines_dir: Path, sample_rate: float
) -> None:
    block = _join(tmp_path / "block", baselines_dir, sample_rate)
    rows = _join(tmp_path / "rows", baselines_dir, sample_rate)
    rng = random.Random(3)
    floats = [0.0, 1.0, -0.0, 0.25, 1.5, -0.25, 1e300, math.nan, math.inf, -math.inf]
    for n in itertools.chain([0, 1, 2], (rng.choice([1, 5, 40, 300]) for _ in range(40))):
        all_floats = rng.random() < 0.5  # the one-array case
        preds = [
            rng.choice(floats) if all_floats or rng.random() < 0.5 else rng.choice(HOSTILE)
            for _ in range(n)
        ]
        if all_floats and rng.random() < 0.5:
            preds = [rng.random() for _ in range(n)]
        ids = [
            rng.choice([None, f"e{rng.randrange(10**6)}"]) if rng.random() < 0.1 else f"e{i}"
            for i in range(n)
        ]
        ts = T0 + np.cumsum(rng.choices([0.0, 0.001, 7.3, 37.0, 100.0], k=n)) - 50.0
        counted = np.array([rng.random() < 0.2 for _ in range(n)], dtype=bool)
        block.add_predictions("a", ids, ts, preds, counted)
        for i in range(n):
            rows.add_prediction("a", ids[i], float(ts[i]), preds[i], bool(counted[i]))
        a, b = block.models["a"], rows.models["a"]
        assert a.predictions == b.predictions
        assert _types(a.predictions) == _types(b.predictions)
        assert a.rejected == b.rejected
        assert a.predicted_until == b.predicted_until
    assert block.models["a"].rejected.keys() == {"bad_prediction", "no_event_id"}
    assert len(block.models["a"].predictions) > 300


def test_add_label_encodes_as_encode_label(tmp_path: Path, baselines_dir: Path) -> None:
    join = _join(tmp_path, baselines_dir, 1.0)
    m = join.models["a"]
    for i, raw in enumerate(HOSTILE):
        got = join.add_label(LabelEvent("a", f"e{i}", raw, T0 + i))
        assert m.spec is not None
        want = encode_label(m.spec, raw)
        if want is None:
            assert got is not None and got[0].reason == "label_bad_label", raw
            assert not m.labels or m.labels[-1].event_id != f"e{i}"
        else:
            assert got is None, raw
            last = m.labels[-1]
            assert (last.event_id, last.value, type(last.value)) == (f"e{i}", want, float)
    assert m.labelled_until == max(lab.label_time for lab in m.labels)
