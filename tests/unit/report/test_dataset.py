"""The demo's synthetic credit-risk dataset: shape, determinism, drift, and events."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drift_monitor import Baseline
from drift_monitor.cli import main
from drift_monitor.demo import dataset
from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    SCORE,
    DriftScenario,
    drifted_columns,
    events,
    production_frame,
    training_frame,
)
from drift_monitor.evaluation import Status
from tests.unit.report.conftest import evaluate

DATA = Path(dataset.__file__).resolve().parent.parent / "data"
FEATURES = [
    "age",
    "annual_income",
    "employment_length_years",
    "home_ownership",
    "state",
    "channel",
    "loan_purpose",
    "loan_amount",
    "loan_term_months",
    "interest_rate",
    "credit_score",
    "debt_to_income",
    "num_open_accounts",
    "months_since_last_delinquency",
]
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_training_frame_has_realistic_marginals() -> None:
    df = training_frame(20_000, seed=3)
    assert list(df.columns) == [*FEATURES, SCORE]
    assert df["age"].between(21, 75).all()
    assert df["credit_score"].between(300, 850).all()
    assert df[SCORE].between(0, 1).all()
    assert set(df["loan_term_months"].unique()) <= {12, 24, 36, 48, 60}
    assert set(df["home_ownership"]) == {"RENT", "MORTGAGE", "OWN", "OTHER"}
    assert set(df["loan_purpose"]) == set(dataset.LOAN_PURPOSES)
    assert set(df["channel"]) == {"web", "app", "branch", "broker"}
    assert len(set(df["state"])) == 12
    # never delinquent -> missing, about 60 %
    assert 0.55 < df["months_since_last_delinquency"].isna().mean() < 0.65
    assert df[FEATURES].drop(columns="months_since_last_delinquency").notna().all().all()
    # skews and correlations a credit analyst would expect
    assert df["annual_income"].mean() > df["annual_income"].median()
    assert df["credit_score"].mean() < df["credit_score"].median()
    corr = df.select_dtypes("number").corr()
    assert corr["loan_amount"]["annual_income"] > 0.3
    assert corr["interest_rate"]["credit_score"] < -0.5
    assert corr[SCORE]["credit_score"] < -0.5
    assert 0.08 < df[SCORE].mean() < 0.2


def test_frames_are_deterministic_and_seed_dependent() -> None:
    pd.testing.assert_frame_equal(training_frame(500, seed=1), training_frame(500, seed=1))
    assert not training_frame(500, seed=1).equals(training_frame(500, seed=2))
    with_label = training_frame(500, seed=1, with_label=True)
    assert set(with_label["label"].unique()) <= {0, 1}


def test_drifted_columns() -> None:
    assert drifted_columns(DEFAULT_DRIFT) == (
        "annual_income",
        "credit_score",
        "channel",
        "loan_purpose",
        SCORE,
    )
    assert drifted_columns(DriftScenario()) == ()
    assert drifted_columns(DriftScenario(credit_score_shift=-10)) == ("credit_score", SCORE)
    # the training channel mix, in another order and scale, is no drift
    same_mix = DriftScenario(channel_weights={"broker": 15, "web": 45, "app": 20, "branch": 20})
    assert drifted_columns(same_mix) == ()


def test_drift_leaves_every_other_column_untouched() -> None:
    plain = production_frame(2000, seed=5)
    drifted = production_frame(2000, seed=5, drift=DEFAULT_DRIFT)
    untouched = [c for c in plain.columns if c not in drifted_columns(DEFAULT_DRIFT)]
    pd.testing.assert_frame_equal(plain[untouched], drifted[untouched])
    for name in drifted_columns(DEFAULT_DRIFT):
        assert not plain[name].equals(drifted[name]), name
    assert (drifted["loan_purpose"] == "crypto").mean() == pytest.approx(0.08, abs=0.015)
    ratio = drifted["annual_income"].median() / plain["annual_income"].median()
    assert ratio == pytest.approx(0.75, abs=0.01)
    assert drifted[SCORE].mean() > plain[SCORE].mean() + 0.04


@pytest.mark.parametrize("seed", [1, 2, 3, 11, 42])
def test_production_without_drift_is_ok(credit_baseline: Baseline, seed: int) -> None:
    result, _ = evaluate(credit_baseline, production_frame(5000, seed=seed, drift=None))
    assert result.status == Status.OK
    assert [c.name for c in result.columns if c.status != Status.OK] == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_default_drift_alerts_on_exactly_the_drifted_columns(
    credit_baseline: Baseline, seed: int
) -> None:
    result, _ = evaluate(credit_baseline, production_frame(5000, seed=seed, drift=DEFAULT_DRIFT))
    assert result.status == Status.ALERT
    alerting = {c.name for c in result.columns if c.status == Status.ALERT}
    assert alerting == set(drifted_columns(DEFAULT_DRIFT))
    others = {c.name for c in result.columns if c.status != Status.OK} - alerting
    assert others == set()


def test_events_are_spec_shaped() -> None:
    frame = production_frame(300, seed=9, drift=DEFAULT_DRIFT)
    start = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
    out = list(events(frame, "credit", start, rate_per_second=20.0, seed=4))
    assert len(out) == 300
    assert out == list(events(frame, "credit", start, rate_per_second=20.0, seed=4))
    times = []
    for ev, (_, row) in zip(out, frame.iterrows(), strict=True):
        assert set(ev) == {"model", "event_id", "timestamp", "features", "prediction", "label"}
        assert ev["model"] == "credit"
        assert uuid.UUID(ev["event_id"]).version == 4
        assert RFC3339_MS.match(ev["timestamp"]), ev["timestamp"]
        times.append(dt.datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00")))
        assert list(ev["features"]) == FEATURES
        assert ev["prediction"] == row[SCORE]
        assert ev["label"] is None
        for name, value in ev["features"].items():
            if isinstance(row[name], float) and math.isnan(row[name]):
                assert value is None
            else:
                assert value == row[name]
                assert type(value) in (int, float, str)
        json.dumps(ev, allow_nan=False)  # valid JSON: no NaN anywhere
    assert len({e["event_id"] for e in out}) == 300
    assert times == sorted(times) and times[0] >= start
    assert any(e["features"]["months_since_last_delinquency"] is None for e in out)
    # 300 events at 20/s span about 15 s
    assert 10 < (times[-1] - start).total_seconds() < 20


def test_events_treat_naive_start_as_utc_and_reject_bad_rate() -> None:
    frame = production_frame(3, seed=1)
    first = next(events(frame, "m", dt.datetime(2026, 1, 1), 1.0))
    assert first["timestamp"].startswith("2026-01-01T00:00:")
    with pytest.raises(ValueError, match="rate_per_second"):
        next(events(frame, "m", dt.datetime(2026, 1, 1), 0.0))


def test_bundled_samples_are_what_the_script_writes(tmp_path: Path) -> None:
    assert dataset.main(["--write", str(tmp_path)]) == 0
    for name, (rows, _, _) in dataset.SAMPLES.items():
        bundled = DATA / name
        assert bundled.stat().st_size < 3_000_000
        assert (tmp_path / name).read_bytes() == bundled.read_bytes(), name
        assert len(pd.read_csv(bundled)) == rows


def test_bundled_samples_check_ok_and_drifted(tmp_path: Path) -> None:
    dmb = str(tmp_path / "credit.dmb")
    train = str(DATA / "credit_train.csv")
    build = ["baseline", "build", "--model", "credit", "--input", train]
    assert main([*build, "--prediction", SCORE, "--out", dmb]) == 0
    ok = str(DATA / "credit_production_ok.csv")
    assert main(["check", "--baseline", dmb, "--input", ok]) == 0
    drifted = str(DATA / "credit_production_drifted.csv")
    assert main(["check", "--baseline", dmb, "--input", drifted]) == 1


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="n must be"):
        training_frame(0)
    bad = DriftScenario(new_purpose="crypto", new_purpose_share=1.5)
    with pytest.raises(ValueError, match="new_purpose_share"):
        production_frame(10, seed=1, drift=bad)
    with pytest.raises(ValueError, match="weights"):
        production_frame(10, seed=1, drift=DriftScenario(channel_weights={"web": -1.0}))
    assert np.isfinite(dataset.default_score(training_frame(10))).all()
