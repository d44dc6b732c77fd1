"""The daemon as a real subprocess (``drift-monitor run --config FILE``), a webhook
receiver, and polling helpers for the SRE tests.

Nothing here sleeps waiting for a result: :func:`wait_for` polls a condition with a
deadline and names what it waited for (and what it saw last) when it gives up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import yaml
from prometheus_client.parser import text_string_to_metric_families

_SCRIPT = Path(sys.executable).parent / "drift-monitor"
CLI: list[str] = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "drift_monitor"]

START_TIMEOUT_S = 30.0
T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A polled condition did not hold before its deadline."""


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    *,
    interval: float = 0.1,
    on_timeout: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy and return that; raise
    :class:`WaitTimeout` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = on_timeout() if on_timeout is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}\n{extra}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_metrics(text: str) -> Samples:
    """sample name -> [(labels, value)] of one /metrics scrape."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    return out


def sample_sum(samples: Samples, name: str, **labels: str) -> float:
    return sum(
        v
        for lab, v in samples.get(name, [])
        if all(lab.get(k) == want for k, want in labels.items())
    )


def daemon_config(
    *,
    bootstrap: str,
    topic: str,
    group_id: str,
    baselines_dir: Path,
    state_dir: Path,
    port: int,
    window_seconds: float,
    idle_timeout_seconds: float = 2.0,
    min_events: int = 100,
    enter_after: int = 2,
    dead_letter_topic: str | None = None,
    webhook_url: str | None = None,
) -> dict[str, Any]:
    """A daemon config document for model ``credit`` on ``topic``."""
    kafka: dict[str, Any] = {
        "bootstrap_servers": [bootstrap],
        "topics": [topic],
        "group_id": group_id,
        "client_id": f"sre-{group_id}",
        "auto_offset_reset": "earliest",
        # The broker's minimum, so a rejoin after an outage is quick.
        "session_timeout_ms": 6000,
        "poll_timeout_ms": 200,
    }
    if dead_letter_topic:
        kafka["dead_letter_topic"] = dead_letter_topic
    doc: dict[str, Any] = {
        "kafka": kafka,
        "baselines": {"dir": str(baselines_dir), "reload_interval_seconds": 3600},
        "state": {"dir": str(state_dir)},
        "http": {"host": "127.0.0.1", "port": port},
        "models": [
            {
                "name": "credit",
                "window": {
                    "type": "tumbling",
                    "size_seconds": window_seconds,
                    "allowed_lateness_seconds": 0,
                    "idle_timeout_seconds": idle_timeout_seconds,
                },
                "detection": {"min_events": min_events},
                "episodes": {"enter_after": enter_after, "resolve_after": 3},
            }
        ],
        "logging": {"level": "INFO", "format": "text", "invalid_events_per_minute": 100},
    }
    if webhook_url:
        doc["webhooks"] = {
            "targets": [
                {
                    "name": "retraining",
                    "url": webhook_url,
                    "secret": {"env": "SRE_TEST_WEBHOOK_SECRET"},
                    "timeout_seconds": 5,
                }
            ]
        }
    return doc


WEBHOOK_SECRET = "whsec_c3JlLXRlc3Qtd2ViaG9vay1zZWNyZXQtMDEyMzQ1"


class DaemonProcess:
    """``drift-monitor run --config FILE`` with its output in ``<workdir>/daemon.log``."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "daemon.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = workdir / "daemon.log"
        self.port = int(config["http"]["port"])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> DaemonProcess:
        """Start the process and wait until /healthz answers."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "SRE_TEST_WEBHOOK_SECRET": WEBHOOK_SECRET}
        env = {k: v for k, v in env.items() if not k.startswith("DRIFT_MONITOR__")}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [*CLI, "run", "--config", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
            )
        wait_for(
            lambda: self.probe("/healthz") == 200,
            START_TIMEOUT_S,
            "/healthz of the daemon",
            on_timeout=self.log_tail,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """(status, body) of GET ``path``; OSError when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def probe(self, path: str) -> int | None:
        """Status code of ``path`` (None when nothing answers); AssertionError once the
        process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(
                f"the daemon exited with {self.proc.returncode}\n{self.log_tail()}"
            )
        try:
            return self.get(path)[0]
        except OSError:
            return None

    def metrics(self) -> Samples:
        code, body = self.get("/metrics")
        assert code == 200, f"/metrics answered {code}"
        return parse_metrics(body.decode())

    def status(self) -> dict[str, Any]:
        code, body = self.get("/status")
        assert code == 200, f"/status answered {code}"
        doc: dict[str, Any] = json.loads(body)
        return doc

    def accepted(self) -> float:
        return sample_sum(self.metrics(), "drift_monitor_events_total", outcome="accepted")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no daemon log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"----- last {lines} lines of {self.log_path} -----\n{tail}"


@contextmanager
def running_daemon(config: dict[str, Any], workdir: Path) -> Iterator[DaemonProcess]:
    """A started daemon, stopped on exit; its log tail is printed when the block fails."""
    daemon = DaemonProcess(config, workdir)
    try:
        daemon.start()
        yield daemon
    except BaseException:
        print(daemon.log_tail(120))
        raise
    finally:
        daemon.stop()


class WebhookReceiver:
    """A stdlib HTTP server on 127.0.0.1 answering 200 to every POST; keeps the bodies."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                received.headers.append({k.lower(): v for k, v in self.headers.items()})
                received.raw.append(body)
                received.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/retrain"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
