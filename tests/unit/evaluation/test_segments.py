"""Per-segment evaluation (drift_monitor/evaluation/segments.py): each segment's
statistics equal scipy's on that segment's rows against that segment's training rows;
only a drifted segment is flagged; small segments are insufficient_data; clean windows
stay quiet across segments (the budget is split); unknown and missing segment values go
to ``__other__``; the daemon's window layout carries the segment column."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from drift_monitor.baseline import Baseline, build_baseline
from drift_monitor.baseline.model import CategoricalProfile, NumericProfile
from drift_monitor.decode.decoder import Event
from drift_monitor.errors import ConfigError
from drift_monitor.evaluation import DetectionSettings, Status, evaluate_frame
from drift_monitor.evaluation.segments import segment_codes
from drift_monitor.stats.numeric import FRACTION_FLOOR
from drift_monitor.windows.buffers import PaneBuffer, window_data
from drift_monitor.windows.layout import ModelLayout

COUNTRIES = ["IN", "US", "DE", "FR", "BR"]
SHARES = [0.4, 0.25, 0.15, 0.1, 0.1]
LEVEL = {"IN": 10.0, "US": 30.0, "DE": 20.0, "FR": 25.0, "BR": 15.0}


def frame(n: int, seed: int, shift_us: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, size=n, p=SHARES)
    amount = pd.Series(country).map(LEVEL).to_numpy() + rng.normal(0.0, 5.0, size=n)
    amount[country == "US"] += shift_us
    return pd.DataFrame(
        {
            "amount": amount,
            "channel": rng.choice(["web", "app", "store"], size=n, p=[0.5, 0.3, 0.2]),
            "country": country,
        }
    )


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    return build_baseline(
        frame(20_000, seed=1), "shop", version="v1", segment_by="country", segment_top_k=3
    )


def seg_baseline(b: Baseline, name: str) -> Baseline:
    assert b.segments is not None
    seg = next(s for s in b.segments.segments if s.name == name)
    assert seg.baseline is not None
    return seg.baseline


def test_segments_are_the_top_k_values_then_other(baseline: Baseline) -> None:
    segs = baseline.segments
    assert segs is not None and segs.column == "country" and segs.top_k == 3
    assert segs.names == ("IN", "US", "DE", "__other__")
    train = frame(20_000, seed=1)
    counts = train["country"].value_counts()
    for s in segs.segments[:-1]:
        assert s.rows == counts[s.name]
    assert segs.segments[-1].rows == counts["FR"] + counts["BR"]
    # Each segment: the model's columns minus the segment column, its own training rows.
    us = seg_baseline(baseline, "US")
    assert [c.name for c in us.columns] == ["amount", "channel"]
    p = us.column("amount").profile
    assert isinstance(p, NumericProfile)
    expected = np.sort(train.loc[train["country"] == "US", "amount"].to_numpy())
    np.testing.assert_array_equal(p.reference_sample, expected)
    assert baseline.build["segment_by"] == "country"


def test_per_segment_statistics_equal_scipy_on_the_segment_rows(baseline: Baseline) -> None:
    window = frame(6_000, seed=2, shift_us=4.0)
    r = evaluate_frame(window, baseline, DetectionSettings(segment_by="country"))
    assert r.segment_by == "country"
    assert [s.segment for s in r.segments] == ["IN", "US", "DE", "__other__"]
    assert sum(s.events for s in r.segments) == len(window)
    other = ~window["country"].isin(["IN", "US", "DE"])
    for s in r.segments:
        rows = window[other] if s.segment == "__other__" else window[window["country"] == s.segment]
        assert s.events == len(rows)
        sb = seg_baseline(baseline, str(s.segment))
        # KS against the segment's reference sample, as scipy computes it.
        num = sb.column("amount").profile
        assert isinstance(num, NumericProfile)
        amount = {c.name: c for c in s.columns}["amount"]
        ks = sps.ks_2samp(rows["amount"].to_numpy(), num.reference_sample, method="auto")
        assert amount.tests["ks"].statistic == pytest.approx(ks.statistic, rel=1e-12)
        assert amount.tests["ks"].p_value == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
        # PSI over the segment's own training quantile bins (SPEC formula).
        edges = np.concatenate(([-np.inf], num.inner_edges, [np.inf]))
        actual = np.histogram(rows["amount"].to_numpy(), bins=edges)[0] / len(rows)
        a = np.maximum(actual, FRACTION_FLOOR)
        e = np.maximum(num.expected_fractions, FRACTION_FLOOR)
        assert amount.tests["psi"].statistic == pytest.approx(
            float(np.sum((a - e) * np.log(a / e)))
        )
        # chi2 of the channel against the segment's training proportions.
        cat = sb.column("channel").profile
        assert isinstance(cat, CategoricalProfile)
        counts = rows["channel"].value_counts().reindex(list(cat.categories), fill_value=0)
        chi = sps.chisquare(counts.to_numpy(), cat.fractions * len(rows))
        channel = {c.name: c for c in s.columns}["channel"]
        assert channel.tests["chi2"].statistic == pytest.approx(chi.statistic, rel=1e-9)
        assert channel.tests["chi2"].p_value == pytest.approx(chi.pvalue, rel=1e-9)


def test_only_the_drifted_segment_is_flagged_while_the_model_is_ok(baseline: Baseline) -> None:
    # 2 std in US only: overall the shift is hidden by the segments' own levels.
    r = evaluate_frame(
        frame(8_000, seed=3, shift_us=2.5), baseline, DetectionSettings(segment_by="country")
    )
    assert [s.segment for s in r.drifted_segments] == ["US"]
    assert {s.segment: s.status for s in r.segments if s.segment != "US"} == {
        "IN": Status.OK,
        "DE": Status.OK,
        "__other__": Status.OK,
    }
    us = next(s for s in r.segments if s.segment == "US")
    assert [c.name for c in us.drifted] == ["amount"]
    assert r.status == Status.OK  # the model as a whole does not see it
    doc = r.to_json()
    assert doc["drifted_segments"] == ["US"]
    assert [s["segment"] for s in doc["segments"]] == ["IN", "US", "DE", "__other__"]


def test_clean_windows_raise_no_segment_alarm(baseline: Baseline) -> None:
    settings = DetectionSettings(segment_by="country")
    alarms = 0
    for seed in range(100, 130):
        r = evaluate_frame(frame(2_000, seed=seed), baseline, settings)
        alarms += len(r.drifted_segments)
    # Budget 1 % per window split across 4 segments: 30 clean windows, expect ~0.3.
    assert alarms <= 1


def test_a_small_segment_is_insufficient_data_never_drift(baseline: Baseline) -> None:
    window = frame(3_000, seed=4)
    # 50 DE rows, all far off: fewer than min_events (100), so not judged.
    de = window.index[window["country"] == "DE"]
    window = window.drop(de[50:])
    window.loc[de[:50], "amount"] += 100.0
    r = evaluate_frame(window, baseline, DetectionSettings(segment_by="country"))
    de_result = next(s for s in r.segments if s.segment == "DE")
    assert de_result.events == 50
    assert de_result.status == Status.INSUFFICIENT_DATA
    assert all(c.status == Status.INSUFFICIENT_DATA for c in de_result.columns)


def test_unknown_and_missing_segment_values_go_to_other(baseline: Baseline) -> None:
    window = frame(1_000, seed=5)
    window.loc[:99, "country"] = [f"new-{i}" for i in range(100)]
    window.loc[100:149, "country"] = None
    r = evaluate_frame(window, baseline, DetectionSettings(segment_by="country"))
    other = next(s for s in r.segments if s.segment == "__other__")
    expected = 150 + int(window.loc[150:, "country"].isin(["FR", "BR"]).sum())
    assert other.events == expected
    assert len(r.segments) == 4


def test_segment_by_without_matching_segments_is_a_config_error(baseline: Baseline) -> None:
    with pytest.raises(
        ConfigError, match=r"detection\.segment_by: 'channel'.*--segment-by channel"
    ):
        evaluate_frame(frame(500, seed=6), baseline, DetectionSettings(segment_by="channel"))


def test_a_segment_column_outside_the_model_rides_along_in_the_window() -> None:
    train = frame(10_000, seed=7)
    b = build_baseline(train, "shop", exclude=["country"], segment_by="country", segment_top_k=2)
    assert [c.name for c in b.columns] == ["amount", "channel"]
    layout = ModelLayout.from_baseline(b)
    assert [s.name for s in layout.categorical] == ["channel", "country"]
    pane = PaneBuffer(
        0.0, 60.0, len(layout.numeric), len(layout.categorical), 100, random.Random(0)
    )
    values = ["IN", "US", "DE", None, "ZZ"]
    for i, v in enumerate(values):
        features = {"amount": 1.0, "channel": "web", "country": v}
        nums, codes = layout.extract(Event("shop", str(i), 1.0, features, None))
        pane.add(nums, codes, 1.0, ("t", 0), i, None)
    data = window_data(layout, [pane], 0.0, 60.0)
    assert b.segments is not None
    assert b.segments.names == ("IN", "US", "__other__")
    assert segment_codes(b, b.segments, data).tolist() == [0, 1, 2, 2, 2]


def test_the_daemon_refuses_a_baseline_without_the_configured_segments(
    baseline: Baseline, tmp_path: Path
) -> None:
    from drift_monitor.baseline import save_baseline  # noqa: PLC0415
    from drift_monitor.config import validate_config  # noqa: PLC0415
    from drift_monitor.pipeline.baselines import BaselineRegistry  # noqa: PLC0415

    plain = build_baseline(frame(2_000, seed=8), "plain", version="v1")
    save_baseline(plain, tmp_path / "plain.dmb")
    save_baseline(dataclasses.replace(baseline), tmp_path / "shop.dmb")
    config = validate_config(
        {
            "kafka": {"bootstrap_servers": ["localhost:9092"], "topics": ["t"], "group_id": "g"},
            "baselines": {"dir": str(tmp_path)},
            "models": [
                {"name": "plain", "detection": {"segment_by": "country"}},
                {"name": "shop", "detection": {"segment_by": "country"}},
            ],
        }
    )
    registry = BaselineRegistry(config)
    registry.reload()
    assert registry.get("plain") is None
    assert (
        "detection.segment_by is 'country' but the baseline has no segments"
        in (registry.errors["plain"])
    )
    assert "--segment-by country" in registry.errors["plain"]
    loaded = registry.get("shop")
    assert loaded is not None and loaded.baseline.segments is not None
    # The layout carries no extra slot: country is a categorical column of the model.
    assert [s.name for s in loaded.layout.categorical] == ["channel", "country"]
