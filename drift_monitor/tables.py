"""Reading tabular files (CSV, Parquet, JSON Lines) for baselines and offline checks.

The format comes from the file name: ``.csv``/``.csv.gz``/``.tsv``, ``.parquet``/``.pq``,
``.jsonl``/``.ndjson``/``.jsonl.gz``. JSON Lines rows in the event shape (a ``features``
object and a ``prediction``) are flattened, so a file of events can be checked directly.
Large files are read in chunks with a progress callback.
"""

from __future__ import annotations

import lzma
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from drift_monitor.errors import InputError

#: progress(done_units, total_units, unit): units are bytes for CSV/JSONL, rows for Parquet.
Progress = Callable[[int, int, str], None]

_CHUNK_ROWS = 200_000


def table_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``jsonl`` from the file name; InputError otherwise."""
    name = path.name.lower()
    for suffix in (".gz", ".bz2", ".zst", ".xz"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    raise InputError(
        f"{path}: unknown input format; use a .csv, .parquet or .jsonl file (optionally .gz)"
    )


def read_table(path: str | os.PathLike[str], progress: Progress | None = None) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON Lines file into a DataFrame.

    Raises :class:`InputError` naming the file for a missing, unreadable or empty file.
    ``progress`` is called after every chunk.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if p.is_dir():
        raise InputError(f"{p}: is a directory; pass a .csv, .parquet or .jsonl file")
    fmt = table_format(p)
    try:
        if fmt == "parquet":
            df = _read_parquet(p, progress)
        elif fmt == "csv":
            df = _read_text(p, progress, csv=True)
        else:
            df = _read_text(p, progress, csv=False)
    except InputError:
        raise
    # EOFError, zlib.error and LZMAError: a truncated or corrupt .gz/.bz2/.xz file;
    # ImportError: a compression whose optional package is not installed (.zst).
    except (
        ValueError,
        OSError,
        UnicodeDecodeError,
        EOFError,
        zlib.error,
        lzma.LZMAError,
        ImportError,
        pd.errors.ParserError,
    ) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{p}: cannot read as {fmt} ({msg})") from None
    except Exception as exc:  # pyarrow raises its own ArrowInvalid etc.
        if type(exc).__module__.startswith("pyarrow"):
            raise InputError(f"{p}: cannot read as parquet ({exc})") from None
        raise
    if fmt == "jsonl":
        df = flatten_events(df)
    if len(df.columns) == 0:
        raise InputError(f"{p}: no columns found")
    return df


def _read_parquet(p: Path, progress: Progress | None) -> pd.DataFrame:
    import pyarrow.parquet as pq  # noqa: PLC0415 - only needed for parquet input

    pf = pq.ParquetFile(p)
    total = pf.metadata.num_rows
    frames: list[pd.DataFrame] = []
    done = 0
    for batch in pf.iter_batches(batch_size=_CHUNK_ROWS):
        frames.append(batch.to_pandas())
        done += batch.num_rows
        if progress:
            progress(done, total, "rows")
    if not frames:
        raise InputError(f"{p}: parquet file has no rows")
    df: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return df


def _read_text(p: Path, progress: Progress | None, csv: bool) -> pd.DataFrame:
    total = p.stat().st_size
    frames: list[pd.DataFrame] = []
    with p.open("rb") as raw:
        # Compressed files are handed to pandas by path; progress then counts the
        # compressed bytes read so far, which is still a fair fraction of the whole.
        src: Any = p if _compressed(p) else raw
        reader: Any
        if csv:
            sep = "\t" if ".tsv" in p.name.lower() else ","
            reader = pd.read_csv(src, chunksize=_CHUNK_ROWS, sep=sep)
        else:
            reader = pd.read_json(src, lines=True, chunksize=_CHUNK_ROWS, dtype=False)
        with reader:
            for chunk in reader:
                frames.append(chunk)
                if progress:
                    progress(min(raw.tell(), total), total, "bytes")
    if not frames:
        raise InputError(f"{p}: file is empty")
    if progress:
        progress(total, total, "bytes")
    df: pd.DataFrame = pd.concat(frames, ignore_index=True)
    return df


def _compressed(p: Path) -> bool:
    return p.name.lower().endswith((".gz", ".bz2", ".zst", ".xz"))


def flatten_events(df: pd.DataFrame) -> pd.DataFrame:
    """Flatten rows in the event shape: ``features`` objects become columns, a scalar
    ``prediction`` becomes the column ``prediction`` and an object ``prediction`` one
    column per key. Other rows are returned unchanged."""
    if "features" not in df.columns or not df["features"].map(lambda v: isinstance(v, dict)).any():
        return df
    feats = pd.DataFrame.from_records(
        [v if isinstance(v, dict) else {} for v in df["features"]], index=df.index
    )
    out = feats
    if "prediction" in df.columns:
        pred = df["prediction"]
        if pred.map(lambda v: isinstance(v, dict)).any():
            preds = pd.DataFrame.from_records(
                [v if isinstance(v, dict) else {} for v in pred], index=df.index
            )
            out = pd.concat([out, preds], axis=1)
        else:
            out = out.assign(prediction=pred)
    return out
