"""Per-segment drift end to end on the real broker (issue 16, part 5, "Done when").

A baseline built with ``--segment-by country --segment-top-k 3`` (the country is not a
monitored column: it rides along only as the segment code); the daemon subprocess with
``detection.segment_by: country`` consumes two 60 s windows: the first clean, the second
with only the ``US`` segment's ``amount`` shifted. Both windows also carry hostile
events, each with a country value never seen before (thousands of distinct values).

- the drifted window flags ``US`` and no other segment (the clean one flags none), in
  the per-window records, on /metrics and in /status;
- the overall window (every row, the model's own status) does not alert: a shift of
  1.5 standard deviations in a quarter of the traffic leaves the model at ``warning``
  (its status rule), so only the segment says which slice moved;
- whatever country values arrive, every per-segment family has at most K + 1 = 4 series
  per feature, labelled by the baseline's segments only: no event value reaches a label.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from tests.services.daemon import DaemonProcess, read_audit, wait_for
from tests.services.kafka import KafkaBroker, create_topic
from tests.services.streams import encode, iso, produce, read_topic, window_start

pytestmark = pytest.mark.kafka

MODEL = "shop"
WINDOW_S = 60.0
PER_WINDOW = 2400  # regular events per window (25 ms apart)
HOSTILE = 800  # events per window, each with a new country value
COUNTRIES = ["IN", "US", "DE", "FR", "BR"]
SHARES = [0.4, 0.25, 0.15, 0.1, 0.1]
SEGMENTS = {"IN", "US", "DE", "__other__"}  # top 3 of the training data + __other__


def _training(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    country = rng.choice(COUNTRIES, size=n, p=SHARES)
    # Each country its own amount level: a per-segment baseline is not the overall one.
    level = pd.Series(country).map({"IN": 10.0, "US": 30.0, "DE": 20.0, "FR": 25.0, "BR": 15.0})
    return pd.DataFrame(
        {
            "amount": level.to_numpy() + rng.normal(0.0, 5.0, size=n),
            "channel": rng.choice(["web", "app", "store"], size=n, p=[0.5, 0.3, 0.2]),
            "country": country,
        }
    )


def _events(t0: float, seed: int, shift_us: float, hostile_from: int) -> list[dict[str, Any]]:
    regular = _training(PER_WINDOW, seed)
    regular.loc[regular["country"] == "US", "amount"] += shift_us
    # The hostile events: a country no one has seen (never the same twice), with the
    # amount and channel of __other__'s training rows (FR, BR): __other__ stays clean.
    pool = _training(10 * HOSTILE, seed + 100)
    hostile = pool[pool["country"].isin(["FR", "BR"])].head(HOSTILE)
    assert len(hostile) == HOSTILE
    frame = pd.concat([regular, hostile], ignore_index=True)
    countries = frame["country"].to_list()
    for i in range(PER_WINDOW, PER_WINDOW + HOSTILE):
        countries[i] = f"ZZ-{hostile_from + i}"
    amounts = frame["amount"].to_numpy(dtype=np.float64)
    channels = frame["channel"].to_list()
    order = np.random.default_rng(seed + 1).permutation(len(frame))
    spacing = WINDOW_S / len(frame)
    out = []
    for k, i in enumerate(order):
        out.append(
            {
                "model": MODEL,
                "event_id": f"{seed}-{i}",
                "timestamp": iso(t0 + k * spacing),
                "features": {
                    "amount": float(amounts[i]),
                    "channel": str(channels[i]),
                    "country": countries[i],
                },
            }
        )
    return out


def test_only_the_drifted_segment_is_flagged_and_series_stay_bounded(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    baselines = tmp_path / "baselines"
    train = _training(40_000, seed=3)
    baseline = build_baseline(
        train,
        MODEL,
        version="seg-train",
        exclude=["country"],
        segment_by="country",
        segment_top_k=3,
    )
    assert baseline.segments is not None and set(baseline.segments.names) == SEGMENTS
    save_baseline(baseline, baselines / f"{MODEL}.dmb")

    topic = unique("segments")
    create_topic(kafka_broker.bootstrap, topic)
    d = topic_daemon(
        "segments",
        topic,
        [MODEL],
        baselines_dir=baselines,
        audit_windows=True,
        overrides={"defaults": {"detection": {"segment_by": "country"}}},
    ).start()
    t0 = window_start(window_s=WINDOW_S)
    evs = _events(t0, seed=11, shift_us=0.0, hostile_from=0) + _events(
        t0 + WINDOW_S, seed=12, shift_us=7.5, hostile_from=10_000
    )
    produce(kafka_broker.bootstrap, topic, encode(evs), [MODEL.encode()] * len(evs))

    def closed() -> list[dict[str, Any]] | None:
        w = read_audit(d.audit_path)
        return w if len(w) >= 2 else None

    clean, drifted = wait_for(closed, 120, "2 closed windows", on_timeout=d.log_tail)[:2]

    # The per-window records: segment rows, the drifted window flags US and no other.
    for record in (clean, drifted):
        assert record["segment_by"] == "country"
        assert [s["segment"] for s in record["segments"]] == ["IN", "US", "DE", "__other__"]
        assert sum(s["events"] for s in record["segments"]) == record["events"]
        assert all(s["status"] != "insufficient_data" for s in record["segments"]), record
    assert clean["drifted_segments"] == [], clean["segments"]
    assert drifted["drifted_segments"] == ["US"], drifted["segments"]
    us = next(s for s in drifted["segments"] if s["segment"] == "US")
    assert {f["name"] for f in us["features"] if f["status"] == "alert"} == {"amount"}
    for s in drifted["segments"]:
        if s["segment"] != "US":
            assert s["status"] in ("ok", "warning"), s
    # The hostile countries all went to __other__ (plus FR and BR, its training values).
    other = next(s for s in drifted["segments"] if s["segment"] == "__other__")
    assert other["events"] >= HOSTILE
    # Overall: the model's own verdict over every row does not alert (its status rule
    # reaches only warning): without segments this window would page no one.
    assert clean["status"] == "ok", clean
    assert drifted["status"] == "warning", drifted

    # /metrics: the drifted segment is flagged, the others are not; bounded series.
    m = d.metrics()
    status = m.by_label("drift_monitor_segment_status", "segment", model=MODEL)
    assert set(status) == SEGMENTS and status["US"] == 2.0, status
    assert all(v in (0.0, 1.0) for k, v in status.items() if k != "US"), status
    assert m.value("drift_monitor_drifted_segments", model=MODEL) == 1.0
    for family in (
        "drift_monitor_segment_feature_status",
        "drift_monitor_segment_feature_psi",
        "drift_monitor_segment_feature_ks_statistic",
        "drift_monitor_segment_feature_chi2_statistic",
    ):
        rows = m.select(family, model=MODEL)
        assert rows, family
        for feature in {labels["feature"] for labels, _ in rows}:
            segs = {labels["segment"] for labels, _ in rows if labels["feature"] == feature}
            assert segs <= SEGMENTS and len(segs) <= 3 + 1, (family, feature, segs)
    _, body = d.get("/metrics")
    assert b"ZZ-" not in body  # no event value in any label
    # The model's own families carry no segment label: existing rules count columns once.
    assert all("segment" not in labels for labels, _ in m.select("drift_monitor_feature_status"))

    # /status: the latest window's segment rows.
    entry = d.status()["models"][MODEL]
    assert entry["segment_by"] == "country"
    assert [(s["segment"], "amount" in s["drifted"]) for s in entry["segments"]] == [
        ("IN", False),
        ("US", True),
        ("DE", False),
        ("__other__", False),
    ]
    assert entry["windows"][0]["drifted_segments"] == ["US"]
    d.sigterm()


def test_a_segment_incident_reaches_the_report_topic_once(
    kafka_broker: KafkaBroker,
    topic_daemon: Callable[..., DaemonProcess],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """``episodes.segment_incidents: true``: the US segment drifting alone opens one
    ``drift.detected`` naming the segment (the model itself opens none), published once
    to the report topic beside the window records (a retry after a failed sink is the
    unit tests' part: tests/unit/evaluation/test_segment_incidents.py)."""
    baselines = tmp_path / "baselines"
    baseline = build_baseline(
        _training(40_000, seed=3),
        MODEL,
        version="seg-train",
        exclude=["country"],
        segment_by="country",
        segment_top_k=3,
    )
    save_baseline(baseline, baselines / f"{MODEL}.dmb")
    topic, reports = unique("seg-incidents"), unique("seg-incidents-reports")
    create_topic(kafka_broker.bootstrap, topic)
    create_topic(kafka_broker.bootstrap, reports)
    d = topic_daemon(
        "seg-incidents",
        topic,
        [MODEL],
        baselines_dir=baselines,
        audit_windows=True,
        kafka_extra={"report_topic": reports},
        overrides={
            "defaults": {
                "detection": {"segment_by": "country"},
                "episodes": {"enter_after": 1, "segment_incidents": True},
            }
        },
    ).start()
    t0 = window_start(window_s=WINDOW_S)
    # The first test's windows: the model itself stays at warning (no incident of its own).
    evs = _events(t0, seed=11, shift_us=0.0, hostile_from=0) + _events(
        t0 + WINDOW_S, seed=12, shift_us=7.5, hostile_from=10_000
    )
    produce(kafka_broker.bootstrap, topic, encode(evs), [MODEL.encode()] * len(evs))
    wait_for(
        lambda: len(read_audit(d.audit_path)) >= 2 or None,
        120,
        "2 closed windows",
        on_timeout=d.log_tail,
    )

    got = read_topic(kafka_broker.bootstrap, reports, 3, timeout=60)
    docs = [json.loads(m.value) for m in got]
    incidents = [x for x in docs if x["type"] != "window.evaluated"]
    assert [x["type"] for x in docs].count("window.evaluated") == 2
    assert [(x["type"], x.get("segment"), x.get("segment_by")) for x in incidents] == [
        ("drift.detected", "US", "country")
    ]
    assert incidents[0]["model"] == MODEL and incidents[0]["id"].startswith(
        f"drift-{MODEL}.seg-US-"
    )
    assert {f["name"] for f in incidents[0]["drifted_features"]} == {"amount"}
    d.sigterm()
