"""Decode candidates side by side: a batch of record values -> window columns.

    .venv/bin/python -m bench.decode [--size small|full]

Every candidate turns the same 1,000-record batches of ``bench.ingest``'s events (20
numeric + 5 categorical features and a score, ~385 bytes) into the columns windows
take (numeric matrix with NaN for missing, categorical codes, event times):

- ``per event``: ``Decoder.decode`` + ``ModelLayout.extract`` per record (the per-event
  path, the columnar path's fallback);
- ``typed msgspec (ours)``: :class:`~drift_monitor.decode.typed.TypedBatchDecoder` +
  :class:`~drift_monitor.windows.typed_columns.StructExtractor` (what the pipeline runs:
  structs of the layouts' columns, with every check that keeps it equal to per event);
- ``columnar orjson (ours, before)``: :class:`~drift_monitor.decode.columnar.BatchDecoder`
  + :class:`~drift_monitor.windows.columns.ColumnExtractor` (the typed path's fallback);
- ``msgspec prototype``: typed ``msgspec.Struct`` envelopes without the checks or the
  fallback (the floor of the typed path);
- ``pyarrow read_json``: pyarrow's JSON reader on the newline-joined batch;
- ``orjson.loads only``: parsing alone, the floor of any orjson-based path.

Rounds are interleaved and each candidate keeps its best (the machine is shared). The
cyclic garbage collector is paused while a candidate runs, as ``Pipeline.process`` pauses
it for a batch (with it running, collections over the heap cost more than the decoding).
"""

from __future__ import annotations

import gc
import io
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson

from bench.data import SCORE, EventStream, Schema, model_names, training_frame
from bench.report import header, parser, result
from drift_monitor.baseline import build_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.decode.columnar import BatchDecoder
from drift_monitor.decode.decoder import Decoder
from drift_monitor.decode.settings import DecodeSettings
from drift_monitor.decode.typed import TypedBatchDecoder
from drift_monitor.windows.columns import ColumnExtractor
from drift_monitor.windows.layout import MISSING_CODE, ModelLayout
from drift_monitor.windows.typed_columns import StructExtractor, schema_columns

BATCH = 1_000
SIZES = {"small": 20, "full": 100}  # batches


def _per_event(decoder: Decoder, layout: ModelLayout) -> Callable[[list[bytes]], Any]:
    def run(values: list[bytes]) -> Any:
        out = []
        for v in values:
            ev = decoder.decode(v, None, "t", -1)
            out.append(layout.extract(ev))
        return out

    return run


def _columnar(decoder: Decoder, layout: ModelLayout, now: float) -> Callable[[list[bytes]], Any]:
    batch = BatchDecoder(decoder)
    ex = ColumnExtractor(layout)
    ms = np.full(BATCH, -1, dtype=np.int64)

    def run(values: list[bytes]) -> Any:
        env = batch.decode(values, ms[: len(values)], now)  # type: ignore[arg-type]
        return ex.extract(env.features, env.predictions), env.timestamps

    return run


def _typed(decoder: Decoder, layout: ModelLayout, now: float) -> Callable[[list[bytes]], Any]:
    batch = TypedBatchDecoder(decoder)
    schema = batch.use(schema_columns([layout]))
    assert schema is not None
    ex = StructExtractor(layout, schema)
    ms = np.full(BATCH, -1, dtype=np.int64)

    def run(values: list[bytes]) -> Any:
        env = batch.decode(values, ms[: len(values)], now)  # type: ignore[arg-type]
        assert env.typed is not None and env.typed.all()
        return ex.extract(env.features, env.predictions), env.timestamps

    return run


