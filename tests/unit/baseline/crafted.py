"""Crafting hostile baseline files whose checksum is valid (recomputed as the store does)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.baseline.store import MANIFEST, _checksum

Doc = dict[str, Any]
Members = dict[str, bytes]


def training(n: int = 20_000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )


def write_clean(path: Path, model: str = "m", version: str = "v1") -> Path:
    save_baseline(build_baseline(training(), model, version=version), path)
    return path


def read(path: Path) -> tuple[Doc, Members]:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members.pop(MANIFEST))
    doc.pop("checksum")
    return doc, members


def write(path: Path, doc: Doc, members: Members) -> Path:
    """Write ``doc`` + ``members`` with a checksum that verifies."""
    checksum = _checksum(doc, members)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, json.dumps({**doc, "checksum": checksum}))
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def craft(src: Path, dst: Path, mutate: Callable[[Doc, Members], None]) -> Path:
    doc, members = read(src)
    mutate(doc, members)
    return write(dst, doc, members)


def npy(arr: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def npy_header(shape: tuple[int, ...]) -> bytes:
    """A .npy v1 header declaring ``shape`` float64 values, with no data after it."""
    buf = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buf, header)
    return np.lib.format.magic(1, 0) + buf.getvalue()


def numeric(doc: Doc) -> dict[str, Any]:
    col: dict[str, Any] = next(c for c in doc["columns"] if c["name"] == "x")["numeric"]
    return col


def categorical(doc: Doc) -> dict[str, Any]:
    col: dict[str, Any] = next(c for c in doc["columns"] if c["name"] == "c")["categorical"]
    return col


def ref_member(doc: Doc) -> str:
    return str(numeric(doc)["reference_sample"]["member"])
