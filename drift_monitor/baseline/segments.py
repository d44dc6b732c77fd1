"""Per-segment baselines: the training statistics of each value of one column.

``build_baseline(..., segment_by="country", segment_top_k=10)`` (CLI ``baseline build
--segment-by country --segment-top-k 10``) keeps the ``top_k`` most frequent values of
the column (ties broken by name) and builds, for each, a complete baseline from the
training rows holding that value; every other row (rarer values, missing values) goes
into one ``__other__`` segment. A segment baseline has the model's columns with the
model's kinds, minus the segment column itself (constant inside a segment), its own PSI
bins, reference samples and calibration tables, so a segment's thresholds are
calibrated to its own training distribution and its window's size.

The number of segments is fixed at build time (at most ``top_k + 1``): whatever values
events carry, a value outside the top-K is evaluated in ``__other__``, so metric series
stay bounded by the baseline, never by event data.

On disk (see baseline/store.py) the segments are optional members of the baseline
archive: ``segments/index.json`` (column, top_k, per segment its name, training rows and
member) and one nested baseline archive ``segments/<i>.dmb`` per segment, each with its
own checksum, all covered by the outer file's checksum.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from drift_monitor.errors import BaselineError
from drift_monitor.stats.categorical import OTHER, category_key

if TYPE_CHECKING:  # build.py imports this module lazily; model.py only for types
    from drift_monitor.baseline.model import Baseline

#: ``--segment-top-k`` default: segments kept besides ``__other__``.
DEFAULT_TOP_K = 10
#: Largest ``top_k`` a baseline may declare (bounds files, memory and metric series).
MAX_TOP_K = 100
#: Version of ``segments/index.json``.
INDEX_FORMAT = 1
INDEX_MEMBER = "segments/index.json"


def segment_member(i: int) -> str:
    """Archive member of segment ``i``'s nested baseline."""
    return f"segments/{i}.dmb"


@dataclass(frozen=True, slots=True, eq=False)
class Segment:
    """One segment: its name (a value of the segment column, or ``__other__``), its
    training rows, and its baseline (None when no training row fell into it)."""

    name: str
    rows: int
    baseline: Baseline | None