def _msgspec(layout: ModelLayout) -> Callable[[list[bytes]], Any]:
    import msgspec  # noqa: PLC0415

    feats = [n for n in layout.numeric if n != layout.prediction_column]
    fields: list[Any] = [(n, float | None, None) for n in feats]
    fields += [(c.name, str | None, None) for c in layout.categorical]
    features = msgspec.defstruct("Features", fields)
    envelope = msgspec.defstruct(
        "Envelope",
        [
            ("model", str),
            ("features", features),
            ("event_id", str | None, None),
            ("timestamp", float | None, None),
            ("prediction", float | None, None),
        ],
    )
    dec = msgspec.json.Decoder(envelope)
    astuple = msgspec.structs.astuple
    k = len(feats)
    lookups = [{**c.index, None: MISSING_CODE} for c in layout.categorical]
    fallbacks = [c.fallback for c in layout.categorical]

    def run(values: list[bytes]) -> Any:
        envs: list[Any] = [dec.decode(v) for v in values]
        rows = [astuple(e.features) for e in envs]
        nums = np.array([r[:k] for r in rows], dtype=np.float64)
        cats = list(zip(*(r[k:] for r in rows), strict=True))
        codes = [
            [lk.get(v, fb) for v in col]
            for lk, fb, col in zip(lookups, fallbacks, cats, strict=True)
        ]
        ts = np.array([e.timestamp for e in envs], dtype=np.float64)
        pred = np.array([e.prediction for e in envs], dtype=np.float64)
        return nums, codes, ts, pred

    return run


def _pyarrow(layout: ModelLayout) -> Callable[[list[bytes]], Any]:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.compute as pc  # noqa: PLC0415
    import pyarrow.json as pj  # noqa: PLC0415

    feats = [n for n in layout.numeric if n != layout.prediction_column]
    cats = [(c.name, pa.array(list(c.index)), c.fallback) for c in layout.categorical]

    def run(values: list[bytes]) -> Any:
        table = pj.read_json(io.BytesIO(b"\n".join(values)))
        f = table.column("features").combine_chunks()
        nums = np.column_stack(
            [f.field(n).to_numpy(zero_copy_only=False).astype(np.float64) for n in feats]
        )
        codes = []
        for name, cats_arr, fallback in cats:
            col = f.field(name)
            idx = pc.index_in(col, value_set=cats_arr).fill_null(fallback)
            codes.append(pc.if_else(pc.is_null(col), MISSING_CODE, idx).to_numpy())
        ts = table.column("timestamp").to_numpy().astype(np.float64)
        return nums, codes, ts

    return run


def main(argv: Sequence[str] | None = None) -> int:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args(argv)
    n_batches = SIZES[args.size]
    header(f"decode: {n_batches} batches of {BATCH:,} events")
    schema = Schema()
    base = build_baseline(
        training_frame(schema, 5_000),
        "m00",
        version="bench",
        prediction=[SCORE],
        categorical=list(schema.categorical),
    )
    layout = ModelLayout.from_baseline(base)
    stream = EventStream(schema, model_names(1), 100.0, 1, seed=11)
    batches = [stream.batch(BATCH)[2] for _ in range(n_batches)]
    size = sum(map(len, batches[0])) / BATCH
    now = stream.t0 + 10**6
    decoder = Decoder(DecodeSettings(), clock=ManualClock(now))
    candidates: dict[str, Callable[[list[bytes]], Any]] = {
        "per event (decode+extract)": _per_event(decoder, layout),
        "typed msgspec (ours)": _typed(decoder, layout, now),
        "columnar orjson (ours, before)": _columnar(decoder, layout, now),
        "msgspec prototype (no checks)": _msgspec(layout),
    }
    candidates["pyarrow read_json"] = _pyarrow(layout)
    candidates["orjson.loads only"] = lambda values: [orjson.loads(v) for v in values]
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(5):
        for name, run in candidates.items():
            gc.collect()
            gc.disable()
            t0 = time.perf_counter()
            for values in batches:
                run(values)
            best[name] = min(best[name], time.perf_counter() - t0)
            gc.enable()
    total = n_batches * BATCH
    base_us = best["per event (decode+extract)"] / total * 1e6
    result("events", f"{total:,} of {size:.0f} bytes, batches of {BATCH:,}")
    for name, secs in best.items():
        us = secs / total * 1e6
        result(name, f"{us:.2f} us/event ({base_us / us:.2f}x per event)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
