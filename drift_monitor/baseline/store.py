"""The baseline file format (``.dmb``): a ZIP archive, never pickle.

Layout::

    baseline.json          metadata + per-column profiles (UTF-8 JSON, documented below)
    reference/<i>.npy      column i's reference sample, float64, sorted (numpy .npy v1,
                           loaded with allow_pickle=False)
    thresholds/calibration.json  optional: the null tables of calibrated thresholds (versioned
                           by its own ``version``; compact JSON, sorted keys; see
                           drift_monitor/stats/calibration.py). Absent in older files.
    performance.json       optional: validation-set performance (``--label``), its own
                           ``format_version``; see drift_monitor/baseline/performance.py
    performance/label_reference.npy   optional: the label's reference sample (regression)
    segments/index.json    optional: per-segment baselines (``--segment-by``): column,
                           top_k, per segment its name, rows and member; see
                           drift_monitor/baseline/segments.py
    segments/<i>.dmb       optional: segment i's baseline, itself a complete archive of
                           this format (own checksum; never with segments of its own)

``baseline.json`` holds ``format`` (``"drift-monitor-baseline"``), ``schema_version``,
``model``, ``version``, ``created_at``, ``source``, ``build`` (parameters), ``columns``
and ``checksum``: ``sha256:`` + hex SHA-256 over the canonical JSON of the document
without its checksum (sorted keys, compact separators) followed by, for every array
member in name order, its name and bytes. A truncated archive, a changed byte in any
member, an unknown schema version or a member that is not a plain float64 array is
rejected with a :class:`BaselineError` naming the file and what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from drift_monitor.baseline.calibrate import calibrate
from drift_monitor.baseline.model import (
    SCHEMA_VERSION,
    Baseline,
    CategoricalProfile,
    ColumnBaseline,
    NumericProfile,
)
from drift_monitor.baseline.performance import BaselinePerformance
from drift_monitor.baseline.segments import (
    INDEX_MEMBER,
    MAX_TOP_K,
    SegmentBaselines,
    segment_member,
    segment_members,
    segments_from_members,
)
from drift_monitor.baseline.validate import (
    CALIBRATION_WHERE,
    MAX_ARRAY_BYTES,
    MAX_MANIFEST_BYTES,
    MAX_REFERENCE_VALUES,
    NPY_HEADER_BYTES,
    check_baseline,
    check_calibration,
    member_limits,
    parse_npy,
)
from drift_monitor.errors import BaselineError
from drift_monitor.stats.calibration import Calibration

log = logging.getLogger("drift_monitor.baseline")

FORMAT = "drift-monitor-baseline"
MANIFEST = "baseline.json"
#: Optional member holding the calibration tables (covered by the checksum like any member).
CALIBRATION_MEMBER = CALIBRATION_WHERE
#: File name suffix of baseline files (a ZIP archive).
SUFFIX = ".dmb"


def _checksum(doc: dict[str, Any], arrays: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(arrays[name])
    return "sha256:" + h.hexdigest()


def _npy_bytes(arr: np.ndarray[Any, Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype="<f8"), allow_pickle=False)
    return buf.getvalue()


def _floats(arr: np.ndarray[Any, Any]) -> list[float]:
    return [float(x) for x in arr]


def to_document(baseline: Baseline) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The JSON document (without checksum) and the array members of a baseline."""
    arrays: dict[str, bytes] = {}
    cols: list[dict[str, Any]] = []
    for i, c in enumerate(baseline.columns):
        entry: dict[str, Any] = {
            "name": c.name,
            "kind": c.kind,
            "role": c.role,
            "rows": c.rows,
            "missing_ratio": c.missing_ratio,
        }
        p = c.profile
        if isinstance(p, NumericProfile):
            member = f"reference/{i}.npy"
            arrays[member] = _npy_bytes(p.reference_sample)
            entry["numeric"] = {
                "mean": p.mean,
                "std": p.std,
                "min": p.minimum,
                "max": p.maximum,
                "quantiles": {
                    "probs": _floats(p.quantile_probs),
                    "values": _floats(p.quantile_values),
                },
                "psi_bins": {
                    "inner_edges": _floats(p.inner_edges),
                    "expected_fractions": _floats(p.expected_fractions),
                },
                "reference_sample": {"member": member, "size": int(p.reference_sample.shape[0])},
            }
        elif isinstance(p, CategoricalProfile):
            entry["categorical"] = {
                "categories": list(p.categories),
                "counts": list(p.counts),
                "pooled_other": p.pooled_other,
                "distinct": p.distinct,
            }
        cols.append(entry)
    if baseline.calibration is not None:
        arrays[CALIBRATION_MEMBER] = json.dumps(
            baseline.calibration.to_json(), sort_keys=True, separators=(",", ":")
        ).encode()
    arrays.update(_performance_members(baseline))
    arrays.update(_segment_members(baseline))
    doc = {
        "format": FORMAT,
        "schema_version": baseline.schema_version,
        "model": baseline.model,
        "version": baseline.version,
        "created_at": baseline.created_at,
        "source": baseline.source,
        "build": baseline.build,
        "columns": cols,
    }
    return doc, arrays


