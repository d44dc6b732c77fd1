"""A real Prometheus server (Debian's ``prometheus`` binary) for tests.

    with PrometheusServer(targets=["127.0.0.1:9108"]) as prom:
        prom.wait_for('up{job="drift-monitor"} == 1')
        samples = prom.query("drift_monitor_model_status")

The server listens on a free 127.0.0.1 port, scrapes every target every second
(job ``drift-monitor`` unless told otherwise), keeps its TSDB in a temporary
directory and is stopped (and the directory removed) by :meth:`stop` or by
leaving the ``with`` block. Queries go through the HTTP API with the standard
library only.

:func:`require_binary` is how tests ask for ``prometheus`` / ``promtool``:
under ``CI=true`` a missing binary fails the test (CI must install it, see
``scripts/install-services``); on a developer machine it skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.services.ports import free_port
from tests.services.required import unavailable
from tests.services.wait import WaitTimeout, wait_for

__all__ = ["PrometheusError", "PrometheusServer", "require_binary"]

Sample = dict[str, Any]


class PrometheusError(RuntimeError):
    """Prometheus did not start, or a query failed."""


def require_binary(name: str) -> str:
    """Path of executable ``name``; fail under CI=true, else skip, when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = (
            f"{name!r} is not on PATH; install Debian's 'prometheus' package "
            "(scripts/install-services does it)"
        )
        unavailable(message)
    return path


class PrometheusServer:
    """One Prometheus process scraping ``targets`` (``host:port``) every ``scrape_interval``.

    ``scrape_self`` adds a job ``prometheus`` scraping the server itself.
    ``rule_files`` are loaded (evaluated every ``scrape_interval``), so alert
    rules can be exercised against live data too.
    """

    def __init__(
        self,
        targets: Sequence[str] = (),
        *,
        job: str = "drift-monitor",
        scrape_interval: str = "1s",
        scrape_self: bool = False,
        rule_files: Sequence[str | os.PathLike[str]] = (),
        binary: str | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.targets = list(targets)
        self.job = job
        self.scrape_interval = scrape_interval
        self.scrape_self = scrape_self
        self.rule_files = [str(Path(f).resolve()) for f in rule_files]
        self.binary = binary
        self.start_timeout = start_timeout
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    # ------------------------------------------------------------------ life
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        if self.port is None:
            raise PrometheusError("PrometheusServer is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the form a scrape target takes."""
        return self.url.removeprefix("http://")

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> PrometheusServer:
        """Start the server and return once ``/-/ready`` answers 200."""
        if self._proc is not None:
            return self
        binary = self.binary or require_binary("prometheus")
        self._tmp = tempfile.TemporaryDirectory(prefix="drift-monitor-prometheus-")
        root = Path(self._tmp.name)
        # A free port can be taken between our probe and Prometheus' bind:
        # retry a few times with a new one.
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            (root / "prometheus.yml").write_text(yaml.safe_dump(self._config()))
            log = (root / "prometheus.log").open("wb")
            self._proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={root / 'prometheus.yml'}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1d",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            if self._wait_ready():
                return self
            last_error = self.log_tail()
            self._terminate()
            if "address already in use" not in last_error:
                break
        self.stop()
        raise PrometheusError(f"prometheus did not become ready:\n{last_error}")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s) and remove its files."""
        self._terminate()
        self.port = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def _wait_ready(self) -> bool:
        """True once ``/-/ready`` answers 200; False when the process exits first or
        ``start_timeout`` seconds pass."""
        proc = self._proc
        assert proc is not None

        def ready() -> bool:
            if proc.poll() is not None:
                raise PrometheusError("exited")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                    return bool(response.status == 200)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        try:
            wait_for(ready, self.start_timeout, "prometheus /-/ready")
        except (PrometheusError, WaitTimeout):
            return False
        return True

    def _config(self) -> dict[str, Any]:
        scrape_configs: list[dict[str, Any]] = []
        if self.targets:
            scrape_configs.append(
                {"job_name": self.job, "static_configs": [{"targets": self.targets}]}
            )
        if self.scrape_self:
            scrape_configs.append(
                {"job_name": "prometheus", "static_configs": [{"targets": [self.address]}]}
            )
        config: dict[str, Any] = {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": scrape_configs,
        }
        if self.rule_files:
            config["rule_files"] = self.rule_files
        return config

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's log (for failure messages)."""
        if self._tmp is None:
            return ""
        log = Path(self._tmp.name) / "prometheus.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    # ---------------------------------------------------------------- queries
    def api(self, path: str, **params: str) -> Any:
        """GET ``/api/v1/<path>`` and return its ``data``; raise PrometheusError on error."""
        query = urllib.parse.urlencode(params)
        url = f"{self.url}/api/v1/{path}" + (f"?{query}" if query else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = json.load(response)
        except urllib.error.HTTPError as err:
            # The API answers 400/422 with a JSON error body worth showing.
            detail = err.read().decode(errors="replace")
            raise PrometheusError(f"GET {url}: HTTP {err.code}: {detail}") from err
        if body.get("status") != "success":
            raise PrometheusError(f"GET {url}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query; the result samples (``metric``, ``value``) as a list.

        A scalar or string result is returned as a one-element list of
        ``{"metric": {}, "value": [ts, "v"]}`` so callers always get a list.
        """
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self.api("query", **params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[Sample] = data["result"]
        return result

    def wait_for(
        self,
        expr: str,
        timeout: float = 30.0,
        until: Callable[[list[Sample]], bool] = bool,
    ) -> list[Sample]:
        """Poll ``query(expr)`` until ``until(result)`` holds (default: non-empty);
        ``timeout`` in seconds. PrometheusError with the last result after it."""
        last: list[list[Sample]] = [[]]

        def probe() -> tuple[list[Sample]] | None:
            # A result that satisfies ``until`` may be empty: wrapped, it is truthy.
            last[0] = self.query(expr)
            return (last[0],) if until(last[0]) else None

        try:
            return wait_for(probe, timeout, repr(expr), interval=0.2)[0]
        except WaitTimeout:
            raise PrometheusError(
                f"timed out after {timeout}s waiting for {expr!r}; last result {last[0]!r}\n"
                f"targets: {self.api('targets').get('activeTargets')!r}"
            ) from None
