"""Limits and internal consistency of a baseline file, checked before it is trusted.

A valid checksum only proves the file was not changed after it was written, not that
its writer was honest: a crafted ``.dmb`` can carry a correct checksum over content
that would crash the daemon, exhaust memory (a zip bomb, a 60 GB declared shape) or
page someone on clean data (unsorted edges, fractions summing to 5, NaN). Two layers:

- :func:`member_limits`: from the manifest's declared shapes, the most bytes each
  archive member may hold. The store checks every member's declared size against it
  and reads with that cap, so nothing larger is ever decompressed; a member it does not
  list is rejected. A new kind of member gets its limit there, in one more block.
- :func:`check_baseline`: every column's profile is internally consistent (lengths,
  order, finiteness, fractions summing to 1, non-negative counts).

Both raise ``ValueError`` with ``<where>: <problem>``; the store turns it into a
:class:`~drift_monitor.errors.BaselineError` naming the file and the fix.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from drift_monitor.baseline.model import Baseline, CategoricalProfile, NumericProfile
from drift_monitor.stats.calibration import Calibration

CALIBRATION_WHERE = "thresholds/calibration.json"

#: Largest baseline.json accepted (bytes). 1,000 columns of 1,000 categories fit easily.
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
#: Largest reference sample per numeric column (values): 100x the build default.
MAX_REFERENCE_VALUES = 10_000_000
#: Largest total of all array members (bytes): bounds what one file can make us allocate.
MAX_ARRAY_BYTES = 1024 * 1024 * 1024
#: Room for a .npy header in front of the float64 values (numpy writes 128 bytes).
NPY_HEADER_BYTES = 4096
#: The schema-1 quantile grid: 0 %, 1 % … 100 %.
QUANTILE_GRID = np.linspace(0.0, 1.0, 101)
#: Tolerance of "fractions sum to 1".
SUM_TOLERANCE = 1e-6


def member_limits(doc: dict[str, Any]) -> dict[str, int]:
    """Member name -> most bytes it may hold, from the declared shapes in ``doc``.

    Raises ValueError naming the column and field for a declared shape that is not a
    non-negative integer, exceeds :data:`MAX_REFERENCE_VALUES`, names a member twice,
    or makes the arrays exceed :data:`MAX_ARRAY_BYTES` in total.
    """
    columns = doc.get("columns")
    if not isinstance(columns, list):
        raise ValueError("columns: must be a list")
    limits: dict[str, int] = {}
    total = 0
    for i, c in enumerate(columns):
        numeric = c.get("numeric") if isinstance(c, dict) else None
        if not isinstance(numeric, dict):
            continue
        where = f"{_col(c, i)}.numeric.reference_sample"
        ref = numeric.get("reference_sample")
        if not isinstance(ref, dict):
            raise ValueError(f"{where}: missing")
        size, member = ref.get("size"), ref.get("member")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ValueError(f"{where}.size: {size!r} is not a count of values")
        if size > MAX_REFERENCE_VALUES:
            raise ValueError(
                f"{where}.size: {size:,} values exceeds the limit of "
                f"{MAX_REFERENCE_VALUES:,} per column (rebuild with a smaller sample_size)"
            )
        if not isinstance(member, str) or member in limits:
            raise ValueError(f"{where}.member: {member!r} is not a distinct member name")
        limits[member] = NPY_HEADER_BYTES + 8 * size
        total += 8 * size
    if total > MAX_ARRAY_BYTES:
        raise ValueError(
            f"columns: reference samples total {total:,} bytes, more than the limit of "
            f"{MAX_ARRAY_BYTES:,}"
        )
    return limits


def parse_npy(data: bytes, name: str, size: int) -> np.ndarray[Any, Any]:
    """Parse a .npy member holding exactly ``size`` little-endian float64 values.

    The header is checked before anything is allocated (``np.load`` would allocate
    whatever shape the header claims). Raises ValueError naming the member.
    """
    fh = io.BytesIO(data)
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fh)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError, EOFError) as exc:
        raise ValueError(f"{name}: not a .npy array ({exc})") from None
    if dtype != np.dtype("<f8") or fortran or shape != (size,):
        raise ValueError(f"{name}: expected {size} float64 values, the header says {shape} {dtype}")
    offset = fh.tell()
    if len(data) - offset != 8 * size:
        raise ValueError(f"{name}: holds {len(data) - offset} bytes, expected {8 * size}")
    arr: np.ndarray[Any, Any] = np.frombuffer(data, dtype="<f8", count=size, offset=offset)
    return arr.astype(np.float64, copy=True)


def check_baseline(b: Baseline) -> None:
    """Raise ValueError ``<column>.<field>: <problem>`` unless every column is consistent.

    Numeric: finite mean/min/max, finite std >= 0, min <= max, the 101-point quantile
    grid with non-decreasing finite values, strictly increasing finite PSI edges with one
    more fraction than edges, fractions in [0, 1] summing to 1, a reference sample that
    is finite and sorted. Categorical: distinct names, one non-negative count per
    category, a positive total. Every column: unique name, rows >= 0, missing ratio in
    [0, 1], a profile matching its kind.
    """
    seen: set[str] = set()
    for i, c in enumerate(b.columns):
        where = f"columns[{i}] ({c.name!r})"
        if c.name in seen:
            raise ValueError(f"{where}.name: column appears twice")
        seen.add(c.name)
        if c.rows < 0:
            raise ValueError(f"{where}.rows: negative ({c.rows})")
        if not 0.0 <= c.missing_ratio <= 1.0:
            raise ValueError(f"{where}.missing_ratio: {c.missing_ratio!r} is not in [0, 1]")
        p = c.profile
        if isinstance(p, NumericProfile):
            if c.kind != "numeric":
                raise ValueError(f"{where}.kind: {c.kind!r} column with a numeric profile")
            _check_numeric(f"{where}.numeric", p)
        elif isinstance(p, CategoricalProfile):
            if c.kind != "categorical":
                raise ValueError(f"{where}.kind: {c.kind!r} column with a categorical profile")
            _check_categorical(f"{where}.categorical", p)


def _check_numeric(where: str, p: NumericProfile) -> None:
    for field, value in (("mean", p.mean), ("min", p.minimum), ("max", p.maximum)):
        if not math.isfinite(value):
            raise ValueError(f"{where}.{field}: {value!r} is not finite")
    if not (math.isfinite(p.std) and p.std >= 0):
        raise ValueError(f"{where}.std: {p.std!r} is not a finite value >= 0")
    if p.minimum > p.maximum:
        raise ValueError(f"{where}.min: {p.minimum!r} is larger than max {p.maximum!r}")
    probs, values = p.quantile_probs, p.quantile_values
    if probs.shape != QUANTILE_GRID.shape or not np.allclose(probs, QUANTILE_GRID):
        raise ValueError(
            f"{where}.quantiles.probs: expected the {QUANTILE_GRID.shape[0]}-point grid "
            f"0 %, 1 % … 100 %, got {probs.shape[0]} values"
        )
    if values.shape != probs.shape:
        raise ValueError(
            f"{where}.quantiles.values: {values.shape[0]} values for {probs.shape[0]} probs"
        )
    _finite_sorted(f"{where}.quantiles.values", values, strict=False)
    edges, fractions = p.inner_edges, p.expected_fractions
    _finite_sorted(f"{where}.psi_bins.inner_edges", edges, strict=True)
    if fractions.shape[0] != edges.shape[0] + 1:
        raise ValueError(
            f"{where}.psi_bins.expected_fractions: {fractions.shape[0]} fractions for "
            f"{edges.shape[0]} inner edges (needs {edges.shape[0] + 1})"
        )
    _fractions(f"{where}.psi_bins.expected_fractions", fractions)
    _finite_sorted(f"{where}.reference_sample", p.reference_sample, strict=False)


def _check_categorical(where: str, p: CategoricalProfile) -> None:
    if len(set(p.categories)) != len(p.categories):
        raise ValueError(f"{where}.categories: a category appears twice")
    if len(p.counts) != len(p.categories):
        raise ValueError(
            f"{where}.counts: {len(p.counts)} counts for {len(p.categories)} categories"
        )
    if any(n < 0 for n in p.counts):
        raise ValueError(f"{where}.counts: negative count")
    if p.categories and sum(p.counts) <= 0:
        raise ValueError(f"{where}.counts: they sum to 0")
    if p.distinct < 0:
        raise ValueError(f"{where}.distinct: negative ({p.distinct})")


def _finite_sorted(where: str, arr: np.ndarray[Any, Any], *, strict: bool) -> None:
    if arr.ndim != 1:
        raise ValueError(f"{where}: not a flat list of numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: holds NaN or infinite values")
    steps = np.diff(arr)
    if np.any(steps <= 0) if strict else np.any(steps < 0):
        order = "strictly increasing" if strict else "sorted ascending"
        raise ValueError(f"{where}: not {order}")


def _fractions(where: str, arr: np.ndarray[Any, Any]) -> None:
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr > 1):
        raise ValueError(f"{where}: every fraction must be in [0, 1]")
    total = float(arr.sum())
    if abs(total - 1.0) > SUM_TOLERANCE:
        raise ValueError(f"{where}: fractions sum to {total:.6g}, not 1")


def _col(c: Any, i: int) -> str:
    name = c.get("name") if isinstance(c, dict) else None
    return f"columns[{i}] ({name!r})"


def check_calibration(b: Baseline, calibration: Calibration) -> None:
    """Raise ValueError ``thresholds/calibration.json: <column>.<test>: <problem>`` unless
    every null table belongs to a baseline column and is usable: sizes positive and
    increasing, tail probabilities in (0, 1) and decreasing, quantiles finite, >= 0 and
    non-decreasing towards the tail, a population > 0 and at least one cell. A NaN
    quantile would make every comparison false: a column that could never alert.
    """
    names = {c.name for c in b.columns}
    for column, tables in calibration.columns.items():
        if column not in names:
            raise ValueError(f"{CALIBRATION_WHERE}: {column!r} is not a baseline column")
        for test, t in tables.items():
            where = f"{CALIBRATION_WHERE}: {column}.{test}"
            if t.sizes.ndim != 1 or t.sizes.shape[0] == 0:
                raise ValueError(f"{where}: no window sizes")
            if not (np.all(np.isfinite(t.sizes)) and t.sizes[0] > 0):
                raise ValueError(f"{where}: window sizes must be finite and positive")
            if np.any(np.diff(t.sizes) <= 0):
                raise ValueError(f"{where}: window sizes must increase")
            if t.probs.shape[0] == 0 or not np.all((t.probs > 0) & (t.probs < 1)):
                raise ValueError(f"{where}: tail probabilities must lie in (0, 1)")
            if np.any(np.diff(t.probs) >= 0):
                raise ValueError(f"{where}: tail probabilities must decrease")
            if not np.all(np.isfinite(t.quantiles)) or np.any(t.quantiles < 0):
                raise ValueError(f"{where}: quantiles must be finite and >= 0")
            if np.any(np.diff(t.quantiles, axis=1) < 0):
                raise ValueError(f"{where}: quantiles must not decrease towards the tail")
            if not (math.isfinite(t.population) and t.population > 0) or t.cells < 1:
                raise ValueError(f"{where}: population must be > 0 and cells >= 1")
