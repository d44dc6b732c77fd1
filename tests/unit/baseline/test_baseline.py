"""Building baselines from DataFrames, the .dmb file format, and its failure modes."""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import (
    SCHEMA_VERSION,
    Baseline,
    CategoricalProfile,
    NumericProfile,
    build_baseline,
    infer_kind,
    load_baseline,
    save_baseline,
)
from drift_monitor.cli import main
from drift_monitor.errors import BaselineError
from drift_monitor.evaluation import DetectionSettings, evaluate_window, window_from_frame
from drift_monitor.stats import category_key
from drift_monitor.stats.categorical import OTHER
from tests.profiles import categorical, numeric

N = 2_000


def mixed_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.normal(10, 3, n)
    f[:40] = np.nan
    f[40:50] = np.inf
    f[50:55] = -np.inf
    obj = rng.choice(np.array(["red", "green", "blue", None], dtype=object), size=n).astype(object)
    nullable_int = pd.array(rng.integers(0, 50, n), dtype="Int64")
    nullable_int[:7] = pd.NA
    nullable_bool = pd.array(rng.random(n) < 0.3, dtype="boolean")
    nullable_bool[:11] = pd.NA
    return pd.DataFrame(
        {
            "i": rng.integers(-5, 100, n),
            "f": f,
            "b": rng.random(n) < 0.7,
            "s_obj": obj,
            "s_str": pd.Series(rng.choice(["x", "y", "z"], size=n), dtype="str").where(
                rng.random(n) > 0.1
            ),
            "s_string": pd.Series(rng.choice(["p", "q"], size=n), dtype="string").where(
                rng.random(n) > 0.2
            ),
            "cat": pd.Categorical(rng.choice(["lo", "mid", "hi"], size=n)),
            "all_nan": np.full(n, np.nan),
            "all_none": pd.Series([None] * n, dtype=object),
            "const": np.full(n, 7.0),
            "i_nullable": nullable_int,
            "b_nullable": nullable_bool,
        }
    )


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return mixed_frame()


@pytest.fixture(scope="module")
def built(frame: pd.DataFrame) -> Baseline:
    return build_baseline(frame, "fraud", version="v1", source="train.csv", sample_size=500)


def finite_values(series: pd.Series) -> np.ndarray:
    values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
    finite: np.ndarray = values[np.isfinite(values)]
    return finite


def expected_categories(series: pd.Series) -> list[tuple[str, int]]:
    """(category, count), most frequent first, ties by name; missing values excluded."""
    counts = Counter(k for k in (category_key(v) for v in series.tolist()) if k is not None)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def is_missing(v: object) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


# ---------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------


EXPECTED_KINDS = {
    "i": "numeric",
    "f": "numeric",
    "b": "categorical",
    "s_obj": "categorical",
    "s_str": "categorical",
    "s_string": "categorical",
    "cat": "categorical",
    "all_nan": "numeric",
    "all_none": "categorical",
    "const": "numeric",
    "i_nullable": "numeric",
    "b_nullable": "categorical",
}


def test_build_metadata(built: Baseline, frame: pd.DataFrame) -> None:
    assert built.model == "fraud"
    assert built.version == "v1"
    assert built.source == "train.csv"
    assert built.schema_version == SCHEMA_VERSION
    assert built.created_at.endswith("Z")
    assert built.build["rows"] == len(frame)
    assert built.build["sample_size"] == 500
    assert built.build["seed"] == 0
    assert built.build["bins"] == 10
    assert built.column_names == list(frame.columns)
    assert {c.name: c.kind for c in built.columns} == EXPECTED_KINDS
    assert all(c.role == "feature" and c.rows == len(frame) for c in built.columns)


