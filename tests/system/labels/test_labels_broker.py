"""Model quality on the real broker: the daemon (a subprocess) reads predictions and a
labels topic, joins late / missing / early / duplicated labels, scores every prediction
window like scikit-learn, and sends exactly one signed ``performance.degraded`` webhook;
``kill -9`` mid-stream, several times, loses no join and double-counts none.

The stream (tests/services/labels.py) is produced up front, predictions and labels on
two topics: the consumer reads them in whatever interleaving Kafka gives, so a window
is final only once both streams passed its end plus ``max_delay`` (the join's
watermark). Nothing sleeps blindly: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drift_monitor.baseline import save_baseline
from drift_monitor.demo.receiver import WebhookReceiver
from drift_monitor.labels.store import JoinStore
from drift_monitor.pipeline.labels import STORE_FILENAME
from tests.services.daemon import DaemonConfig, DaemonProcess
from tests.services.kafka import KafkaBroker
from tests.services.labels import (
    T0,
    WINDOW_S,
    LabelledStream,
    check_windows,
    labelled_baseline,
    labelled_stream,
)
from tests.services.streams import iso
from tests.services.wait import wait_for
from tests.services.webhooks import loopback_webhooks

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECRET_ENV = "DRIFT_MONITOR_LABELS_BROKER_SECRET"
SECRET = "whsec_" + base64.b64encode(b"labels-broker-test-secret-32byte").decode()
DEADLINE_S = 120.0
WINDOWS = 8
DEGRADED = (5, 6, 7)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r


def _daemon(
    tmp_path: Path,
    broker: KafkaBroker,
    receiver: WebhookReceiver,
    labels: dict[str, Any],
) -> DaemonProcess:
    base = f"labels-{os.getpid()}-{time.monotonic_ns()}"
    predictions, label_topic = f"{base}-predictions", f"{base}-labels"
    broker.create_topic(predictions)
    broker.create_topic(label_topic)
    save_baseline(labelled_baseline(), tmp_path / "baselines" / "m.dmb")
    config = DaemonConfig(
        bootstrap=broker.bootstrap,
        topics=[predictions],
        group_id=f"{base}-group",
        models=["m"],
        baselines_dir=tmp_path / "baselines",
        state_dir=tmp_path / "state",
        window_seconds=WINDOW_S,
        allowed_lateness_seconds=0,
        idle_timeout_seconds=3600,
        overrides={
            "http": {"status_windows": 40},
            "models": [
                {
                    "name": "m",
                    "episodes": {"enter_after": 2, "resolve_after": 2},
                    "labels": {
                        "topic": label_topic,
                        "final_coverage": 1.0,
                        "min_labels": 50,
                        "max_entries": 100_000,
                    }
                    | labels,
                }
            ],
            "webhooks": loopback_webhooks(receiver.url, SECRET_ENV),
        },
    )
    return DaemonProcess("daemon", config, tmp_path, env={SECRET_ENV: SECRET})


def _produce(broker: KafkaBroker, d: DaemonProcess, stream: LabelledStream, part: slice) -> None:
    labels_topic = d.config.document()["models"][0]["labels"]["topic"]
    for topic, name in ((d.config.topics[0], "predictions"), (labels_topic, "labels")):
        values = [i.value for i in stream.items[part] if i.topic == name]
        if values:
            broker.produce(topic, values, keys=[b"m"] * len(values))


def _final(d: DaemonProcess) -> dict[str, dict[str, Any]]:
    labels = d.status()["models"]["m"].get("labels") or {}
    return {w["start"]: w for w in labels.get("windows", []) if w["final"]}


def test_late_labels_on_the_broker_give_sklearn_metrics_and_one_degraded_webhook(
    tmp_path: Path, kafka_broker: KafkaBroker, receiver: WebhookReceiver
) -> None:
    d = _daemon(tmp_path, kafka_broker, receiver, {"max_delay_seconds": 5 * WINDOW_S})
    stream = labelled_stream(WINDOWS, 400, degraded=DEGRADED)
    _produce(kafka_broker, d, stream, slice(None))
    try:
        d.start()
        last = iso(T0 + (WINDOWS + 1) * WINDOW_S)  # the window that resolves it
        wait_for(
            lambda: last in _final(d) and receiver.delivered("performance.recovered"),
            DEADLINE_S,
            "every tested window final and the incident resolved",
            on_timeout=d.log_tail,
        )
        check_windows(_final(d), stream, range(WINDOWS), DEGRADED)
        perf = [h for h in receiver.snapshot() if h.type.startswith("performance.")]
        assert [h.type for h in perf] == ["performance.degraded", "performance.recovered"]
        assert all(h.verified and h.answered == 200 for h in perf)
        degraded = perf[0].body
        assert degraded["window"]["start"] == iso(T0 + DEGRADED[1] * WINDOW_S)
        assert degraded["performance"]["labels"] == len(stream.expected(DEGRADED[1])[0])
        status = d.status()["models"]["m"]["labels"]
        assert status["store"]["max_entries"] == 100_000
        assert status["sample_rate"] == 1.0
        m = d.metrics()
        assert m.total("drift_monitor_label_coverage_ratio", model="m") == pytest.approx(
            status["latest"]["coverage"], abs=1e-12
        )
        assert m.total("drift_monitor_labels_duplicates_total", model="m") > 0
    finally:
        d.stop()


def test_kill_9_mid_stream_loses_no_join_and_counts_none_twice(
    tmp_path: Path, kafka_broker: KafkaBroker, receiver: WebhookReceiver
) -> None:
    """max_delay 10 windows and 11 tail windows: windows 0-7 end final and still in the
    store's window table (forgotten only 2 x max_delay later), so their durable
    (tracked, joined) counts can be compared with the stream's after every kill."""
    d = _daemon(tmp_path, kafka_broker, receiver, {"max_delay_seconds": 10 * WINDOW_S})
    stream = labelled_stream(WINDOWS, 300, degraded=DEGRADED, tail_windows=11, seed=21)
    rng = random.Random(4)
    n = len(stream.items)
    cuts = [0, n // 4, n // 2, 3 * n // 4, n]
    try:
        for k in range(4):
            _produce(kafka_broker, d, stream, slice(cuts[k], cuts[k + 1]))
            d.start(wait_ready=False)
            if k == 3:
                break
            # Kill once it is joining: after a random share of this chunk's progress.
            target = rng.uniform(0.2, 0.9) * (cuts[k + 1] - cuts[k]) / 2

            def progress(d: DaemonProcess = d, target: float = target) -> bool:
                try:
                    joined = d.status()["models"]["m"]["labels"]["counters"]["predictions"]
                except (OSError, KeyError, AssertionError):
                    return False
                return bool(joined >= target)

            wait_for(progress, DEADLINE_S, f"progress before kill {k + 1}", on_timeout=d.log_tail)
            d.sigkill()
        last = iso(T0 + (WINDOWS - 1) * WINDOW_S)
        wait_for(
            lambda: last in _final(d) and receiver.delivered("performance.degraded"),
            DEADLINE_S,
            "window 7 final and the degraded webhook delivered",
            on_timeout=d.log_tail,
        )
        # Stop it cleanly (it commits) and read the durable store.
        final_here = _final(d)
        counters = d.status()["models"]["m"]["labels"]["counters"]
        d.sigterm()
    finally:
        d.stop()
    store = JoinStore(d.config.state_dir / STORE_FILENAME, max_delay=10 * WINDOW_S)
    first = int(T0 // WINDOW_S)
    got = {
        w.window_id - first: (w.tracked, w.joined, w.final)
        for w in store.windows("m", include_final=True)
    }
    store.close()
    for w in range(WINDOWS):
        tracked = sum(1 for t in stream.truth.values() if t[0] == w)
        assert got[w] == (tracked, len(stream.expected(w)[0]), True), w
    # The last process re-read records the store already held (the commit trails the
    # open drift window at least): the idempotent path was taken, and changed nothing.
    assert counters["duplicates"] + counters["late"] > 0, counters
    # The windows this last process finalised: their metrics are sklearn's.
    mine = [w for w in range(WINDOWS) if iso(T0 + w * WINDOW_S) in final_here]
    # (verdicts not checked: 300 labels a window leave a false "degraded" at the 1 %
    # level possible; the incident below is what matters here)
    check_windows(final_here, stream, mine, None)
    perf = [h for h in receiver.delivered() if h.type.startswith("performance.")]
    # at-least-once delivery may repeat a message a kill interrupted: one id, one type
    assert {(h.type, h.body["id"]) for h in perf} == {("performance.degraded", perf[0].body["id"])}
    assert {h.webhook_id for h in perf} == {perf[0].webhook_id}
    assert perf[0].body["window"]["start"] == iso(T0 + DEGRADED[1] * WINDOW_S)
