"""Per-segment baselines in the .dmb file: optional, checksummed, validated members
(``segments/index.json`` + one nested archive per segment). A bad member is refused
with a one-line error naming the field (``baseline show`` exits 2)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import Baseline, build_baseline, load_baseline, save_baseline
from drift_monitor.baseline.model import NumericProfile
from drift_monitor.baseline.store import _checksum, archive_bytes
from drift_monitor.errors import BaselineError

INDEX = "segments/index.json"


def training(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "channel": rng.choice(["web", "app"], size=n),
            "country": rng.choice(["IN", "US", "DE", "FR"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


@pytest.fixture(scope="module")
def segmented() -> Baseline:
    return build_baseline(training(), "shop", version="v1", segment_by="country", segment_top_k=2)


def test_segments_round_trip(segmented: Baseline, tmp_path: Path) -> None:
    saved = save_baseline(segmented, tmp_path / "b.dmb")
    loaded = load_baseline(tmp_path / "b.dmb")
    assert loaded.checksum == saved.checksum
    assert loaded.segments is not None and segmented.segments is not None
    assert loaded.segments.names == ("IN", "US", "__other__")
    assert [s.rows for s in loaded.segments.segments] == [
        s.rows for s in segmented.segments.segments
    ]
    for a, b in zip(loaded.segments.segments, segmented.segments.segments, strict=True):
        assert a.baseline is not None and b.baseline is not None
        assert a.baseline.calibration is not None  # stored, not recomputed
        pa, pb = a.baseline.column("amount").profile, b.baseline.column("amount").profile
        assert isinstance(pa, NumericProfile) and isinstance(pb, NumericProfile)
        np.testing.assert_array_equal(pa.reference_sample, pb.reference_sample)
    # Nested archives carry no timestamps: the same baseline gives the same bytes.
    seg = segmented.segments.segments[0].baseline
    assert seg is not None and archive_bytes(seg) == archive_bytes(seg)


def test_a_baseline_without_segments_loads_as_before(tmp_path: Path) -> None:
    b = build_baseline(training(), "shop", version="v1")
    assert b.segments is None and "segment_by" not in b.build
    save_baseline(b, tmp_path / "b.dmb")
    loaded = load_baseline(tmp_path / "b.dmb")
    assert loaded.segments is None


def test_build_errors_name_the_option() -> None:
    with pytest.raises(BaselineError, match=r"--segment-by: column 'region' is not in"):
        build_baseline(training(), "shop", segment_by="region")
    with pytest.raises(BaselineError, match=r"--segment-top-k must be in 1\.\.100, got 0"):
        build_baseline(training(), "shop", segment_by="country", segment_top_k=0)


def _rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> Path:
    """``src`` with its members changed by ``change`` and a valid outer checksum (so
    the file is refused for its content, not its checksum)."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members.pop("baseline.json"))
    doc.pop("checksum")
    change(members)
    checksum = _checksum(doc, members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("baseline.json", json.dumps({**doc, "checksum": checksum}))
        for name, data in members.items():
            zf.writestr(name, data)
    dst.write_bytes(buf.getvalue())
    return dst


def _index(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, bytes]], None]:
    def apply(members: dict[str, bytes]) -> None:
        doc = json.loads(members[INDEX])
        change(doc)
        members[INDEX] = json.dumps(doc).encode()

    return apply


def _drop(name: str) -> Callable[[dict[str, bytes]], None]:
    def apply(members: dict[str, bytes]) -> None:
        del members[name]

    return apply


def _other_model(members: dict[str, bytes]) -> None:
    seg = build_baseline(training(500, seed=9), "other", segment_by=None)
    members["segments/0.dmb"] = archive_bytes(seg)


BAD: dict[str, tuple[Callable[[dict[str, bytes]], None], str]] = {
    "top_k": (_index(lambda d: d.update(top_k=0)), r"segments/index\.json: top_k: 0 is not in"),
    "format": (
        _index(lambda d: d.update(format_version=7)),
        r"segments/index\.json: format_version: 7 is not supported",
    ),
    "other_last": (
        _index(lambda d: d["segments"].reverse()),
        r"segments/index\.json: segments\[0\]\.name: '__other__' must be the last",
    ),
    "too_many": (
        _index(lambda d: d.update(top_k=1)),
        r"segments/index\.json: segments: must be a list of 1\.\.top_k\+1 \(2\) entries",
    ),
    "rows": (
        _index(lambda d: d["segments"][1].update(rows=-3)),
        r"segments\[1\]\.rows: -3 is not a count of rows",
    ),
    "member_name": (
        _index(lambda d: d["segments"][0].update(member="../x.dmb")),
        r"segments\[0\]\.member: '\.\./x\.dmb' is not 'segments/0\.dmb'",
    ),
    "missing_member": (
        _drop("segments/1.dmb"),
        r"segments\[1\]\.member 'segments/1\.dmb' is missing",
    ),
    "no_index": (_drop(INDEX), r"archive member 'segments/0\.dmb' without segments/index\.json"),
    "other_model": (_other_model, r"segments/0\.dmb: model 'other' is not 'shop'"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_segments_member_is_refused_naming_the_field(
    case: str, segmented: Baseline, tmp_path: Path
) -> None:
    good = tmp_path / "good.dmb"
    save_baseline(segmented, good)
    change, message = BAD[case]
    bad = _rewrite(good, tmp_path / "bad.dmb", change)
    with pytest.raises(BaselineError, match=message):
        load_baseline(bad)


def test_a_changed_byte_in_a_segment_archive_fails_the_checksum(
    segmented: Baseline, tmp_path: Path
) -> None:
    good = tmp_path / "good.dmb"
    save_baseline(segmented, good)
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    nested = bytearray(members["segments/1.dmb"])
    nested[len(nested) // 2] ^= 0xFF
    members["segments/1.dmb"] = bytes(nested)
    bad = tmp_path / "bad.dmb"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(BaselineError, match="checksum mismatch"):
        load_baseline(bad)


def test_baseline_show_of_a_bad_member_exits_2_with_one_line(
    segmented: Baseline, tmp_path: Path
) -> None:
    good = tmp_path / "good.dmb"
    save_baseline(segmented, good)
    bad = _rewrite(good, tmp_path / "bad.dmb", _index(lambda d: d.update(top_k="ten")))
    out = subprocess.run(
        [sys.executable, "-m", "drift_monitor", "baseline", "show", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "segments/index.json: top_k: 'ten'" in lines[0], out.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "drift_monitor", "baseline", "show", str(good)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "segments:    by 'country', top 2 (2 kept + __other__)" in shown
