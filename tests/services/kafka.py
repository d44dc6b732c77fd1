"""A real single-node Apache Kafka broker for the test suite.

The broker is Apache Kafka's own (KRaft, combined broker+controller on 127.0.0.1),
run by ``scripts/kafka-local`` from jars resolved from Maven Central. Tests get the
session broker through the ``kafka_broker`` fixture and are marked
``@pytest.mark.kafka``.

Under ``CI=true`` a broker that cannot be started fails the tests that need it;
elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient
from kafka.producer.future import RecordMetadata

from tests.services.ports import free_port_pair
from tests.services.required import unavailable

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "kafka-local"

# A cold fetch resolves ~45 MB of jars with Maven; later ones are a no-op.
FETCH_TIMEOUT_S = 900.0
# The script itself gives up after KAFKA_LOCAL_START_TIMEOUT (60 s) of waiting.
START_TIMEOUT_S = 150.0
# The script sends SIGKILL after 30 s of SIGTERM.
STOP_TIMEOUT_S = 60.0


class KafkaBrokerError(RuntimeError):
    """The broker could not be fetched, started or stopped."""


#: Configs of every topic a test or benchmark creates. The broker runs with
#: ``auto.create.topics.enable=false`` (as managed clusters do), so each test creates its
#: topics. Their events carry event-time record timestamps, often days old: with the
#: broker's default 7-day ``retention.ms`` the retention check (every 5 minutes) deleted
#: segments mid-read and the consumer's position jumped to the log end (the "poll()
#: hangs" once reported in docs/BENCHMARKS.md). ``-1`` keeps everything.
TEST_TOPIC_CONFIGS: Mapping[str, str] = {"retention.ms": "-1"}


def create_topic(
    bootstrap: str,
    name: str,
    partitions: int = 1,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create topic ``name`` on ``bootstrap`` with :data:`TEST_TOPIC_CONFIGS` (``configs``
    override them) and wait until every partition has a leader. The one topic-creation
    helper of the tests and benchmarks."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {
                name: {
                    "num_partitions": partitions,
                    "replication_factor": 1,
                    "configs": {**TEST_TOPIC_CONFIGS, **dict(configs or {})},
                }
            },
            wait_for_metadata=True,
        )
    finally:
        admin.close()


class KafkaBroker:
    """One broker run by scripts/kafka-local from its own directory and port.

    ``broker_config``: extra ``server.properties`` settings (e.g. a short
    ``log.retention.check.interval.ms``), for a broker of the test's own.
    """

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        broker_config: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.port = port if port is not None else free_port_pair()
        self.broker_config = dict(broker_config or {})

    def __repr__(self) -> str:
        return f"KafkaBroker(bootstrap={self.bootstrap!r}, directory={str(self.directory)!r})"

    @property
    def bootstrap(self) -> str:
        """The bootstrap servers string, ``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "broker.log"

    # -- lifecycle ---------------------------------------------------------

    def fetch(self) -> None:
        """Resolve Kafka's jars into the cache (a no-op once they are there)."""
        self._script("fetch", timeout=FETCH_TIMEOUT_S)

    def start(self) -> str:
        """Start the broker (formatting its storage on first use); wait until it is ready."""
        return self._start_command("start")

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 30 s); its storage is kept."""
        self._script("stop", "--dir", str(self.directory), timeout=STOP_TIMEOUT_S)

    def restart(self) -> str:
        """Stop and start again on the same port and storage: topics and offsets survive."""
        return self._start_command("restart", timeout=STOP_TIMEOUT_S + START_TIMEOUT_S)

    def is_running(self) -> bool:
        result = subprocess.run(
            [str(SCRIPT), "status", "--dir", str(self.directory)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return result.returncode == 0

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _start_command(self, command: str, timeout: float = START_TIMEOUT_S) -> str:
        out = self._script(
            command,
            "--dir",
            str(self.directory),
            "--port",
            str(self.port),
            # The broker stops by itself if this test process dies without teardown.
            "--owner-pid",
            str(os.getpid()),
            timeout=timeout,
        )
        for line in out.splitlines():
            if line.startswith("bootstrap="):
                return line.removeprefix("bootstrap=")
        raise KafkaBrokerError(f"scripts/kafka-local {command} printed no bootstrap line:\n{out}")

    def _script(self, *args: str, timeout: float) -> str:
        command = [str(SCRIPT), *args]
        env = dict(os.environ)
        if self.broker_config:
            env["KAFKA_LOCAL_EXTRA_CONFIG"] = "\n".join(
                f"{k}={v}" for k, v in self.broker_config.items()
            )
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False, env=env
            )
        except subprocess.TimeoutExpired as exc:
            if args[0] in {"start", "restart"}:
                subprocess.run(
                    [str(SCRIPT), "stop", "--dir", str(self.directory)],
                    capture_output=True,
                    timeout=STOP_TIMEOUT_S,
                    check=False,
                )
            raise KafkaBrokerError(
                f"`{' '.join(command)}` did not finish in {timeout:.0f}s\n{self.log_tail()}"
            ) from exc
        except OSError as exc:
            raise KafkaBrokerError(f"cannot run {SCRIPT}: {exc}") from exc
        if result.returncode != 0:
            # The script's own verdict ("kafka-local: ...") first, then everything it said.
            verdicts = [
                line.removeprefix("kafka-local: ")
                for line in result.stderr.splitlines()
                if line.startswith("kafka-local: ")
            ]
            summary = verdicts[-1] if verdicts else f"exited with {result.returncode}"
            raise KafkaBrokerError(
                f"{summary}\n`{' '.join(command)}` exited with {result.returncode}:\n"
                f"{result.stderr.strip()}\n{result.stdout.strip()}".strip()
            )
        return result.stdout

    # -- clients -----------------------------------------------------------

    def admin(self, **configs: Any) -> KafkaAdminClient:
        """A KafkaAdminClient for this broker; the caller closes it."""
        return KafkaAdminClient(bootstrap_servers=self.bootstrap, **configs)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        configs: Mapping[str, str] | None = None,
    ) -> None:
        """Create a topic that keeps its data (see :func:`create_topic`)."""
        create_topic(self.bootstrap, name, partitions, configs)

    def produce(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None = None,
        *,
        partition: int | None = None,
        timestamps_ms: Sequence[int] | None = None,
        timeout_s: float = 60.0,
    ) -> list[RecordMetadata]:
        """Produce ``values`` (with ``keys`` and event ``timestamps_ms`` if given) in order,
        flush, and return each record's metadata (partition, offset) in send order."""
        if keys is not None and len(keys) != len(values):
            raise ValueError("keys and values differ in length")
        if timestamps_ms is not None and len(timestamps_ms) != len(values):
            raise ValueError("timestamps_ms and values differ in length")
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", linger_ms=5)
        try:
            futures = [
                producer.send(
                    topic,
                    value=value,
                    key=None if keys is None else keys[i],
                    partition=partition,
                    timestamp_ms=None if timestamps_ms is None else timestamps_ms[i],
                )
                for i, value in enumerate(values)
            ]
            producer.flush(timeout=timeout_s)
            return [future.get(timeout=timeout_s) for future in futures]
        finally:
            producer.close(timeout=10)