@dataclass(frozen=True, slots=True, eq=False)
class SegmentBaselines:
    """The segments of a baseline: the kept values first (most frequent first), then
    ``__other__`` (always last, code ``len(segments) - 1``)."""

    column: str
    top_k: int
    segments: tuple[Segment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Segment names in code order (``__other__`` last)."""
        return tuple(s.name for s in self.segments)

    @property
    def other_code(self) -> int:
        """Code of the ``__other__`` segment."""
        return len(self.segments) - 1

    def index(self) -> dict[str, int]:
        """Kept value -> segment code (``__other__`` not included: it is the fallback)."""
        return {s.name: i for i, s in enumerate(self.segments[:-1])}


def top_values(series: pd.Series, top_k: int, allowed: set[str] | None = None) -> list[str]:
    """The ``top_k`` most frequent non-missing values of ``series`` as category keys
    (ties broken by name), restricted to ``allowed`` when given; never ``__other__``."""
    keys = pd.Series([category_key(v) for v in series.tolist()], dtype=object)
    counts = keys.dropna().value_counts(sort=False)
    items = sorted(
        ((str(k), int(n)) for k, n in counts.items() if str(k) != OTHER),
        key=lambda kv: (-kv[1], kv[0]),
    )
    if allowed is not None:
        items = [kv for kv in items if kv[0] in allowed]
    return [k for k, _ in items[:top_k]]


def build_segments(
    df: pd.DataFrame,
    model_baseline: Baseline,
    column: str,
    top_k: int,
    build: dict[str, Any],
) -> SegmentBaselines:
    """The per-segment baselines of ``df`` for ``column`` (see the module docstring).

    ``build`` holds the keyword arguments of the model's own build (sample size, bins,
    max categories, seed, version, source, created_at, prediction columns). Raises
    :class:`BaselineError` naming ``--segment-by``/``--segment-top-k`` for an unknown
    column or a ``top_k`` outside 1..MAX_TOP_K.
    """
    from drift_monitor.baseline.build import build_baseline  # noqa: PLC0415 - cycle
    from drift_monitor.baseline.model import CategoricalProfile  # noqa: PLC0415

    source = str(build.get("source", "input"))
    if column not in df.columns:
        raise BaselineError(
            f"--segment-by: column {column!r} is not in {source} "
            f"(columns: {', '.join(map(str, df.columns[:20]))})"
        )
    if not 1 <= top_k <= MAX_TOP_K:
        raise BaselineError(f"--segment-top-k must be in 1..{MAX_TOP_K}, got {top_k}")
    allowed: set[str] | None = None
    own = next((c for c in model_baseline.columns if c.name == column), None)
    if own is not None and own.kind == "categorical":
        # Window codes of a categorical feature are the model's categories: a segment
        # must be one of them (it is, unless the feature's own tail was pooled).
        p = own.profile
        allowed = set(p.categories) - {OTHER} if isinstance(p, CategoricalProfile) else set()
    values = top_values(df[column], top_k, allowed)
    keys = pd.Series([category_key(v) for v in df[column].tolist()], dtype=object, index=df.index)
    model_cols = [c for c in model_baseline.columns if c.name != column]
    if not model_cols:
        raise BaselineError(
            f"--segment-by {column}: the model has no other column to monitor per segment"
        )
    keep = {c.name for c in model_cols}
    common: dict[str, Any] = {
        "version": model_baseline.version,
        "prediction": [c.name for c in model_cols if c.role == "prediction"],
        "categorical": [c.name for c in model_cols if c.kind == "categorical"],
        "numeric": [c.name for c in model_cols if c.kind == "numeric"],
        "exclude": [str(n) for n in df.columns if str(n) not in keep],
        "sample_size": build["sample_size"],
        "bins": build["bins"],
        "max_categories": build["max_categories"],
        "seed": build["seed"],
        "created_at": build.get("created_at"),
    }
    segments: list[Segment] = []
    in_top = keys.isin(values)
    for name in [*values, OTHER]:
        mask = (keys == name) if name != OTHER else ~in_top
        subset = df.loc[mask.to_numpy()]
        if len(subset) == 0:
            segments.append(Segment(name, 0, None))
            continue
        b = build_baseline(
            subset,
            model_baseline.model,
            source=f"{source} [{column}={name}]",
            **common,
        )
        segments.append(Segment(name, len(subset), b))
    return SegmentBaselines(column, top_k, tuple(segments))


def index_document(segs: SegmentBaselines) -> dict[str, Any]:
    """The ``segments/index.json`` document (member names in code order)."""
    return {
        "format_version": INDEX_FORMAT,
        "column": segs.column,
        "top_k": segs.top_k,
        "segments": [
            {
                "name": s.name,
                "rows": s.rows,
                "member": segment_member(i) if s.baseline is not None else None,
            }
            for i, s in enumerate(segs.segments)
        ],
    }


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One validated entry of ``segments/index.json``."""

    name: str
    rows: int
    member: str | None


def parse_index(doc: Any) -> tuple[str, int, list[IndexEntry]]:
    """(column, top_k, entries) of a ``segments/index.json`` document.

    Raises ValueError ``segments/index.json: <field>: <problem>`` for an unknown format
    version, a missing or empty column, ``top_k`` outside 1..MAX_TOP_K, more than
    ``top_k + 1`` segments, a name that is not a string or appears twice, ``__other__``
    not last, negative rows, or a member that is not ``segments/<i>.dmb``.
    """
    w = INDEX_MEMBER
    if not isinstance(doc, dict):
        raise ValueError(f"{w}: not a JSON object")
    if doc.get("format_version") != INDEX_FORMAT:
        raise ValueError(
            f"{w}: format_version: {doc.get('format_version')!r} is not supported "
            f"(supports {INDEX_FORMAT})"
        )
    column = doc.get("column")
    if not isinstance(column, str) or not column:
        raise ValueError(f"{w}: column: {column!r} is not a column name")
    top_k = doc.get("top_k")
    if not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"{w}: top_k: {top_k!r} is not in 1..{MAX_TOP_K}")
    raw = doc.get("segments")
    if not isinstance(raw, list) or not 1 <= len(raw) <= top_k + 1:
        raise ValueError(f"{w}: segments: must be a list of 1..top_k+1 ({top_k + 1}) entries")
    entries: list[IndexEntry] = []
    seen: set[str] = set()
    for i, e in enumerate(raw):
        where = f"{w}: segments[{i}]"
        if not isinstance(e, dict):
            raise ValueError(f"{where}: not an object")
        name, rows, member = e.get("name"), e.get("rows"), e.get("member")
        if not isinstance(name, str) or name in seen:
            raise ValueError(f"{where}.name: {name!r} is not a distinct string")
        seen.add(name)
        if (name == OTHER) != (i == len(raw) - 1):
            raise ValueError(f"{where}.name: {OTHER!r} must be the last segment, and only it")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ValueError(f"{where}.rows: {rows!r} is not a count of rows")
        if member is not None and member != segment_member(i):
            raise ValueError(f"{where}.member: {member!r} is not {segment_member(i)!r}")
        if member is None and rows > 0:
            raise ValueError(f"{where}.member: missing for a segment with {rows} rows")
        entries.append(IndexEntry(name, rows, member))
    return column, top_k, entries


