"""The daemon as a real subprocess (``drift-monitor run --config FILE``) for the
integration, resilience, incident and SRE tests: config writing, start/stop/kill, and
typed reads of its endpoints.

Nothing here sleeps to wait for a result: it polls with
:func:`tests.services.wait.wait_for`. ``wait_for``, ``WaitTimeout``, ``free_port`` and
``Metrics`` are re-exported for the tests that import them from here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.services.backends import DEFAULT as DEFAULT_CLIENT
from tests.services.metrics import Metrics
from tests.services.ports import free_port
from tests.services.wait import WaitTimeout, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
# The console script of the venv running the tests (falls back to `python -m`).
_SCRIPT = Path(sys.executable).parent / "drift-monitor"
CLI: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "drift_monitor"]

START_TIMEOUT_S = 30.0
SIGTERM_TIMEOUT_S = 20.0
__all__ = [
    "CLI",
    "DaemonConfig",
    "DaemonProcess",
    "Metrics",
    "WaitTimeout",
    "audit_ids",
    "free_port",
    "read_audit",
    "running_daemon",
    "wait_for",
]


# -- config --------------------------------------------------------------------------


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base`` (nested mappings merged, the rest replaced)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class DaemonConfig:
    """What a test varies in a daemon's YAML config; :meth:`write` renders the file.

    ``extra`` replaces whole top-level sections; ``overrides`` is then deep-merged into
    the document (webhooks, episodes, decode, logging ...)."""

    bootstrap: str
    topics: list[str]
    group_id: str
    models: list[str]
    baselines_dir: Path
    state_dir: Path
    port: int = field(default_factory=free_port)
    window_seconds: float = 60.0
    allowed_lateness_seconds: float = 2.0
    idle_timeout_seconds: float = 3.0
    min_events: int = 100
    audit_windows: bool = False
    dead_letter_topic: str | None = None
    max_event_bytes: int | None = None
    kafka_client: str = DEFAULT_CLIENT
    kafka_extra: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_document(cls, document: Mapping[str, Any]) -> DaemonConfig:
        """A config that renders exactly ``document`` (a whole config mapping with
        ``kafka``, ``baselines``, ``state``, ``http`` and ``models``, as the benchmarks
        build it); the typed fields are read from it."""
        kafka = document["kafka"]
        return cls(
            bootstrap=kafka["bootstrap_servers"][0],
            topics=list(kafka["topics"]),
            group_id=str(kafka.get("group_id", "")),
            models=[m["name"] for m in document["models"]],
            baselines_dir=Path(document["baselines"]["dir"]),
            state_dir=Path(document["state"]["dir"]),
            port=int(document["http"]["port"]),
            extra=dict(document),
        )

    def document(self) -> dict[str, Any]:
        """The YAML document: the typed fields, then ``extra``, then ``overrides``."""
        kafka: dict[str, Any] = {
            "bootstrap_servers": [self.bootstrap],
            "topics": list(self.topics),
            "group_id": self.group_id,
            "client_id": f"it-{self.group_id}",
            "client": self.kafka_client,
            "auto_offset_reset": "earliest",
            # A SIGKILLed member blocks the group's next rebalance until its session
            # expires: keep that at the broker's minimum (6 s).
            "session_timeout_ms": 6000,
            "poll_timeout_ms": 200,
            **self.kafka_extra,
        }
        if self.dead_letter_topic:
            kafka["dead_letter_topic"] = self.dead_letter_topic
        doc: dict[str, Any] = {
            "kafka": kafka,
            "baselines": {"dir": str(self.baselines_dir), "reload_interval_seconds": 3600},
            "state": {"dir": str(self.state_dir), "audit_windows": self.audit_windows},
            "http": {"host": "127.0.0.1", "port": self.port},
            "defaults": {
                "window": {
                    "type": "tumbling",
                    "size_seconds": self.window_seconds,
                    "allowed_lateness_seconds": self.allowed_lateness_seconds,
                    "idle_timeout_seconds": self.idle_timeout_seconds,
                },
                "detection": {"min_events": self.min_events},
            },
            "models": [{"name": m} for m in self.models],
            "logging": {"level": "INFO", "format": "text", "invalid_events_per_minute": 100},
        }
        if self.max_event_bytes is not None:
            doc["decode"] = {"max_event_bytes": self.max_event_bytes}
        doc.update(self.extra)
        return deep_merge(doc, self.overrides)

    def write(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump(self.document(), sort_keys=False))
        return path


# -- the process ---------------------------------------------------------------------


class DaemonProcess:
    """``drift-monitor run --config FILE`` in a subprocess; stdout+stderr go to a log
    file that is appended to across restarts (each start is marked in it). ``env`` is
    added to the process's environment (from which every ``DRIFT_MONITOR__*`` variable
    is removed, so only the config file configures it)."""

    def __init__(
        self,
        name: str,
        config: DaemonConfig,
        workdir: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.env = dict(env or {})
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = config.write(workdir / f"{name}.yaml")
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def audit_path(self) -> Path:
        return self.config.state_dir / "windows-audit.jsonl"

    def start(self, *, wait_ready: bool = True, timeout: float = START_TIMEOUT_S) -> DaemonProcess:
        """Start the process and wait up to ``timeout`` seconds for /healthz (and as
        long again for /readyz with ``wait_ready``)."""
        self.spawn()
        wait_for(
            lambda: self.probe("/healthz") == 200,
            timeout,
            f"{self.name} /healthz",
            on_timeout=self.log_tail,
        )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def spawn(self) -> DaemonProcess:
        """Start the process without waiting for it (several daemons start together)."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        with self.log_path.open("ab") as fh:
            fh.write(f"\n===== start #{self.starts} of {self.name} =====\n".encode())
            env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_MONITOR__")}
            env.update({"PYTHONUNBUFFERED": "1", **self.env})
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config_path)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
            )
        return self

    def probe(self, path: str) -> int | None:
        """Status code of ``path`` (None when nothing answers); AssertionError once the
        process has exited."""
        self._assert_alive(path)
        try:
            return self.get(path)[0]
        except OSError:
            return None

    def _assert_alive(self, path: str) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.proc.returncode} while waiting for {path}\n"
                + self.log_tail()
            )

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until /readyz is 200 (baselines loaded, Kafka connected, partitions assigned)."""
        wait_for(
            lambda: self.probe("/readyz") == 200,
            timeout,
            f"{self.name} /readyz",
            on_timeout=self.log_tail,
        )

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """(status code, body) of GET ``path``; raises OSError when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def metrics(self) -> Metrics:
        code, body = self.get("/metrics")
        assert code == 200, f"/metrics answered {code}"
        return Metrics.parse(body.decode())

    def try_metrics(self) -> Metrics | None:
        """Like :meth:`metrics`, None while nothing answers; AssertionError once the
        process has exited."""
        self._assert_alive("/metrics")
        try:
            code, body = self.get("/metrics")
        except OSError:
            return None
        return Metrics.parse(body.decode()) if code == 200 else None

    def try_counted(self) -> float | None:
        """Events counted so far (``events_total`` of every outcome, summed over the
        models in /status: an event of no model, e.g. one invalid before its model was
        known, is not in it); None while nothing answers. /status costs the daemon ~5 ms
        to render against ~20 ms for /metrics at 8 models (and a tenth of the parsing
        here): the sampler to use when sampling often."""
        self._assert_alive("/status")
        try:
            code, body = self.get("/status")
        except OSError:
            return None
        if code != 200:
            return None
        doc = json.loads(body)
        return float(sum(sum(m["events"].values()) for m in doc["models"].values()))

    def health(self) -> tuple[int | None, float]:
        """(/readyz status, ``kafka_connected`` or -1 when absent), asserting that the
        process is alive and /healthz answers 200 (whatever the broker does)."""
        assert self.running(), f"{self.name} died\n{self.log_tail()}"
        healthz = self.probe("/healthz")
        assert healthz == 200, f"/healthz answered {healthz}\n{self.log_tail()}"
        readyz = self.probe("/readyz")
        return readyz, self.metrics().value("drift_monitor_kafka_connected", default=-1.0)

    def wait_health(self, want: tuple[int, float], deadline: float, what: str) -> float:
        """Poll :meth:`health` every 0.25 s until it is ``want`` (within ``deadline``
        seconds); returns the seconds it took."""
        t0 = time.monotonic()
        wait_for(
            lambda: self.health() == want,
            deadline,
            f"{self.name}: /readyz {want[0]} and kafka_connected {want[1]:.0f} {what}",
            interval=0.25,
            on_timeout=self.log_tail,
        )
        return time.monotonic() - t0

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200, f"/status answered {code}"
        doc: dict[str, Any] = json.loads(body)
        return doc

    def accepted(self, model: str | None = None) -> float:
        """``events_total{outcome="accepted"}`` (of ``model``, or summed over models)."""
        labels = {"outcome": "accepted"} | ({"model": model} if model else {})
        return self.metrics().total("drift_monitor_events_total", **labels)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def sigterm(self, timeout: float = SIGTERM_TIMEOUT_S) -> int:
        """SIGTERM; assert the process exits with 0 within ``timeout`` seconds."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError(
                f"{self.name} did not exit within {timeout:.0f}s of SIGTERM\n{self.log_tail()}"
            ) from None
        assert code == 0, f"{self.name} exited with {code} after SIGTERM\n{self.log_tail()}"
        return code

    def stop(self, timeout: float = SIGTERM_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds (no check of the exit code;
        nothing to do when the process is not running)."""
        if not self.running():
            return
        assert self.proc is not None
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def sigkill(self) -> None:
        """kill -9, and reap it."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cleanup(self) -> None:
        """Kill a process a test left running (teardown)."""
        if self.running():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"({self.name}: no log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"----- last {lines} lines of {self.log_path} -----\n{tail}"


@contextmanager
def running_daemon(daemon: DaemonProcess, *, wait_ready: bool = False) -> Iterator[DaemonProcess]:
    """``daemon`` started (/healthz answering; /readyz too with ``wait_ready``) and
    stopped with :meth:`DaemonProcess.stop` on exit; its log tail is printed when the
    block fails."""
    try:
        daemon.start(wait_ready=wait_ready)
        yield daemon
    except BaseException:
        print(daemon.log_tail(120))
        raise
    finally:
        daemon.stop()


# -- the window audit log ------------------------------------------------------------


def read_audit(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a window audit log (a line cut by kill -9 is skipped)."""
    try:
        raw = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in raw.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # the last line of a killed writer
    return out


def audit_ids(windows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """event id -> how many audited windows hold it."""
    counts: dict[str, int] = {}
    for w in windows:
        for i in w["ids"]:
            counts[i] = counts.get(i, 0) + 1
    return counts