@pytest.mark.parametrize("name", [n for n, k in EXPECTED_KINDS.items() if k == "numeric"])
def test_numeric_column_profile(built: Baseline, frame: pd.DataFrame, name: str) -> None:
    col = built.column(name)
    finite = finite_values(frame[name])
    # NaN, +inf, -inf and NA are all missing
    assert col.missing_ratio == pytest.approx(1 - len(finite) / len(frame), abs=1e-15)
    if len(finite) == 0:
        assert col.profile is None
        assert name not in built.prepared()
        return
    p = col.profile
    assert isinstance(p, NumericProfile)
    assert p.mean == pytest.approx(float(np.mean(finite)), rel=1e-12)
    assert p.std == pytest.approx(float(np.std(finite)), rel=1e-12, abs=1e-300)
    assert p.minimum == float(finite.min())
    assert p.maximum == float(finite.max())
    np.testing.assert_array_equal(p.quantile_probs, np.linspace(0, 1, 101))
    np.testing.assert_array_equal(p.quantile_values, np.quantile(finite, np.linspace(0, 1, 101)))
    assert np.isfinite(p.reference_sample).all()


def test_missing_ratio_counts_nan_and_infinities(built: Baseline) -> None:
    # 40 NaN + 10 inf + 5 -inf in column f
    assert built.column("f").missing_ratio == pytest.approx(55 / N, rel=1e-12)
    assert built.column("i_nullable").missing_ratio == pytest.approx(7 / N, rel=1e-12)
    assert built.column("all_nan").missing_ratio == 1.0


def test_constant_column(built: Baseline) -> None:
    p = built.column("const").profile
    assert isinstance(p, NumericProfile)
    assert p.std == 0.0
    assert p.inner_edges.tolist() == [7.0]
    assert p.expected_fractions.tolist() == [0.0, 1.0]  # 7.0 sits on its own edge


@pytest.mark.parametrize("name", [n for n, k in EXPECTED_KINDS.items() if k == "categorical"])
def test_categorical_column_profile(built: Baseline, frame: pd.DataFrame, name: str) -> None:
    col = built.column(name)
    values = frame[name].tolist()
    present = sum(not is_missing(v) for v in values)
    assert col.missing_ratio == pytest.approx(1 - present / len(values), abs=1e-15)
    if present == 0:
        assert col.profile is None
        return
    p = col.profile
    assert isinstance(p, CategoricalProfile)
    expected = expected_categories(frame[name])
    assert list(zip(p.categories, p.counts, strict=True)) == expected
    assert p.distinct == len(expected)
    assert p.pooled_other is False
    assert "<NA>" not in p.categories
    assert "nan" not in p.categories
    assert "None" not in p.categories


def test_bool_categories_are_true_and_false(built: Baseline) -> None:
    assert set(categorical(built.column("b")).categories) == {"true", "false"}
    assert set(categorical(built.column("b_nullable")).categories) == {"true", "false"}
    assert built.column("b_nullable").missing_ratio == pytest.approx(11 / N, rel=1e-12)


def test_pandas_na_in_nullable_dtypes_is_missing() -> None:
    df = pd.DataFrame(
        {
            "s": pd.array(["a", None, "b", "a"], dtype="string"),
            "code": pd.array([1, None, 2, 1], dtype="Int64"),
            "flag": pd.array([True, None, False, True], dtype="boolean"),
        }
    )
    b = build_baseline(df, "m", version="1", categorical=["code"])
    for name, cats in (("s", ("a", "b")), ("code", ("1", "2")), ("flag", ("true", "false"))):
        col = b.column(name)
        assert col.missing_ratio == 0.25, name
        assert categorical(col).categories == cats, name
        assert categorical(col).counts == (2, 1), name


def test_categories_sorted_by_count_then_name() -> None:
    df = pd.DataFrame({"c": ["b", "a", "c", "c", "b", "a", "d"]})
    p = categorical(build_baseline(df, "m", version="1").column("c"))
    assert p.categories == ("a", "b", "c", "d")
    assert p.counts == (2, 2, 2, 1)


