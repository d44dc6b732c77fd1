"""``baseline build --segment-by`` and ``check`` per segment, in process (``cli.main``):
segment rows in the table and in ``--format json``, the report's Segments table, exit
1 when only a segment drifts, exit 2 for a config naming another segment column."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor.cli import main

LEVEL = {"IN": 10.0, "US": 30.0, "DE": 20.0, "FR": 25.0, "BR": 15.0}


def data(n: int, seed: int, shift_us: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    country = rng.choice(list(LEVEL), size=n, p=[0.4, 0.25, 0.15, 0.1, 0.1])
    amount = pd.Series(country).map(LEVEL).to_numpy() + rng.normal(0.0, 5.0, size=n)
    amount[country == "US"] += shift_us
    channel = rng.choice(["web", "app"], size=n)
    return pd.DataFrame({"amount": amount, "channel": channel, "country": country})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "train": tmp_path / "train.csv",
        "clean": tmp_path / "clean.csv",
        "drift": tmp_path / "drift.csv",
        "baseline": tmp_path / "shop.dmb",
    }
    data(20_000, 1).to_csv(paths["train"], index=False)
    data(4_000, 2).to_csv(paths["clean"], index=False)
    data(4_000, 3, shift_us=12.0).to_csv(paths["drift"], index=False)
    code = main(
        [
            "baseline",
            "build",
            "--model",
            "shop",
            "--input",
            str(paths["train"]),
            "--out",
            str(paths["baseline"]),
            "--exclude",
            "country",
            "--segment-by",
            "country",
            "--segment-top-k",
            "3",
        ]
    )
    assert code == 0
    return paths


def test_check_reports_every_segment_and_fails_on_a_drifted_one(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    report = tmp_path / "r.html"
    code = main(
        [
            "check",
            "--baseline",
            str(files["baseline"]),
            "--input",
            str(files["drift"]),
            "--report",
            str(report),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "segments by country: 1 of 4 drifted (US)" in out
    rows = {line.split()[1]: line.split()[0] for line in out.splitlines()[-4:]}
    assert rows == {"IN": "ok", "US": "alert", "DE": "ok", "__other__": "ok"}, out
    page = report.read_text()
    assert "Segments by <code>country</code>" in page
    assert "<b>1 of 4 segments drifted:</b> <code>US</code>" in page

    code = main(
        [
            "check",
            "--baseline",
            str(files["baseline"]),
            "--input",
            str(files["drift"]),
            "--format",
            "json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert doc["segment_by"] == "country" and doc["drifted_segments"] == ["US"]
    assert [(s["segment"], s["status"]) for s in doc["segments"]] == [
        ("IN", "ok"),
        ("US", "alert"),
        ("DE", "ok"),
        ("__other__", "ok"),
    ]
    us = doc["segments"][1]
    assert {f["name"]: f["status"] for f in us["features"]} == {"amount": "alert", "channel": "ok"}
    assert sum(s["events"] for s in doc["segments"]) == doc["events"] == 4_000
    assert {f["name"] for f in doc["features"]} == {"amount", "channel"}


def test_check_of_clean_data_passes_with_segments(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "check",
            "--baseline",
            str(files["baseline"]),
            "--input",
            str(files["clean"]),
            "--format",
            "json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, doc
    assert doc["drifted_segments"] == []


def test_check_needs_the_segment_column_and_a_matching_config(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    no_country = tmp_path / "no_country.csv"
    data(500, 4).drop(columns=["country"]).to_csv(no_country, index=False)
    assert main(["check", "--baseline", str(files["baseline"]), "--input", str(no_country)]) == 2
    err = capsys.readouterr().err
    assert "segment column 'country' of baseline 'shop' is missing" in err

    config = tmp_path / "c.yaml"
    config.write_text(
        "kafka: {bootstrap_servers: ['localhost:9092'], topics: [t], group_id: g}\n"
        "models: [{name: shop, detection: {segment_by: channel}}]\n"
    )
    code = main(
        [
            "check",
            "--baseline",
            str(files["baseline"]),
            "--input",
            str(files["clean"]),
            "--config",
            str(config),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "detection.segment_by: 'channel'" in err and "--segment-by channel" in err
