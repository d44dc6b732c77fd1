"""The Prometheus metrics contract of SPEC.md ("Prometheus metrics"), on the daemon's
own :class:`Monitor` fed by a :class:`MemorySource` (no broker, no HTTP port).

- every SPEC metric is exposed, with its SPEC type and exactly its SPEC label names;
- label values come only from configuration, baselines and fixed vocabularies: an
  event carrying hostile feature names, a hostile model name and hostile values never
  shows up in any label (nor anywhere in the exposition);
- a baseline file that changes version (and loses a column) drops the old version's
  ``baseline_info`` series and every series of the removed column;
- records re-read after a rebalance are counted once (counters and dead letters).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from drift_monitor import __version__
from drift_monitor.baseline import Baseline, build_baseline, save_baseline
from drift_monitor.clock import ManualClock
from drift_monitor.config import validate_config
from drift_monitor.daemon import Monitor
from drift_monitor.decode.decoder import INVALID_REASONS
from drift_monitor.demo.dataset import (
    DEFAULT_DRIFT,
    SCORE,
    training_frame,
)
from drift_monitor.source.memory import MemoryDeadLetters, MemorySource
from drift_monitor.webhooks.transport import MemoryTransport
from tests.services import streams
from tests.services.streams import TRAINING_VERSION, encode

MODEL = "credit"
TOPIC = "credit-predictions"
WINDOW_S = 60.0
PER_WINDOW = 400
#: Start of the first window (aligned to WINDOW_S).
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

#: SPEC.md "Prometheus metrics": name (without prefix) -> (type, label names).
SPEC_METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "events_total": ("counter", frozenset({"model", "outcome"})),
    "window_events": ("gauge", frozenset({"model"})),
    "feature_psi": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_ks_statistic": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_wasserstein": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_jensen_shannon": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_chi2_statistic": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_ks_p_value": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_chi2_p_value": ("gauge", frozenset({"model", "feature", "kind"})),
    "feature_status": ("gauge", frozenset({"model", "feature"})),
    "feature_unseen_ratio": ("gauge", frozenset({"model", "feature"})),
    "feature_missing_ratio": ("gauge", frozenset({"model", "feature"})),
    "model_status": ("gauge", frozenset({"model"})),
    "drifted_features": ("gauge", frozenset({"model"})),
    "last_evaluation_timestamp_seconds": ("gauge", frozenset({"model"})),
    "evaluation_duration_seconds": ("histogram", frozenset({"model"})),
    "baseline_info": ("gauge", frozenset({"model", "version"})),
    "consumer_lag": ("gauge", frozenset({"topic", "partition"})),
    "kafka_connected": ("gauge", frozenset()),
    "webhook_deliveries_total": ("counter", frozenset({"model", "outcome"})),
    "webhook_outbox_pending": ("gauge", frozenset()),
    "build_info": ("gauge", frozenset({"version"})),
}
PREFIX = "drift_monitor_"
FEATURE_FAMILIES = [n for n, (_, labels) in SPEC_METRICS.items() if "feature" in labels]

#: Strings an attacker controls in an event; none may reach the exposition.
HOSTILE = [
    'evil"} 1\n# TYPE pwned gauge\npwned{x="',
    "evil_feature_name",
    "evil-model",
    "evil\\value",
]


class RebalancingSource(MemorySource):
    """A MemorySource whose :meth:`rebalance` fires the rebalance listeners, as Kafka does
    when the group's assignment changes (the daemon then re-reads from the commits)."""

    def __init__(self) -> None:
        super().__init__()
        self._on_rebalance: list[Callable[[], None]] = []

    def on_rebalance(self, callback: Callable[[], None]) -> None:
        self._on_rebalance.append(callback)
        super().on_rebalance(callback)

    def rebalance(self) -> None:
        for callback in self._on_rebalance:
            callback()