# ---------------------------------------------------------------------------------------
# kind inference and overrides
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("series", "kind"),
    [
        (pd.Series([1, 2], dtype="int8"), "numeric"),
        (pd.Series([1, 2], dtype="uint32"), "numeric"),
        (pd.Series([1, 2], dtype="int64"), "numeric"),
        (pd.Series([1.5, None], dtype="float32"), "numeric"),
        (pd.Series([1.5, None], dtype="float64"), "numeric"),
        (pd.Series([1, None], dtype="Int64"), "numeric"),
        (pd.Series([1.5, None], dtype="Float64"), "numeric"),
        (pd.Series([True, False], dtype="bool"), "categorical"),
        (pd.Series([True, None], dtype="boolean"), "categorical"),
        (pd.Series(["a", 1], dtype=object), "categorical"),
        (pd.Series(["a", "b"], dtype="str"), "categorical"),
        (pd.Series(["a", "b"], dtype="string"), "categorical"),
        (pd.Series([1, 2], dtype="category"), "categorical"),
    ],
)
def test_infer_kind_rule(series: pd.Series, kind: str) -> None:
    assert infer_kind(series) == kind


def test_kind_overrides_and_roles() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "region": rng.integers(1, 4, 300),
            "flag": rng.random(300) < 0.5,
            "score": rng.random(300),
            "label": rng.integers(0, 2, 300),
            "id": np.arange(300),
        }
    )
    b = build_baseline(
        df,
        "m",
        version="1",
        categorical=["region", "label"],
        numeric=["flag"],
        prediction=["score", "label"],
        exclude=["id"],
    )
    assert b.column_names == ["region", "flag", "score", "label"]
    assert [c.kind for c in b.columns] == ["categorical", "numeric", "numeric", "categorical"]
    assert [c.reported_kind for c in b.columns] == [
        "categorical",
        "numeric",
        "prediction",
        "prediction",
    ]
    assert b.prediction_columns == ["score", "label"]
    assert set(categorical(b.column("region")).categories) == {"1", "2", "3"}
    flag = b.column("flag").profile
    assert isinstance(flag, NumericProfile)
    assert flag.mean == pytest.approx(float(df["flag"].mean()), rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"categorical": ["nope"]}, "'nope'"),
        ({"numeric": ["nope"]}, "'nope'"),
        ({"exclude": ["nope"]}, "'nope'"),
        ({"prediction": ["nope"]}, "'nope'"),
        ({"categorical": ["x"], "numeric": ["x"]}, "'x'"),
        ({"numeric": ["s"]}, "'s'"),  # strings forced numeric
        ({"exclude": ["x", "s"]}, "excluded"),
        ({"sample_size": 0}, "sample_size"),
        ({"bins": 1}, "bins"),
        ({"max_categories": 0}, "max_categories"),
    ],
)
def test_build_errors_name_the_problem(kwargs: dict[str, Any], needle: str) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(BaselineError, match=needle):
        build_baseline(df, "m", **kwargs)


def test_build_rejects_empty_frame_and_missing_model() -> None:
    with pytest.raises(BaselineError, match="no rows"):
        build_baseline(pd.DataFrame({"x": []}), "m", source="t.csv")
    with pytest.raises(BaselineError, match="model"):
        build_baseline(pd.DataFrame({"x": [1.0]}), "")


# ---------------------------------------------------------------------------------------
# the reference sample
# ---------------------------------------------------------------------------------------


def test_reference_sample_is_capped_sorted_and_drawn_from_the_column(
    built: Baseline, frame: pd.DataFrame
) -> None:
    for name in ("i", "f", "i_nullable"):
        sample = numeric(built.column(name)).reference_sample
        finite = finite_values(frame[name])
        assert sample.shape == (500,)
        assert (np.diff(sample) >= 0).all()
        # a sample without replacement: no value more often than in the column
        have, column = Counter(sample.tolist()), Counter(finite.tolist())
        assert all(column[v] >= c for v, c in have.items()), name


