"""``drift-monitor baseline build`` and ``drift-monitor check`` end to end, in process
(``cli.main``) and once through the installed console script."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drift_monitor.baseline import load_baseline
from drift_monitor.cli import main
from drift_monitor.evaluation import DetectionSettings, evaluate_window, window_from_frame
from drift_monitor.stats import category_key
from drift_monitor.tables import read_table
from tests.profiles import categorical, numeric

CONSOLE_SCRIPT = Path(sys.executable).with_name("drift-monitor")

COUNTRIES = ["IN", "US", "BR", "DE", "FR", "JP"]
COUNTRY_P = [0.35, 0.25, 0.15, 0.1, 0.1, 0.05]
DEVICES = ["ios", "android", "web"]
DEVICE_P = [0.5, 0.35, 0.15]
CHANNELS = ["app", "site", "partner", "call"]
BALANCE_MEAN, BALANCE_STD = 1000.0, 300.0

#: the columns the drifted window changes, and nothing else
DRIFTED = {"balance", "device", "country"}


def generate(n: int, seed: int, drift: bool = False) -> pd.DataFrame:
    """Training-like data; with ``drift``: balance +0.5 std, device proportions
    changed, and a country never seen in training."""
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.02] = np.nan
    country_p = COUNTRY_P
    countries = COUNTRIES
    if drift:
        countries = [*COUNTRIES, "ZZ"]
        country_p = [p * 0.92 for p in COUNTRY_P] + [0.08]
    return pd.DataFrame(
        {
            "amount": amount,
            "age": np.clip(np.round(rng.normal(40, 12, n)), 18, 90).astype(int),
            "balance": rng.normal(BALANCE_MEAN + (0.5 * BALANCE_STD if drift else 0.0), 300, n),
            "n_items": rng.poisson(3, n),
            "country": rng.choice(countries, p=country_p, size=n),
            "device": rng.choice(DEVICES, p=[0.3, 0.4, 0.3] if drift else DEVICE_P, size=n),
            "channel": rng.choice(CHANNELS, size=n),
            "is_new": rng.random(n) < 0.2,
            "region_id": rng.integers(1, 6, n),
            "const": np.full(n, 1.5),
            "empty": np.full(n, np.nan),
            "score": rng.beta(2, 5, n),
        }
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cli")
    generate(50_000, seed=1).to_csv(d / "train.csv", index=False)
    code = main(
        [
            "baseline",
            "build",
            "--model",
            "fraud",
            "--input",
            str(d / "train.csv"),
            "--out",
            str(d / "fraud.dmb"),
            "--prediction",
            "score",
            "--categorical",
            "region_id",
            "--version",
            "v7",
        ]
    )
    assert code == 0
    generate(5_000, seed=2).to_csv(d / "ok.csv", index=False)
    generate(5_000, seed=3, drift=True).to_csv(d / "drift.csv", index=False)
    return d


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def check_json(
    capsys: pytest.CaptureFixture[str], work: Path, window: Path
) -> tuple[int, dict[str, Any]]:
    code, out, err = check(
        capsys, "--baseline", str(work / "fraud.dmb"), "--input", str(window), "--format", "json"
    )
    if code == 2:  # too few rows: one line naming the input and the way out
        assert err.count("\n") == 1 and str(window) in err and "--allow-insufficient" in err
    else:
        assert err == ""
    return code, json.loads(out)


def features(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in doc["features"]}


# ---------------------------------------------------------------------------------------
# baseline build from every input format
# ---------------------------------------------------------------------------------------


def test_build_output_line(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = work / "again.dmb"
    args = ["baseline", "build", "--model", "fraud", "--input", str(work / "train.csv")]
    assert main([*args, "--out", str(out_path), "--categorical", "region_id"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith(f"wrote {out_path}: model 'fraud' version ")
    assert "50,000 rows, 12 columns (7 numeric, 5 categorical)" in out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_build_from_each_format(work: Path, tmp_path: Path, fmt: str) -> None:
    df = generate(3_000, seed=4)
    path = tmp_path / f"train.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path)
    else:
        df.to_json(path, orient="records", lines=True)
    out = tmp_path / "b.dmb"
    args = ["--model", "m", "--input", str(path), "--out", str(out), "--version", "1"]
    assert main(["baseline", "build", *args, "--prediction", "score"]) == 0
    b = load_baseline(out)
    assert b.source == str(path)
    assert b.build["rows"] == 3_000
    assert b.column_names == list(df.columns)
    for col in b.columns:
        if col.name == "empty":
            # no values: which kind an all-null column gets depends on the file format
            # (CSV/Parquet give float NaN, JSON Lines gives null objects)
            assert col.profile is None
            assert col.missing_ratio == 1.0
            continue
        series = df[col.name]
        expected_kind = "categorical" if series.dtype in (object, bool, "str") else "numeric"
        assert col.kind == expected_kind, col.name
        assert col.role == ("prediction" if col.name == "score" else "feature")
        if col.kind == "numeric":
            values = series.to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            assert col.missing_ratio == pytest.approx(1 - finite.size / values.size, abs=1e-12)
            assert numeric(col).mean == pytest.approx(float(finite.mean()), rel=1e-9)
            assert numeric(col).reference_sample.shape == finite.shape
        else:
            keys = [category_key(v) for v in series.tolist()]
            assert set(categorical(col).categories) == set(keys), col.name


# ---------------------------------------------------------------------------------------
# check: verdicts
# ---------------------------------------------------------------------------------------


def test_check_window_from_the_training_distribution_is_ok(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = check_json(capsys, work, work / "ok.csv")
    assert doc["status"] == "ok"
    assert doc["drift_share"] == 0.0
    assert code == 0
    statuses = {f["name"]: f["status"] for f in doc["features"]}
    assert statuses.pop("empty") == "insufficient_data"  # no values in training
    assert set(statuses.values()) == {"ok"}


def test_check_flags_exactly_the_shifted_columns(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = check_json(capsys, work, work / "drift.csv")
    assert code == 1
    assert doc["status"] == "alert"
    statuses = {f["name"]: f["status"] for f in doc["features"]}
    assert {n for n, s in statuses.items() if s == "alert"} == DRIFTED
    statuses.pop("empty")
    assert {n for n, s in statuses.items() if s != "alert"} == set(statuses) - DRIFTED
    assert all(statuses[n] == "ok" for n in set(statuses) - DRIFTED)
    evaluated = len(statuses)  # every column but the empty one
    assert doc["drift_share"] == pytest.approx(len(DRIFTED) / evaluated)


def test_check_table_output(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check(
        capsys, "--baseline", str(work / "fraud.dmb"), "--input", str(work / "drift.csv")
    )
    assert code == 1
    assert err == ""
    head = out.splitlines()[0]
    assert "fraud" in head and "v7" in head and "5,000 events" in head and "ALERT" in head
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    alerting = {r[1] for r in rows if r[0] == "alert"}
    assert alerting == DRIFTED


def test_check_fail_on_warning_exits_1_on_warning(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One column at warning level: exit 0 by default, 1 with --fail-on warning."""
    window = generate(5_000, seed=5)
    # KS D ~ 0.076 (warning 0.05, alert 0.1), PSI ~ 0.04 (warning 0.1)
    window["balance"] = window["balance"] + 0.19 * BALANCE_STD
    path = tmp_path / "w.csv"
    window.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    balance = features(doc)["balance"]
    assert balance["status"] == "warning", balance
    assert doc["status"] == "warning"
    assert code == 0
    args = ["--baseline", str(work / "fraud.dmb"), "--input", str(path), "--fail-on", "warning"]
    assert check(capsys, *args)[0] == 1