@dataclasses.dataclass
class Rig:
    monitor: Monitor
    source: RebalancingSource
    dead_letters: MemoryDeadLetters
    transport: MemoryTransport
    baseline_path: Path
    v1: Baseline

    @property
    def registry(self) -> CollectorRegistry:
        return self.monitor.registry

    def feed(self, values: list[bytes]) -> None:
        for v in values:
            self.source.append(TOPIC, v, key=MODEL.encode())
        # The first poll only rewinds (first assignment) and processes nothing.
        for _ in range(1000):
            if self.monitor.run_once() == 0 and self.source.remaining() == 0:
                return
        raise AssertionError(f"{self.source.remaining()} records never consumed")

    def scrape(self) -> dict[str, Any]:
        """family name -> parsed family (prometheus_client.parser)."""
        text = generate_latest(self.registry).decode()
        return {f.name: f for f in text_string_to_metric_families(text)}

    def value(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(PREFIX + name, labels)


def window_events(index: int, *, seed: int, drifted: bool) -> list[bytes]:
    """PER_WINDOW events of window ``index`` (event time T0 + index * WINDOW_S)."""
    start = T0.timestamp() + index * WINDOW_S
    drift = DEFAULT_DRIFT if drifted else None
    return encode(streams.window_events(MODEL, start, WINDOW_S, PER_WINDOW, seed=seed, drift=drift))


def hostile_events(index: int) -> tuple[list[bytes], dict[str, int]]:
    """Events inside window ``index`` carrying attacker-chosen names and values, and the
    outcome each should be counted under (for the configured model or ``-``)."""
    ts = (T0 + dt.timedelta(seconds=index * WINDOW_S + 1)).isoformat().replace("+00:00", "Z")
    base = orjson.loads(window_events(index, seed=99, drifted=False)[0])
    accepted = dict(base, event_id=HOSTILE[0], timestamp=ts)
    accepted["features"] = {**base["features"], HOSTILE[0]: 1.0, HOSTILE[1]: HOSTILE[3]}
    unknown = dict(base, model=HOSTILE[2], timestamp=ts)
    unknown_too = dict(base, model=HOSTILE[0], timestamp=ts)
    wrong_type = dict(base, timestamp=ts)
    wrong_type["features"] = {**base["features"], "annual_income": HOSTILE[0]}
    records = [
        orjson.dumps(accepted),
        orjson.dumps(unknown),
        orjson.dumps(unknown_too),
        orjson.dumps(wrong_type),
        b"{not json " + HOSTILE[0].encode(),
    ]
    return records, {"accepted": 1, "unknown_model": 2, "invalid": 2}


@pytest.fixture(scope="module")
def v1() -> Baseline:
    return streams.training_baseline(TRAINING_VERSION)


@pytest.fixture
def rig(tmp_path: Path, v1: Baseline) -> Iterator[Rig]:
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    path = baselines / f"{MODEL}.dmb"
    save_baseline(v1, path)
    config = validate_config(
        {
            "kafka": {
                "bootstrap_servers": ["in-memory:0"],
                "topics": [TOPIC],
                "group_id": "sre-contract",
            },
            "baselines": {"dir": str(baselines), "reload_interval_seconds": 3600},
            "state": {"dir": str(tmp_path / "state")},
            "http": {"host": "127.0.0.1", "port": 0},
            "models": [
                {
                    "name": MODEL,
                    "window": {
                        "type": "tumbling",
                        "size_seconds": WINDOW_S,
                        "allowed_lateness_seconds": 0,
                    },
                    "detection": {"min_events": 100},
                    "episodes": {"enter_after": 1, "resolve_after": 1},
                }
            ],
            "webhooks": {
                "allow_networks": ["127.0.0.0/8"],  # a receiver on loopback
                "targets": [
                    {
                        "name": "retrain",
                        "url": "http://127.0.0.1:9/hook",
                        "secret": {"value": "whsec_c3JlLWNvbnRyYWN0LXRlc3Qtc2VjcmV0"},
                    }
                ],
            },
        },
        "sre metrics contract config",
    )
    source = RebalancingSource()
    dead_letters = MemoryDeadLetters()
    transport = MemoryTransport(default_status=200)
    monitor = Monitor(
        config,
        source,
        clock=ManualClock(T0.timestamp() + 3600),
        dead_letters=dead_letters,
        transport=transport,
        serve_http=False,
    )
    try:
        yield Rig(monitor, source, dead_letters, transport, path, v1)
    finally:
        monitor.shutdown()


def drive(rig: Rig) -> dict[str, int]:
    """A clean window, a drifted one (an incident opens, its webhook is delivered), the
    hostile events, then a later event closes both windows; health refreshed."""
    hostile, outcomes = hostile_events(1)
    rig.feed(window_events(0, seed=11, drifted=False))
    rig.feed(window_events(1, seed=12, drifted=True) + hostile)
    # A window-2 event moves the watermark past window 1's end: both are evaluated.
    rig.feed(window_events(2, seed=13, drifted=True)[:1])
    rig.monitor.deliver_webhooks()
    rig.monitor.refresh_health()
    return {
        "accepted": 2 * PER_WINDOW + 1 + outcomes["accepted"],
        "unknown_model": outcomes["unknown_model"],
        "invalid": outcomes["invalid"],
    }


def test_every_spec_metric_has_exactly_the_spec_labels(rig: Rig) -> None:
    drive(rig)
    families = rig.scrape()
    for name, (kind, labels) in SPEC_METRICS.items():
        family_name = PREFIX + name.removesuffix("_total")
        assert family_name in families, f"{PREFIX}{name} is not exposed"
        family = families[family_name]
        assert family.type == kind, f"{PREFIX}{name} is a {family.type}, SPEC says {kind}"
        assert family.documentation, f"{PREFIX}{name} has no HELP text"
        assert family.samples, f"{PREFIX}{name} has no sample"
        for sample in family.samples:
            got = set(sample.labels)
            if kind == "histogram" and sample.name.endswith("_bucket"):
                got.discard("le")
            assert got == labels, f"{sample.name}: labels {sorted(got)}, SPEC {sorted(labels)}"
            if kind == "counter":
                assert sample.name == PREFIX + name, sample.name


def test_sample_values_follow_the_stream(rig: Rig) -> None:
    expected = drive(rig)
    v = rig.value
    assert v("events_total", model=MODEL, outcome="accepted") == expected["accepted"]
    # Invalid for the configured model: a feature of the wrong type. Undecodable records
    # and unknown models are counted under the placeholder model "-".
    assert v("events_total", model=MODEL, outcome="invalid") == 1
    assert v("events_total", model="-", outcome="invalid") == 1
    assert v("events_total", model="-", outcome="unknown_model") == expected["unknown_model"]
    assert v("events_total", model=MODEL, outcome="late") is None
    assert v("window_events", model=MODEL) == PER_WINDOW + 1  # the drifted window 1
    assert v("model_status", model=MODEL) == 2
    drifted = v("drifted_features", model=MODEL)
    assert drifted is not None and drifted >= 4
    assert v("feature_status", model=MODEL, feature="annual_income") == 2
    assert v("feature_status", model=MODEL, feature="age") in (0.0, 1.0)
    psi = v("feature_psi", model=MODEL, feature="annual_income", kind="numeric")
    assert psi is not None and psi > 0.25
    unseen = v("feature_unseen_ratio", model=MODEL, feature="loan_purpose")
    assert unseen is not None and 0.02 < unseen < 0.2  # 'crypto' at 8 %
    assert v("feature_unseen_ratio", model=MODEL, feature="annual_income") is None
    assert v("feature_ks_statistic", model=MODEL, feature=SCORE, kind="prediction") is not None
    chi2_p = v("feature_chi2_p_value", model=MODEL, feature="channel", kind="categorical")
    assert chi2_p is not None and chi2_p < 0.05
    assert v("evaluation_duration_seconds_count", model=MODEL) == 2
    assert v("baseline_info", model=MODEL, version=TRAINING_VERSION) == 1
    assert v("build_info", version=__version__) == 1
    assert v("consumer_lag", topic=TOPIC, partition="0") == 0
    assert v("kafka_connected") == 1
    assert v("webhook_deliveries_total", model=MODEL, outcome="delivered") == 1
    assert v("webhook_outbox_pending") == 0
    assert len(rig.transport.requests) == 1
    assert orjson.loads(rig.transport.requests[0].body)["type"] == "drift.detected"


def _drift_series(registry: CollectorRegistry) -> list[str]:
    """The drift_monitor_* lines of the exposition (process_* CPU and memory move on)."""
    text = generate_latest(registry).decode()
    return [line for line in text.splitlines() if "drift_monitor_" in line]


def test_label_values_come_only_from_config_and_baseline(rig: Rig) -> None:
    drive(rig)
    text = generate_latest(rig.registry).decode()
    for hostile in HOSTILE:
        for fragment in {hostile, *hostile.splitlines()}:
            assert fragment not in text, f"event data {fragment!r} reached /metrics"
    assert "evil" not in text and "pwned" not in text

    columns = set(rig.v1.column_names)
    allowed: dict[str, set[str]] = {
        "model": {MODEL, "-"},
        "feature": columns,
        "kind": {"numeric", "categorical", "prediction"},
        "outcome": {"accepted", "invalid", "late", "unknown_model", "delivered", "retried", "dead"},
        "version": {TRAINING_VERSION, __version__},
        "topic": {TOPIC},
        "partition": {"0"},
        "reason": set(INVALID_REASONS),
        # feature_threshold / feature_effect_floor (issue 13): deciding tests and levels
        "test": {"ks", "psi", "chi2", "wasserstein", "jensen_shannon"},
        "level": {"warning", "alert"},
        # model_info's routing labels: from config (unset here)
        "owner": {""},
        "team": {""},
        "tier": {""},
        # sink_up / sink_failures_total: the fixed sink names (drift_monitor.errors.SinkError)
        "sink": {"outbox", "episodes", "audit", "reports", "dead_letters", "metrics"},
    }
    seen: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("drift_monitor_"):
            continue  # client_python's process/platform/GC collectors: no event data
        for sample in family.samples:
            for key, value in sample.labels.items():
                if key == "le":
                    float(value)  # bucket bounds are numbers from the code
                    continue
                assert key in allowed, f"{sample.name}: unexpected label {key}"
                assert value in allowed[key], f"{sample.name}: {key}={value!r} is not bounded"
                seen.setdefault(key, set()).add(value)
    # The hostile accepted event's extra features are ignored: only baseline columns.
    assert seen["feature"] == columns


def test_baseline_version_change_drops_old_series(rig: Rig) -> None:
    drive(rig)
    removed = "loan_purpose"
    assert rig.value("baseline_info", model=MODEL, version=TRAINING_VERSION) == 1
    assert rig.value("feature_status", model=MODEL, feature=removed) is not None

    v2 = build_baseline(
        training_frame(5_000, seed=8),
        MODEL,
        prediction=[SCORE],
        exclude=[removed],
        version="sre-v2",
        source="tests/sre: training frame without loan_purpose",
    )
    save_baseline(v2, rig.baseline_path)
    assert rig.monitor.pipeline.reload_baselines() == [MODEL]

    families = rig.scrape()
    versions = [s.labels["version"] for s in families[PREFIX + "baseline_info"].samples]
    assert versions == ["sre-v2"]

    # A window evaluated against v2: every other column reports, the removed one never.
    rig.feed(window_events(3, seed=14, drifted=True))
    rig.feed(window_events(4, seed=15, drifted=True)[:1])
    assert rig.value("window_events", model=MODEL) == PER_WINDOW
    families = rig.scrape()
    features_seen: set[str] = set()
    for name in FEATURE_FAMILIES:
        for s in families[PREFIX + name].samples:
            features_seen.add(s.labels["feature"])
    assert removed not in features_seen
    assert features_seen == set(rig.v1.column_names) - {removed}
    text = generate_latest(rig.registry).decode()
    assert removed not in text
    assert TRAINING_VERSION not in text


def test_records_reread_after_a_rebalance_are_counted_once(rig: Rig) -> None:
    """A rebalance makes the daemon drop its open windows and re-read from the committed
    offset: the re-read records fill the rebuilt window again, but every counter (and
    the dead-letter copy) sees each record once."""
    hostile, outcomes = hostile_events(0)
    rig.feed(window_events(0, seed=11, drifted=False) + hostile)
    before = _drift_series(rig.registry)
    counted = {
        o: rig.value("events_total", model=m, outcome=o)
        for m, o in ((MODEL, "accepted"), (MODEL, "invalid"), ("-", "unknown_model"))
    }
    assert counted["accepted"] == PER_WINDOW + outcomes["accepted"]
    dead = len(rig.dead_letters.records)
    assert dead == outcomes["invalid"] + outcomes["unknown_model"]
    assert rig.value("window_events", model=MODEL) is None  # window 0 is still open

    rig.source.rebalance()
    rig.feed([])
    assert _drift_series(rig.registry) == before
    assert len(rig.dead_letters.records) == dead

    # Nothing was lost from the rebuilt window, and new records are counted as usual.
    rig.feed(window_events(1, seed=12, drifted=False)[:1])
    assert rig.value("window_events", model=MODEL) == PER_WINDOW + outcomes["accepted"]
    assert rig.value("events_total", model=MODEL, outcome="accepted") == counted["accepted"] + 1