def test_reference_sample_below_the_cap_is_the_whole_finite_column(frame: pd.DataFrame) -> None:
    b = build_baseline(frame, "m", version="1", sample_size=N)
    np.testing.assert_array_equal(
        numeric(b.column("f")).reference_sample, np.sort(finite_values(frame["f"]))
    )
    assert numeric(b.column("i")).reference_sample.shape == (N,)


def test_reference_sample_is_seeded(frame: pd.DataFrame) -> None:
    def sample(seed: int) -> np.ndarray:
        b = build_baseline(frame, "m", version="1", sample_size=300, seed=seed)
        return numeric(b.column("f")).reference_sample

    np.testing.assert_array_equal(sample(5), sample(5))
    assert not np.array_equal(sample(5), sample(6))


def test_default_sample_cap_is_100_000() -> None:
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=100_001)})
    b = build_baseline(df, "m", version="1")
    assert b.build["sample_size"] == 100_000
    assert numeric(b.column("x")).reference_sample.shape == (100_000,)


# ---------------------------------------------------------------------------------------
# save / load
# ---------------------------------------------------------------------------------------


def assert_same_baseline(a: Baseline, b: Baseline) -> None:
    for attr in ("model", "version", "created_at", "source", "build", "schema_version"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert len(a.columns) == len(b.columns)
    for ca, cb in zip(a.columns, b.columns, strict=True):
        assert (ca.name, ca.kind, ca.role, ca.rows) == (cb.name, cb.kind, cb.role, cb.rows)
        assert ca.missing_ratio == cb.missing_ratio
        assert type(ca.profile) is type(cb.profile)
        if isinstance(ca.profile, NumericProfile):
            for field in NumericProfile.__dataclass_fields__:
                va, vb = getattr(ca.profile, field), getattr(cb.profile, field)
                if isinstance(va, np.ndarray):
                    assert va.dtype == vb.dtype == np.float64
                    np.testing.assert_array_equal(va, vb, err_msg=f"{ca.name}.{field}")
                else:
                    assert va == vb, (ca.name, field)
        else:
            assert ca.profile == cb.profile


def documented_checksum(doc: dict[str, Any], arrays: dict[str, bytes]) -> str:
    """The checksum as baseline/store.py documents it, computed independently."""
    h = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(arrays):
        h.update(name.encode())
        h.update(arrays[name])
    return "sha256:" + h.hexdigest()


def read_members(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    return json.loads(members.pop("baseline.json")), members


def write_members(path: Path, doc: dict[str, Any], members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("baseline.json", json.dumps(doc))
        for name, data in members.items():
            zf.writestr(name, data)


@pytest.fixture
def saved(built: Baseline, tmp_path: Path) -> Path:
    path = tmp_path / "fraud.dmb"
    save_baseline(built, path)
    return path


def test_round_trip(built: Baseline, tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "fraud.dmb"
    saved = save_baseline(built, path)
    assert saved.checksum.startswith("sha256:")
    assert built.checksum == ""  # the input is not mutated
    loaded = load_baseline(path)
    assert loaded.checksum == saved.checksum
    assert_same_baseline(loaded, built)
    assert [p.name for p in path.parent.iterdir()] == ["fraud.dmb"]  # no temp file left
    # saving what was loaded writes the same content
    again = save_baseline(loaded, tmp_path / "again.dmb")
    assert again.checksum == saved.checksum


def test_save_to_an_unwritable_path(built: Baseline, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for target in (tmp_path, tmp_path / "file" / "b.dmb"):
        with pytest.raises(BaselineError, match="cannot write") as info:
            save_baseline(built, target)
        assert str(target) in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temp file left


def test_round_trip_gives_the_same_evaluation(built: Baseline, saved: Path) -> None:
    window = mixed_frame(700, seed=9)
    loaded = load_baseline(saved)
    a = evaluate_window(built, window_from_frame(built, window), DetectionSettings())
    b = evaluate_window(loaded, window_from_frame(loaded, window), DetectionSettings())
    assert a == b
    assert a.columns  # not vacuous


def test_file_layout_and_checksum_are_as_documented(saved: Path) -> None:
    doc, members = read_members(saved)
    assert doc["format"] == "drift-monitor-baseline"
    assert doc["schema_version"] == SCHEMA_VERSION
    stored = doc.pop("checksum")
    assert stored == documented_checksum(doc, members)
    assert stored == load_baseline(saved).checksum
    # the null tables of calibrated thresholds (issue 13), JSON.
    assert json.loads(members.pop("thresholds/calibration.json"))["version"] == 1
    for name, data in members.items():
        assert name.startswith("reference/") and name.endswith(".npy")
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        assert arr.dtype == np.dtype("<f8") and arr.ndim == 1
    with zipfile.ZipFile(saved) as zf:
        assert not any(n.endswith((".pkl", ".pickle")) for n in zf.namelist())


def test_baseline_show(saved: Path, built: Baseline, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["baseline", "show", str(saved)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    loaded = load_baseline(saved)
    assert "model:       fraud" in out
    assert "version:     v1" in out
    assert f"checksum: {loaded.checksum}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line and " " in line}
    for col in built.columns:
        line = lines[col.name]
        assert col.reported_kind in line
        assert f"{col.rows:,}" in line
        assert f"{col.missing_ratio:.1%}" in line
    assert "no values in training data" in lines["all_nan"]
    f = numeric(built.column("f"))
    assert f"{f.inner_edges.shape[0] + 1} PSI bins" in lines["f"]
    assert "sample 500" in lines["f"]
    assert f"{categorical(built.column('cat')).distinct} categories" in lines["cat"]


def test_baseline_show_mentions_pooled_tail(tmp_path: Path, capsys: Any) -> None:
    df = pd.DataFrame({"c": list("aaabbcdefg")})
    path = tmp_path / "p.dmb"
    save_baseline(build_baseline(df, "m", version="1", max_categories=2), path)
    assert main(["baseline", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert OTHER in out
    assert "7 categories" in out


# ---------------------------------------------------------------------------------------
# corrupt, tampered and incompatible files
# ---------------------------------------------------------------------------------------


def assert_rejected(path: Path, needle: str = "") -> BaselineError:
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "\n" not in msg
    assert needle in msg
    return info.value


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, -1, -22, -23])
def test_truncated_file(saved: Path, keep: float) -> None:
    raw = saved.read_bytes()
    cut = int(len(raw) * keep) if isinstance(keep, float) else keep
    saved.write_bytes(raw[:cut])
    assert_rejected(saved)


def test_tampered_array_member(saved: Path) -> None:
    doc, members = read_members(saved)
    name = sorted(members)[0]
    data = bytearray(members[name])
    data[-3] ^= 0x10  # a byte of the last float, after the .npy header
    members[name] = bytes(data)
    write_members(saved, doc, members)
    assert_rejected(saved, "checksum mismatch")


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["columns"][1].update(rows=d["columns"][1]["rows"] + 1),
        lambda d: d["columns"][1]["numeric"].update(mean=d["columns"][1]["numeric"]["mean"] + 1),
        lambda d: d["columns"][2]["categorical"]["counts"].__setitem__(0, 1),
        lambda d: d.update(model="other"),
    ],
)
def test_tampered_json(saved: Path, edit: Any) -> None:
    doc, members = read_members(saved)
    edit(doc)
    write_members(saved, doc, members)
    assert_rejected(saved, "checksum mismatch")


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_wrong_schema_version(saved: Path, version: object) -> None:
    doc, members = read_members(saved)
    doc.pop("checksum")
    doc["schema_version"] = version
    doc["checksum"] = documented_checksum(doc, members)  # a consistent, newer file
    write_members(saved, doc, members)
    assert_rejected(saved, "schema_version")


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "b.dmb"
    path.write_text("model,version\nfraud,1\n")
    assert_rejected(path, "not a readable baseline")


def test_missing_file(tmp_path: Path) -> None:
    assert_rejected(tmp_path / "absent.dmb", "not found")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    assert_rejected(tmp_path)


def test_zip_without_manifest(tmp_path: Path) -> None:
    path = tmp_path / "b.dmb"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("other.txt", "x")
    assert_rejected(path, "baseline.json")


def test_manifest_not_json_or_wrong_format(tmp_path: Path, saved: Path) -> None:
    _, members = read_members(saved)
    path = tmp_path / "b.dmb"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("baseline.json", "{not json")
    assert_rejected(path, "not valid JSON")
    write_members(path, {"format": "something-else", "schema_version": 1}, members)
    assert_rejected(path, "not a drift-monitor baseline")


def test_every_single_byte_flip_is_rejected_or_harmless(tmp_path: Path) -> None:
    """Flip one bit of every byte of a small file: loading either fails with a
    BaselineError or yields exactly the original content (a flip in zip metadata such
    as a timestamp). Never a traceback, never different data."""
    df = pd.DataFrame({"x": np.random.default_rng(0).normal(size=60), "c": list("abc") * 20})
    original = save_baseline(build_baseline(df, "m", version="1"), tmp_path / "a.dmb")
    raw = (tmp_path / "a.dmb").read_bytes()
    target = tmp_path / "t.dmb"
    outcomes: Counter[str] = Counter()
    for i in range(len(raw)):
        flipped = bytearray(raw)
        flipped[i] ^= 0x01 if i % 2 else 0x80
        target.write_bytes(bytes(flipped))
        try:
            loaded = load_baseline(target)
        except BaselineError as exc:
            assert str(target) in str(exc)
            outcomes["rejected"] += 1
            continue
        assert loaded.checksum == original.checksum, i
        assert_same_baseline(loaded, original)
        outcomes["harmless"] += 1
    assert outcomes["rejected"] > 0.8 * len(raw)


# The members below carry a *valid* checksum, so only the array checks can catch them.


def _replace_member(saved: Path, data: bytes) -> str:
    doc, members = read_members(saved)
    doc.pop("checksum")
    name = sorted(members)[0]
    members[name] = data
    doc["checksum"] = documented_checksum(doc, members)
    write_members(saved, doc, members)
    return name


class _Trap:
    """Unpickling this creates ``path``: proof that pickle code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def _npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_pickled_member_is_rejected_without_running_it(saved: Path, tmp_path: Path) -> None:
    def payload(path: Path) -> bytes:
        return _npy(np.array([_Trap(str(path)), 1.0], dtype=object), allow_pickle=True)

    # control: such a payload does run code when pickle is allowed
    control = tmp_path / "control"
    np.load(io.BytesIO(payload(control)), allow_pickle=True)
    assert control.exists()

    marker = tmp_path / "pwned"
    _replace_member(saved, payload(marker))

    assert_rejected(saved, "malformed")
    assert not marker.exists()


def _npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3.0))
    return buf.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x93NUMPY\x01\x00", id="header-cut"),
        pytest.param(b"not an array at all", id="garbage"),
        pytest.param(_npy(np.arange(500)), id="int64"),
        pytest.param(_npy(np.arange(500, dtype=np.float32)), id="float32"),
        pytest.param(_npy(np.zeros((250, 2))), id="2-d"),
        pytest.param(_npy(np.zeros(499)), id="wrong-size"),
        pytest.param(_npz(), id="npz"),
    ],
)
def test_member_that_is_not_a_plain_float64_array(saved: Path, data: bytes) -> None:
    _replace_member(saved, data)
    assert_rejected(saved, "malformed")


def test_member_named_in_json_but_absent(saved: Path) -> None:
    doc, members = read_members(saved)
    doc.pop("checksum")
    del members[sorted(members)[0]]
    doc["checksum"] = documented_checksum(doc, members)
    write_members(saved, doc, members)
    assert_rejected(saved, "malformed")