def save_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> Baseline:
    """Write ``baseline`` to ``path`` atomically (temp file + rename).

    Returns the baseline with its ``checksum`` set. A reader never sees a half-written
    file: the daemon may hot-reload the directory while this runs. Raises
    :class:`BaselineError` naming the file when it cannot be written (a directory, a
    parent that is a file, no permission, disk full).
    """
    target = Path(path)
    for c in baseline.columns:
        p = c.profile
        if isinstance(p, NumericProfile) and p.reference_sample.shape[0] > MAX_REFERENCE_VALUES:
            raise BaselineError(
                f"{target}: column {c.name!r} has a reference sample of "
                f"{p.reference_sample.shape[0]:,} values, more than the {MAX_REFERENCE_VALUES:,} "
                "a baseline file may hold; build with a smaller sample_size"
            )
    doc, arrays = to_document(baseline)
    checksum = _checksum(doc, arrays)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".baseline-", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_archive(fh, doc, arrays, checksum)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise
    return _with_checksum(baseline, checksum)


def _write_archive(
    fh: Any, doc: dict[str, Any], arrays: dict[str, bytes], checksum: str, fixed_time: bool = False
) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        manifest = json.dumps({**doc, "checksum": checksum}, indent=1)
        _write_member(zf, MANIFEST, manifest, fixed_time)
        for name, data in arrays.items():
            _write_member(zf, name, data, fixed_time)


def _write_member(zf: zipfile.ZipFile, name: str, data: bytes | str, fixed_time: bool) -> None:
    if not fixed_time:
        zf.writestr(name, data)
        return
    # A nested archive's bytes are covered by the outer checksum: no timestamps in them,
    # so the same baseline always gives the same bytes.
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def archive_bytes(baseline: Baseline) -> bytes:
    """``baseline`` as the bytes of a .dmb archive (deterministic: no timestamps)."""
    doc, arrays = to_document(baseline)
    buf = io.BytesIO()
    _write_archive(buf, doc, arrays, _checksum(doc, arrays), fixed_time=True)
    return buf.getvalue()


def _write_error(target: Path, exc: OSError) -> BaselineError:
    return BaselineError(
        f"{target}: cannot write the baseline file ({exc.strerror or exc}); "
        "choose a writable file path"
    )


def _with_checksum(b: Baseline, checksum: str) -> Baseline:
    return dataclasses.replace(b, checksum=checksum, _prepared={})


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read and verify a baseline file. Raises :class:`BaselineError` with the file name
    and the fix for a missing, truncated, tampered, incompatible or inconsistent file.

    Memory and time stay bounded for any file: members are read only up to the sizes
    their declared shapes allow (:mod:`drift_monitor.baseline.validate`), so a zip bomb
    or an absurd declared shape is rejected before anything large is allocated.
    """
    p = Path(path)
    try:
        raw = _read_regular_file(p)
    except FileNotFoundError:
        raise BaselineError(
            f"{p}: baseline file not found; build one with `drift-monitor baseline build`"
        ) from None
    except OSError as exc:
        raise BaselineError(f"{p}: cannot read baseline file ({exc.strerror})") from None
    return _load_bytes(raw, p)


def _load_bytes(raw: bytes, p: Path, nested: bool = False) -> Baseline:
    """A baseline from the bytes of an archive (``p`` names it in errors); ``nested``:
    a segment's archive inside another, which may not hold segments itself."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            doc, members = _read_archive(p, zf)
    except BaselineError:
        raise
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, ValueError, zlib.error) as exc:
        raise BaselineError(
            f"{p}: not a readable baseline file (truncated or not a .dmb archive: {exc}); "
            "rebuild it with `drift-monitor baseline build`"
        ) from None
    except (OSError, RuntimeError, NotImplementedError, MemoryError) as exc:
        # A CRC mismatch inside a member, an unsupported compression, ...
        raise BaselineError(f"{p}: corrupt baseline archive ({exc}); rebuild it") from None
    stored = doc.pop("checksum", None)
    actual = _checksum(doc, members)
    if stored != actual:
        raise BaselineError(
            f"{p}: checksum mismatch (file says {stored}, content is {actual}): the file was "
            "modified or corrupted; rebuild it with `drift-monitor baseline build`"
        )
    try:
        baseline = _from_document(doc, members, actual)
        check_baseline(baseline)
        if nested and any(name.startswith("segments/") for name in members):
            raise ValueError("a segment baseline cannot have segments of its own")
        segments = _segments_from_members(members, baseline, p)
        if segments is not None:
            baseline = dataclasses.replace(baseline, segments=segments)
        calib = members.get(CALIBRATION_MEMBER)
        if calib is not None:
            tables = Calibration.from_json(json.loads(calib))
            check_calibration(baseline, tables)
            return dataclasses.replace(baseline, calibration=tables, _prepared={})
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError, IndexError) as exc:
        problem = str(exc) if isinstance(exc, ValueError) else repr(exc)
        raise BaselineError(
            f"{p}: malformed baseline content: {problem}; "
            "rebuild it with `drift-monitor baseline build`"
        ) from None
    # A file from before calibration existed: compute its tables now (deterministic, the
    # same numbers a rebuild would store); rebuilding the baseline stores them.
    log.info(
        "%s: baseline has no calibration tables (built by an older drift-monitor); "
        "calibrating at load, rebuild the baseline to store them",
        p,
    )
    return dataclasses.replace(baseline, calibration=calibrate(baseline), _prepared={})