def check_segment_baseline(model: Baseline, column: str, i: int, seg: Baseline) -> None:
    """Raise ValueError naming ``segments/<i>.dmb`` unless ``seg`` belongs to ``model``:
    same model, no segments of its own, only columns of the model (never the segment
    column) with the model's kinds and roles."""
    where = segment_member(i)
    if seg.model != model.model:
        raise ValueError(f"{where}: model {seg.model!r} is not {model.model!r}")
    if seg.segments is not None:
        raise ValueError(f"{where}: a segment baseline cannot have segments of its own")
    own = {c.name: c for c in model.columns}
    for c in seg.columns:
        m = own.get(c.name)
        if c.name == column or m is None:
            raise ValueError(f"{where}: column {c.name!r} is not a monitored column of the model")
        if (c.kind, c.role) != (m.kind, m.role):
            raise ValueError(
                f"{where}: column {c.name!r} is {c.kind}/{c.role}, the model's is {m.kind}/{m.role}"
            )


def require_segments(baseline: Baseline, segment_by: str | None, where: str) -> None:
    """Raise :class:`BaselineError` when ``segment_by`` is configured but ``baseline``
    has no segments for that column (``where``: the file, for the message)."""
    if segment_by is None:
        return
    segs = baseline.segments
    if segs is None or segs.column != segment_by:
        has = f"segments by {segs.column!r}" if segs is not None else "no segments"
        raise BaselineError(
            f"{where}: detection.segment_by is {segment_by!r} but the baseline has {has}; "
            f"rebuild it with `drift-monitor baseline build --segment-by {segment_by}` "
            "or change detection.segment_by"
        )


def segment_members(b: Baseline, to_bytes: Callable[[Baseline], bytes]) -> dict[str, bytes]:
    """The archive members of ``b``'s segments (empty without): the index and each
    segment's baseline as archive bytes (``to_bytes``: the store's writer)."""
    segs = b.segments
    if segs is None:
        return {}
    out = {INDEX_MEMBER: json.dumps(index_document(segs), sort_keys=True).encode()}
    for i, seg in enumerate(segs.segments):
        if seg.baseline is not None:
            out[segment_member(i)] = to_bytes(seg.baseline)
    return out


def segments_from_members(
    members: Mapping[str, bytes],
    baseline: Baseline,
    load: Callable[[bytes, str], Baseline],
) -> SegmentBaselines | None:
    """The segments of a loaded archive's ``members`` (None without
    ``segments/index.json``); ``load(bytes, member)`` reads a nested archive (the store's
    reader, raising BaselineError naming the member). Raises ValueError naming the index
    field, an undeclared or missing member, or a segment baseline that does not belong
    to ``baseline``."""
    names = sorted(n for n in members if n.startswith("segments/") and n != INDEX_MEMBER)
    raw = members.get(INDEX_MEMBER)
    if raw is None:
        if names:
            raise ValueError(f"archive member {names[0]!r} without {INDEX_MEMBER}")
        return None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{INDEX_MEMBER}: not valid JSON ({exc})") from None
    column, top_k, entries = parse_index(doc)
    declared = {e.member for e in entries if e.member is not None}
    extra = sorted(set(names) - declared)
    if extra:
        raise ValueError(f"{INDEX_MEMBER}: archive member {extra[0]!r} is not declared")
    segments: list[Segment] = []
    for i, e in enumerate(entries):
        seg_baseline = None
        if e.member is not None:
            if e.member not in members:
                raise ValueError(f"{INDEX_MEMBER}: segments[{i}].member {e.member!r} is missing")
            seg_baseline = load(members[e.member], e.member)
            check_segment_baseline(baseline, column, i, seg_baseline)
        segments.append(Segment(e.name, e.rows, seg_baseline))
    return SegmentBaselines(column, top_k, tuple(segments))
