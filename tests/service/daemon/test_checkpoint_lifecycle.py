"""Start-up and signals of ``drift-monitor run`` (issue 12 items 11 and 12, the parts
about state and signals): a state dir that is a file and a corrupt ``episodes.json``
are one-line user errors (exit 2) naming the path; SIGHUP reloads the baselines and
never kills; a stop signal is honoured within a bound even when the loop is stuck, and
then nothing is committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from drift_monitor.clock import ManualClock
from drift_monitor.daemon import Monitor
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.support import T0, make_setup


def _config_file(tmp_path: Path, state: Path) -> Path:
    cfg, _ = make_setup(tmp_path)
    doc = cfg.model_dump(mode="json", exclude_none=True)
    doc["state"]["dir"] = str(state)
    doc["kafka"]["bootstrap_servers"] = ["127.0.0.1:1"]  # never reached: start-up fails first
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _run(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "drift-monitor"), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_state_dir_that_is_a_file_is_exit_2_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "state-file"
    state.write_text("not a directory")
    done = _run(_config_file(tmp_path, state))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(state) in lines[0] and "state.dir" in lines[0]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"models": [1]}', '{"models": {"m": 3}}'])
def test_a_corrupt_episode_state_is_exit_2_naming_it(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "episodes.json").write_text(content)
    done = _run(_config_file(tmp_path, state))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(state / "episodes.json") in lines[0]
    assert "move the file away" in lines[0]


def test_sighup_reloads_baselines_and_does_not_stop(tmp_path: Path) -> None:
    cfg, _ = make_setup(tmp_path)
    mon = Monitor(cfg, MemorySource(), clock=ManualClock(T0 + 30 * 86400), serve_http=False)
    old = signal.getsignal(signal.SIGHUP)
    try:
        mon.install_signal_handlers()
        reloads: list[int] = []
        real = mon.pipeline.reload_baselines

        def counting() -> list[str]:
            reloads.append(1)
            return real()

        mon.pipeline.reload_baselines = counting  # type: ignore[method-assign]
        os.kill(os.getpid(), signal.SIGHUP)
        mon.run_once()
        mon.run_once()
        assert reloads == [1] and not mon.loop.stopping.is_set()
    finally:
        signal.signal(signal.SIGHUP, old)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        mon.shutdown()


STUCK = """
import sys, threading, time
from drift_monitor.clock import ManualClock
from drift_monitor.daemon import Monitor
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.support import T0, make_setup, stream
from pathlib import Path

cfg, _ = make_setup(Path(sys.argv[1]))
src = MemorySource()
for v in stream(2000, drift_from=10**9):
    src.append("t", v)
mon = Monitor(cfg, src, clock=ManualClock(T0 + 30 * 86400), serve_http=False)
mon.run_once()
mon.run_once()
mon.commit()
print("committed", src.committed(("t", 0)).offset, flush=True)
def stuck(records):  # the loop blocks for ever (e.g. a baseline path that is a FIFO)
    print("stuck", flush=True)
    threading.Event().wait()
mon.pipeline.process = stuck
for v in stream(100, drift_from=10**9, seed=2):
    src.append("t", v)
mon.install_signal_handlers(grace=2.0)
mon.run()
"""


def test_sigterm_is_honoured_within_the_grace_even_when_the_loop_is_stuck(
    tmp_path: Path,
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STUCK, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip(), proc.stdout.readline().strip()]
    assert lines[0].startswith("committed") and lines[1] == "stuck", lines
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    elapsed = time.monotonic() - t
    stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 1, stderr
    assert 1.5 <= elapsed < 10, elapsed
    assert "exiting without committing" in stderr
