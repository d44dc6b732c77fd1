"""Item 6 and 7 of issue 12: baselines with a valid checksum but hostile content.

Every variant verifies its checksum (recomputed as the store does), so only the
consistency and size checks can reject it. `check` must exit 2 with one line naming
the field, never 1 (a false alert on clean data) or 3 (a crash).
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import textwrap
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from drift_monitor.baseline import load_baseline
from drift_monitor.baseline.store import MANIFEST
from drift_monitor.cli import main
from drift_monitor.errors import BaselineError
from tests.unit.baseline import crafted as cr
from tests.unit.baseline.crafted import Doc, Members


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("crafted")
    cr.write_clean(d / "clean.dmb")
    cr.training(3000, seed=11).to_csv(d / "window.csv", index=False)
    return d / "clean.dmb"


def fractions_wrong_length(doc: Doc, members: Members) -> None:
    cr.numeric(doc)["psi_bins"]["expected_fractions"].pop()


def counts_wrong_length(doc: Doc, members: Members) -> None:
    cr.categorical(doc)["counts"].append(5)


def negative_counts(doc: Doc, members: Members) -> None:
    counts = cr.categorical(doc)["counts"]
    counts[0] = -counts[0]


def sixty_gb_shape(doc: Doc, members: Members) -> None:
    n = 7_500_000_000  # 60 GB of float64
    cr.numeric(doc)["reference_sample"]["size"] = n
    members[cr.ref_member(doc)] = cr.npy_header((n,))


def sixty_gb_npy_header_only(doc: Doc, members: Members) -> None:
    members[cr.ref_member(doc)] = cr.npy_header((7_500_000_000,))


def short_quantile_grid(doc: Doc, members: Members) -> None:
    q = cr.numeric(doc)["quantiles"]
    q["probs"], q["values"] = q["probs"][:3], q["values"][:3]


def unsorted_edges(doc: Doc, members: Members) -> None:
    cr.numeric(doc)["psi_bins"]["inner_edges"].reverse()


def fractions_sum_to_five(doc: Doc, members: Members) -> None:
    b = cr.numeric(doc)["psi_bins"]
    b["expected_fractions"] = [f * 5 for f in b["expected_fractions"]]


def nan_std(doc: Doc, members: Members) -> None:
    cr.numeric(doc)["std"] = float("nan")


def nan_in_reference(doc: Doc, members: Members) -> None:
    name = cr.ref_member(doc)
    arr = np.load(io.BytesIO(members[name])).copy()
    arr[::2] = np.nan
    members[name] = cr.npy(arr)


def unsorted_reference(doc: Doc, members: Members) -> None:
    name = cr.ref_member(doc)
    arr = np.load(io.BytesIO(members[name]))[::-1].copy()
    members[name] = cr.npy(arr)


def kind_mismatch(doc: Doc, members: Members) -> None:
    next(c for c in doc["columns"] if c["name"] == "c")["kind"] = "numeric"


def undeclared_member(doc: Doc, members: Members) -> None:
    members["reference/99.npy"] = cr.npy(np.zeros(3))


# variant -> words the error must contain (the member/field it names)
VARIANTS: dict[str, tuple[Callable[[Doc, Members], None], str]] = {
    "fractions-wrong-length": (fractions_wrong_length, "psi_bins.expected_fractions"),
    "counts-wrong-length": (counts_wrong_length, "categorical.counts"),
    "negative-counts": (negative_counts, "categorical.counts"),
    "60-GB-declared-shape": (sixty_gb_shape, "reference_sample.size"),
    "60-GB-npy-header": (sixty_gb_npy_header_only, "reference/"),
    "short-quantile-grid": (short_quantile_grid, "quantiles.probs"),
    "unsorted-edges": (unsorted_edges, "psi_bins.inner_edges"),
    "fractions-sum-to-5": (fractions_sum_to_five, "psi_bins.expected_fractions"),
    "nan-std": (nan_std, "numeric.std"),
    "nan-in-reference-sample": (nan_in_reference, "reference_sample"),
    "unsorted-reference-sample": (unsorted_reference, "reference_sample"),
    "kind-mismatch": (kind_mismatch, "kind"),
    "undeclared-member": (undeclared_member, "reference/99.npy"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_crafted_variant_is_a_baseline_error_naming_the_field(
    variant: str, clean: Path, tmp_path: Path
) -> None:
    mutate, field = VARIANTS[variant]
    bad = cr.craft(clean, tmp_path / "bad.dmb", mutate)
    started = time.monotonic()
    with pytest.raises(BaselineError) as err:
        load_baseline(bad)
    assert time.monotonic() - started < 2.0
    msg = str(err.value)
    assert field in msg and "rebuild" in msg and str(bad) in msg
    assert "\n" not in msg


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_check_exits_2_on_a_crafted_baseline_never_1_or_3(
    variant: str, clean: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mutate, field = VARIANTS[variant]
    bad = cr.craft(clean, tmp_path / "bad.dmb", mutate)
    window = clean.parent / "window.csv"
    code = main(["check", "--baseline", str(bad), "--input", str(window)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert field in err and len(err.strip().splitlines()) == 1


def test_clean_file_and_window_are_ok(clean: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The control: the same window against the untouched baseline is no drift.
    window = clean.parent / "window.csv"
    assert main(["check", "--baseline", str(clean), "--input", str(window)]) == 0
    capsys.readouterr()


def test_rows_too_large_for_a_number_is_a_baseline_error(clean: Path, tmp_path: Path) -> None:
    def rows(doc: Doc, members: Members) -> None:
        doc["columns"][0]["missing_ratio"] = 10**400  # float() raises OverflowError

    with pytest.raises(BaselineError, match="malformed baseline content"):
        load_baseline(cr.craft(clean, tmp_path / "bad.dmb", rows))


# -- zip bomb ------------------------------------------------------------------------

BOMB_BYTES = 512 * 1024 * 1024


def zip_bomb(clean: Path, out: Path) -> Path:
    """The clean baseline with its reference member replaced by 512 MiB of zeros (about
    2 MB compressed); the checksum is recomputed over the bomb, so it verifies."""
    doc, members = cr.read(clean)
    name = cr.ref_member(doc)
    # The checksum over 512 MiB, streamed (the store's algorithm: manifest, then names+bytes).
    h = hashlib.sha256()
    h.update(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    chunk = b"\0" * (16 << 20)
    for member in sorted([*members]):
        h.update(member.encode())
        if member == name:
            for _ in range(BOMB_BYTES // len(chunk)):
                h.update(chunk)
        else:
            h.update(members[member])
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr(MANIFEST, json.dumps({**doc, "checksum": "sha256:" + h.hexdigest()}))
        for member, data in members.items():
            if member != name:
                zf.writestr(member, data)
        with zf.open(name, "w", force_zip64=True) as fh:
            for _ in range(BOMB_BYTES // len(chunk)):
                fh.write(chunk)
    return out


PROBE = textwrap.dedent(
    """
    import json, resource, sys, time
    from drift_monitor.baseline import load_baseline
    from drift_monitor.errors import BaselineError
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    try:
        load_baseline(sys.argv[1])
        error = None
    except BaselineError as exc:
        error = str(exc)
    seconds = time.monotonic() - t
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(json.dumps({"error": error, "seconds": seconds, "grown_mb": grown_kb / 1024}))
    """
)


def test_zip_bomb_is_rejected_quickly_and_small(clean: Path, tmp_path: Path) -> None:
    bomb = zip_bomb(clean, tmp_path / "bomb.dmb")
    assert bomb.stat().st_size < 5 * 1024 * 1024
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(bomb)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["error"] is not None and "reference/0.npy" in result["error"]
    assert "declared shape allows" in result["error"]
    assert result["seconds"] < 1.0, result
    assert result["grown_mb"] < 50, result