# -- pytest glue -------------------------------------------------------------


def broker_unavailable(reason: str) -> NoReturn:
    """Fail under CI=true (the broker is part of the product's test contract), else skip."""
    first_line = next((line.strip() for line in reason.splitlines() if line.strip()), reason)
    unavailable(
        f"the Kafka broker is required under CI=true but did not start:\n{reason}",
        f"no local Kafka broker: {first_line} "
        "(`scripts/kafka-local start` reproduces it; CI=true makes this a failure)",
    )


def start_broker_for_tests(
    directory: Path, port: int | None = None, broker_config: Mapping[str, str] | None = None
) -> KafkaBroker:
    """Fetch and start a broker in ``directory`` (with extra ``broker_config``), or
    fail/skip the requesting test."""
    broker = KafkaBroker(directory, port, broker_config)
    try:
        broker.fetch()
        broker.start()
    except KafkaBrokerError as exc:
        reason = str(exc)
    else:
        return broker
    broker_unavailable(reason)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The session's broker on a free port; stopped at the end of the session."""
    broker = start_broker_for_tests(tmp_path_factory.mktemp("kafka"))
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A broker of the test's own in ``tmp_path/broker`` (for tests that stop, hang or
    restart it, which the session's broker is shared too much for); stopped at teardown."""
    broker = start_broker_for_tests(tmp_path / "broker")
    try:
        yield broker
    finally:
        broker.stop()