# ---------------------------------------------------------------------------------------
# check --format json: the SPEC shape, and numbers equal to scipy's
# ---------------------------------------------------------------------------------------

NUMERIC_TESTS = {"ks", "psi", "wasserstein", "jensen_shannon"}
CATEGORICAL_TESTS = {"chi2", "psi", "jensen_shannon"}


def test_json_has_exactly_the_spec_keys(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = check_json(capsys, work, work / "drift.csv")
    assert set(doc) == {"model", "baseline_version", "events", "status", "drift_share", "features"}
    assert (doc["model"], doc["baseline_version"], doc["events"]) == ("fraud", "v7", 5_000)
    baseline = load_baseline(work / "fraud.dmb")
    assert sorted(f["name"] for f in doc["features"]) == sorted(baseline.column_names)
    for f in doc["features"]:
        assert set(f) == {"name", "kind", "status", "missing_ratio", "tests", "thresholds"}
        col = baseline.column(f["name"])
        # the deciding tests' calibrated levels (issue 13)
        if f["name"] != "empty":
            deciding = {"ks", "psi"} if col.kind == "numeric" else {"chi2", "psi"}
            assert set(f["thresholds"]) == deciding
            for levels in f["thresholds"].values():
                assert set(levels) == {"mode", "warning", "alert"}
                assert levels["mode"] == "calibrated"
                for lv in (levels["warning"], levels["alert"]):
                    assert set(lv) == {"threshold", "floor"}
                    # 0 for a constant column (any change is significant: the floor
                    # decides), null (inf) when a chi2 has a single cell
                    assert lv["threshold"] is None or lv["threshold"] >= 0
                    assert lv["floor"] > 0
                if levels["alert"]["threshold"] is not None:
                    assert levels["alert"]["threshold"] >= levels["warning"]["threshold"]
        assert f["kind"] == col.reported_kind
        assert f["status"] in {"ok", "warning", "alert", "insufficient_data"}
        if f["name"] == "empty":
            assert f["tests"] == {}
            continue
        assert set(f["tests"]) == (NUMERIC_TESTS if col.kind == "numeric" else CATEGORICAL_TESTS)
        for test, value in f["tests"].items():
            assert set(value) == {"statistic", "p_value"}
            assert isinstance(value["statistic"], float)
            if test in ("ks", "chi2"):
                assert 0.0 <= value["p_value"] <= 1.0
            else:
                assert value["p_value"] is None
    assert features(doc)["score"]["kind"] == "prediction"
    assert features(doc)["region_id"]["kind"] == "categorical"


def test_json_numbers_equal_scipy_on_the_same_samples(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, doc = check_json(capsys, work, work / "drift.csv")
    f = features(doc)
    baseline = load_baseline(work / "fraud.dmb")
    window = pd.read_csv(work / "drift.csv")

    for name in ("balance", "amount", "score", "n_items"):
        values = window[name].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        profile = numeric(baseline.column(name))
        ks = stats.ks_2samp(values, profile.reference_sample, method="auto")
        assert f[name]["tests"]["ks"] == {
            "statistic": float(ks.statistic),
            "p_value": float(ks.pvalue),
        }
        w1 = stats.wasserstein_distance(values, profile.reference_sample) / profile.std
        assert f[name]["tests"]["wasserstein"]["statistic"] == pytest.approx(w1, rel=1e-9)
        assert f[name]["missing_ratio"] == pytest.approx(1 - len(values) / len(window))

    for name in ("device", "channel", "region_id"):
        cat = categorical(baseline.column(name))
        counts = [int((window[name].map(category_key) == c).sum()) for c in cat.categories]
        assert sum(counts) == len(window)  # nothing unseen in these columns
        props = np.array(cat.counts) / sum(cat.counts)
        expected = stats.chisquare(counts, props * sum(counts))
        chi2 = f[name]["tests"]["chi2"]
        assert chi2["statistic"] == pytest.approx(float(expected.statistic), rel=1e-12)
        assert chi2["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-300)

    # country: the unseen "ZZ" bucket, floored at 1e-4 and renormalised
    country = categorical(baseline.column("country"))
    keys = window["country"].tolist()
    counts = [keys.count(c) for c in country.categories] + [keys.count("ZZ")]
    props = np.array([*country.counts, 0.0]) / sum(country.counts)
    props[-1] = 1e-4
    props = props / props.sum()
    expected = stats.chisquare(counts, props * sum(counts))
    chi2 = f["country"]["tests"]["chi2"]
    assert chi2["statistic"] == pytest.approx(float(expected.statistic), rel=1e-12)
    assert np.isfinite(chi2["statistic"])


# ---------------------------------------------------------------------------------------
# other input shapes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "events.jsonl"])
def test_check_reads_parquet_jsonl_and_event_files(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    df = generate(5_000, seed=3, drift=True)
    path = tmp_path / f"w.{fmt}"
    if fmt == "parquet":
        df.to_parquet(path)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        # the Kafka event shape: features in an object, the model output as "prediction"
        events = [
            {
                "model": "fraud",
                "features": {k: v for k, v in row.items() if k != "score"},
                "prediction": row["score"],
            }
            for row in json.loads(df.to_json(orient="records"))
        ]
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
    code, doc = check_json(capsys, work, path)
    assert code == 1
    assert {f["name"] for f in doc["features"] if f["status"] == "alert"} == DRIFTED
    assert features(doc)["score"]["status"] == "ok"


# ---------------------------------------------------------------------------------------
# edge cases of the data
# ---------------------------------------------------------------------------------------


def test_window_of_zero_rows_csv_is_insufficient_data(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "header_only.csv"
    generate(10, seed=6).head(0).to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    # a CI gate fails closed: too few rows is exit 2, with the verdict still printed
    assert code == 2
    assert doc["status"] == "insufficient_data"
    assert doc["events"] == 0
    assert all(f["status"] == "insufficient_data" for f in doc["features"])


def test_window_of_zero_rows_parquet_is_an_input_error(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.parquet"
    generate(10, seed=6).head(0).to_parquet(path)
    err = expect_user_error(
        capsys, "check", "--baseline", str(work / "fraud.dmb"), "--input", str(path)
    )
    assert "no rows" in err


def test_window_of_one_row_is_insufficient_data(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one.csv"
    generate(1, seed=7, drift=True).to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    assert code == 2
    assert doc["status"] == "insufficient_data"
    assert doc["events"] == 1
    assert all(f["tests"] == {} for f in doc["features"])


def test_all_missing_column_in_the_window(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(5_000, seed=8)
    df["balance"] = np.nan
    df["device"] = None
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    f = features(doc)
    for name in ("balance", "device"):
        assert f[name]["status"] == "insufficient_data"
        assert f[name]["missing_ratio"] == 1.0
        assert f[name]["tests"] == {}
    assert doc["status"] == "ok"
    assert code == 0


def test_all_missing_training_column_never_drifts(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(5_000, seed=9)
    df["empty"] = np.random.default_rng(0).normal(size=len(df))  # values appear
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    assert features(doc)["empty"]["status"] == "insufficient_data"
    assert features(doc)["empty"]["missing_ratio"] == 0.0
    assert code == 0


def test_constant_column(work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = generate(5_000, seed=10)
    path = tmp_path / "same.csv"
    df.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    const = features(doc)["const"]
    assert const["status"] == "ok"
    assert const["tests"]["ks"] == {"statistic": 0.0, "p_value": 1.0}
    assert const["tests"]["psi"]["statistic"] == 0.0
    assert code == 0

    df["const"] = 2.5
    df.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    const = features(doc)["const"]
    assert const["status"] == "alert"
    # baseline std is 0: Wasserstein is the raw distance
    assert const["tests"]["wasserstein"]["statistic"] == pytest.approx(1.0, rel=1e-12)
    assert code == 1


def test_nan_and_infinities_count_as_missing(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = generate(5_000, seed=11)
    bal = df["balance"].to_numpy().copy()
    bal[:100] = np.nan
    bal[100:150] = np.inf
    bal[150:175] = -np.inf
    df["balance"] = bal
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    code, doc = check_json(capsys, work, path)
    balance = features(doc)["balance"]
    assert balance["missing_ratio"] == pytest.approx(175 / 5_000, rel=1e-12)
    finite = bal[np.isfinite(bal)]
    ref = numeric(load_baseline(work / "fraud.dmb").column("balance")).reference_sample
    ks = stats.ks_2samp(finite, ref, method="auto")
    assert balance["tests"]["ks"] == {"statistic": float(ks.statistic), "p_value": float(ks.pvalue)}
    assert balance["status"] == "ok"
    assert code == 0


# ---------------------------------------------------------------------------------------
# user errors: exit 2 and exactly one line on stderr, never a traceback
# ---------------------------------------------------------------------------------------


def expect_user_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("drift-monitor: error: ")
    return lines[0]


def _check_args(work: Path, window: Path, baseline: Path | None = None) -> list[str]:
    return ["check", "--baseline", str(baseline or work / "fraud.dmb"), "--input", str(window)]


def test_missing_input_file(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = work / "nope.csv"
    assert str(missing) in expect_user_error(capsys, *_check_args(work, missing))
    build = ["baseline", "build", "--model", "m", "--input", str(missing), "--out", "x.dmb"]
    assert str(missing) in expect_user_error(capsys, *build)


def test_input_is_a_directory(work: Path, tmp_path: Path, capsys: Any) -> None:
    assert str(tmp_path) in expect_user_error(capsys, *_check_args(work, tmp_path))


def test_unknown_extension(work: Path, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "window.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a spreadsheet")
    err = expect_user_error(capsys, *_check_args(work, path))
    assert str(path) in err
    assert ".csv" in err  # says what would work


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ragged.csv", b"amount,age\n1,2\n1,2,3,4\n"),
        ("binary.csv", bytes(range(256)) * 8),
        ("empty.csv", b""),
        ("garbage.parquet", b"\x00\x01 definitely not parquet " * 20),
        ("truncated.parquet", None),
        ("broken.jsonl", b'{"amount": 1}\n{not json\n'),
        ("empty.jsonl", b""),
    ],
)
def test_unparseable_input(
    work: Path, tmp_path: Path, capsys: Any, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is None:
        generate(100, seed=12).to_parquet(path)
        path.write_bytes(path.read_bytes()[:-50])
    else:
        path.write_bytes(content)
    assert str(path) in expect_user_error(capsys, *_check_args(work, path))


def _compressed(kind: str, raw: bytes) -> tuple[str, bytes]:
    if kind == "gz-truncated":
        return ".csv.gz", gzip.compress(raw)[:-30]
    if kind == "gz-corrupt":
        data = bytearray(gzip.compress(raw))
        data[40] ^= 0xFF
        return ".csv.gz", bytes(data)
    if kind == "bz2-truncated":
        return ".csv.bz2", bz2.compress(raw)[:-30]
    if kind == "xz-corrupt":
        data = bytearray(lzma.compress(raw))
        data[60] ^= 0xFF
        return ".csv.xz", bytes(data)
    if kind == "jsonl-gz-truncated":
        return ".jsonl.gz", gzip.compress(raw)[:-30]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["gz-truncated", "gz-corrupt", "bz2-truncated", "xz-corrupt", "jsonl-gz-truncated"]
)
def test_damaged_compressed_input(work: Path, tmp_path: Path, capsys: Any, kind: str) -> None:
    suffix, data = _compressed(kind, (work / "ok.csv").read_bytes())
    path = tmp_path / f"w{suffix}"
    path.write_bytes(data)
    assert str(path) in expect_user_error(capsys, *_check_args(work, path))


def test_intact_compressed_input_is_read(work: Path, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "w.csv.gz"
    path.write_bytes(gzip.compress((work / "drift.csv").read_bytes()))
    code, doc = check_json(capsys, work, path)
    assert code == 1
    assert {f["name"] for f in doc["features"] if f["status"] == "alert"} == DRIFTED


def test_baseline_column_absent_from_input(work: Path, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "w.csv"
    generate(500, seed=13).drop(columns=["device"]).to_csv(path, index=False)
    err = expect_user_error(capsys, *_check_args(work, path))
    assert str(path) in err
    assert "'device'" in err


def test_numeric_column_with_text(work: Path, tmp_path: Path, capsys: Any) -> None:
    df = generate(500, seed=14)
    df["balance"] = df["balance"].astype(object)
    df.loc[3, "balance"] = "n/a-ish"
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    err = expect_user_error(capsys, *_check_args(work, path))
    assert "'balance'" in err and str(path) in err


@pytest.mark.parametrize("damage", ["truncate", "not-zip", "missing", "flip"])
def test_corrupt_baseline(work: Path, tmp_path: Path, capsys: Any, damage: str) -> None:
    bad = tmp_path / "bad.dmb"
    raw = (work / "fraud.dmb").read_bytes()
    if damage == "truncate":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "not-zip":
        bad.write_text("hello")
    elif damage == "flip":
        flipped = bytearray(raw)
        flipped[len(raw) // 3] ^= 0xFF  # inside a compressed member
        bad.write_bytes(bytes(flipped))
    assert str(bad) in expect_user_error(capsys, *_check_args(work, work / "ok.csv", bad))


def test_build_with_unknown_column_option(work: Path, tmp_path: Path, capsys: Any) -> None:
    args = ["baseline", "build", "--model", "m", "--input", str(work / "ok.csv")]
    err = expect_user_error(capsys, *args, "--out", str(tmp_path / "b.dmb"), "--exclude", "nope")
    assert "'nope'" in err
    assert not (tmp_path / "b.dmb").exists()


@pytest.mark.parametrize("where", ["directory", "under-a-file"])
def test_build_to_an_unwritable_out_path(
    work: Path, tmp_path: Path, capsys: Any, where: str
) -> None:
    out = tmp_path if where == "directory" else work / "ok.csv" / "b.dmb"
    args = ["baseline", "build", "--model", "m", "--input", str(work / "ok.csv")]
    err = expect_user_error(capsys, *args, "--out", str(out))
    assert str(out) in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".baseline-")]


def test_baseline_show_of_a_corrupt_file(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.dmb"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    assert str(bad) in expect_user_error(capsys, "baseline", "show", str(bad))


# ---------------------------------------------------------------------------------------
# the real console script
# ---------------------------------------------------------------------------------------


def test_console_script(work: Path, tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.exists(), CONSOLE_SCRIPT

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CONSOLE_SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False
        )

    out_path = tmp_path / "b.dmb"
    build = run(
        "baseline",
        "build",
        "--model",
        "fraud",
        "--input",
        str(work / "train.csv"),
        "--out",
        str(out_path),
        "--prediction",
        "score",
        "--categorical",
        "region_id",
    )
    assert build.returncode == 0, build.stderr
    assert out_path.exists()

    drift = run(
        "check", "--baseline", str(out_path), "--input", str(work / "drift.csv"), "--format", "json"
    )
    assert drift.returncode == 1, drift.stderr
    doc = json.loads(drift.stdout)
    assert doc["status"] == "alert"
    assert {f["name"] for f in doc["features"] if f["status"] == "alert"} == DRIFTED

    missing = run("check", "--baseline", str(out_path), "--input", str(tmp_path / "absent.csv"))
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert len(missing.stderr.splitlines()) == 1
    assert "Traceback" not in missing.stderr
    assert str(tmp_path / "absent.csv") in missing.stderr


def test_missing_values_do_not_turn_codes_or_bools_into_unseen_categories(
    work: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With a missing value, pandas reads an int column as floats (3.0) and a bool
    column as objects: both must still match the training categories."""
    df = generate(5_000, seed=15)
    df["region_id"] = df["region_id"].astype(float)
    df.loc[df.index[:500], "region_id"] = np.nan
    df["is_new"] = df["is_new"].astype(object)
    df.loc[df.index[:250], "is_new"] = None
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    reread = read_table(path)
    assert reread["region_id"].dtype == np.float64
    assert reread["is_new"].dtype == object

    baseline = load_baseline(work / "fraud.dmb")
    result = evaluate_window(baseline, window_from_frame(baseline, reread), DetectionSettings())
    cols = {c.name: c for c in result.columns}
    assert cols["region_id"].unseen_ratio == 0.0
    assert cols["region_id"].missing_ratio == 0.1
    assert cols["is_new"].unseen_ratio == 0.0
    assert cols["is_new"].missing_ratio == 0.05
    code, doc = check_json(capsys, work, path)
    assert doc["status"] == "ok"
    assert code == 0