def _read_regular_file(p: Path) -> bytes:
    # O_NONBLOCK: opening a FIFO (or a device) put in place of the file must not block
    # the caller, the daemon's consume loop; it is refused as not a regular file.
    fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise BaselineError(
                f"{p}: not a regular file; point the baseline at a .dmb file "
                "built with `drift-monitor baseline build`"
            )
        return fh.read()


def _read_archive(p: Path, zf: zipfile.ZipFile) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every array member, each read with a cap (see ``validate``)."""
    infos = {info.filename: info for info in zf.infolist()}
    if len(infos) != len(zf.infolist()):
        raise BaselineError(f"{p}: archive holds a member twice; rebuild it")
    manifest = infos.pop(MANIFEST, None)
    if manifest is None:
        raise BaselineError(f"{p}: archive has no {MANIFEST}; not a drift-monitor baseline")
    try:
        doc = json.loads(_read_member(p, zf, manifest, MAX_MANIFEST_BYTES))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BaselineError(f"{p}: {MANIFEST} is not valid JSON ({exc}); rebuild it") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BaselineError(f"{p}: not a drift-monitor baseline (format field missing)")
    sv = doc.get("schema_version")
    if sv != SCHEMA_VERSION:
        raise BaselineError(
            f"{p}: baseline schema_version {sv!r} is not supported by this drift-monitor "
            f"(supports {SCHEMA_VERSION}); rebuild the baseline with this version"
        )
    try:
        limits = member_limits(doc)
    except ValueError as exc:
        raise BaselineError(
            f"{p}: {MANIFEST}: {exc}; rebuild it with `drift-monitor baseline build`"
        ) from None
    limits.update(OPTIONAL_MEMBER_LIMITS)
    unknown = sorted(set(infos) - set(limits))
    if unknown:
        raise BaselineError(
            f"{p}: unexpected archive member {unknown[0]!r} (not declared in {MANIFEST}); "
            "rebuild it with `drift-monitor baseline build`"
        )
    members: dict[str, bytes] = {}
    nested = 0
    for name, info in infos.items():
        members[name] = _read_member(p, zf, info, limits[name])
        if name.startswith("segments/"):
            # Each segment archive is capped like a whole file; all of them together too.
            nested += len(members[name])
            if nested > MAX_ARRAY_BYTES:
                raise BaselineError(
                    f"{p}: segment members hold more than {MAX_ARRAY_BYTES:,} bytes "
                    "(a corrupt or hostile file); rebuild it with fewer --segment-top-k"
                )
    return doc, members


def _read_member(p: Path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    # The declared size first (free), then a capped read: the declared size can lie.
    if info.file_size > limit:
        raise BaselineError(
            f"{p}: member {info.filename!r} declares {info.file_size:,} bytes, more than the "
            f"{limit:,} its declared shape allows (a corrupt or hostile file); rebuild it"
        )
    with zf.open(info) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise BaselineError(
            f"{p}: member {info.filename!r} holds more than the {limit:,} bytes its declared "
            "shape allows (a corrupt or hostile file); rebuild it"
        )
    return data


def _load_array(members: dict[str, bytes], name: str, size: int) -> np.ndarray[Any, Any]:
    if name not in members:
        raise ValueError(f"archive member {name!r} is missing")
    return parse_npy(members[name], name, size)


def _from_document(doc: dict[str, Any], members: dict[str, bytes], checksum: str) -> Baseline:
    cols: list[ColumnBaseline] = []
    for c in doc["columns"]:
        profile: NumericProfile | CategoricalProfile | None = None
        if "numeric" in c:
            n = c["numeric"]
            ref = n["reference_sample"]
            profile = NumericProfile(
                mean=float(n["mean"]),
                std=float(n["std"]),
                minimum=float(n["min"]),
                maximum=float(n["max"]),
                quantile_probs=np.asarray(n["quantiles"]["probs"], dtype=np.float64),
                quantile_values=np.asarray(n["quantiles"]["values"], dtype=np.float64),
                inner_edges=np.asarray(n["psi_bins"]["inner_edges"], dtype=np.float64),
                expected_fractions=np.asarray(
                    n["psi_bins"]["expected_fractions"], dtype=np.float64
                ),
                reference_sample=_load_array(members, ref["member"], int(ref["size"])),
            )
        elif "categorical" in c:
            k = c["categorical"]
            profile = CategoricalProfile(
                categories=tuple(str(x) for x in k["categories"]),
                counts=tuple(int(x) for x in k["counts"]),
                pooled_other=bool(k["pooled_other"]),
                distinct=int(k["distinct"]),
            )
        if c["kind"] not in ("numeric", "categorical") or c["role"] not in (
            "feature",
            "prediction",
        ):
            raise ValueError(f"column {c['name']!r}: bad kind/role")
        cols.append(
            ColumnBaseline(
                str(c["name"]),
                c["kind"],
                c["role"],
                int(c["rows"]),
                float(c["missing_ratio"]),
                profile,
            )
        )
    return Baseline(
        model=str(doc["model"]),
        version=str(doc["version"]),
        created_at=str(doc["created_at"]),
        source=str(doc["source"]),
        build=dict(doc["build"]),
        columns=tuple(cols),
        schema_version=int(doc["schema_version"]),
        checksum=checksum,
        performance=_performance_from_members(members),
    )


# --- performance member (model quality): performance.json + its label reference -------
# Optional, so files without it load unchanged and older readers ignore it; versioned by
# its own ``format_version``; covered by the checksum like every member. The label's
# profile is written with the column code above, as a one-column document.
PERFORMANCE_MEMBER = "performance.json"
PERFORMANCE_REFERENCE = "performance/label_reference.npy"

#: Optional members (not declared by the manifest's shapes) and the most bytes each may
#: hold: any other undeclared member is refused, and none is read past its cap.
OPTIONAL_MEMBER_LIMITS: dict[str, int] = {
    PERFORMANCE_MEMBER: MAX_MANIFEST_BYTES,
    PERFORMANCE_REFERENCE: NPY_HEADER_BYTES + 8 * MAX_REFERENCE_VALUES,
    # Null tables: per column and test a few dozen quantiles at a dozen sizes (~40 KB
    # for 100 columns); the manifest's cap bounds it just as well.
    CALIBRATION_MEMBER: MAX_MANIFEST_BYTES,
    # Per-segment baselines: the index, and one nested archive per segment (each read
    # with the cap of a whole file's arrays, all of them together too: _read_archive).
    INDEX_MEMBER: MAX_MANIFEST_BYTES,
    **{segment_member(i): MAX_ARRAY_BYTES for i in range(MAX_TOP_K + 1)},
}


def _performance_members(b: Baseline) -> dict[str, bytes]:
    perf = b.performance
    if perf is None:
        return {}
    doc = perf.to_json()
    out: dict[str, bytes] = {}
    if perf.label_profile is not None:
        one = Baseline(b.model, b.version, b.created_at, b.source, {}, (perf.label_profile,))
        col_doc, col_arrays = to_document(one)
        col = col_doc["columns"][0]
        if "numeric" in col:
            out[PERFORMANCE_REFERENCE] = col_arrays[col["numeric"]["reference_sample"]["member"]]
            col["numeric"]["reference_sample"]["member"] = PERFORMANCE_REFERENCE
        doc["label_profile"] = col
    out[PERFORMANCE_MEMBER] = json.dumps(doc, sort_keys=True, allow_nan=False).encode()
    return out


def _performance_from_members(members: dict[str, bytes]) -> BaselinePerformance | None:
    raw = members.get(PERFORMANCE_MEMBER)
    if raw is None:
        return None
    doc = json.loads(raw)
    profile = None
    if doc.get("label_profile") is not None:
        one: dict[str, Any] = {"model": "", "version": "", "created_at": "", "source": ""}
        one.update(build={}, columns=[doc.pop("label_profile")], schema_version=SCHEMA_VERSION)
        rest = {k: v for k, v in members.items() if k != PERFORMANCE_MEMBER}
        profile = _from_document(one, rest, "").columns[0]
    return BaselinePerformance.from_json(doc, profile)


# --- segments members (per-segment drift): see drift_monitor/baseline/segments.py ------
def _segment_members(b: Baseline) -> dict[str, bytes]:
    return segment_members(b, archive_bytes)


def _segments_from_members(
    members: dict[str, bytes], baseline: Baseline, p: Path
) -> SegmentBaselines | None:
    def load(data: bytes, member: str) -> Baseline:
        return _load_bytes(data, Path(f"{p}!{member}"), nested=True)

    return segments_from_members(members, baseline, load)
