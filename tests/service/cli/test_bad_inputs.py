"""Bad configuration and baselines: each is one clear line naming the field or file,
exit code 2, and no secret in the output. Runs the real console script."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
import pytest

from drift_monitor.baseline import build_baseline, save_baseline
from drift_monitor.cli import main

ROOT = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-m", "drift_monitor"]
SECRET = "whsec_c3VwZXItc2VjcmV0LXZhbHVlLTQy"  # must never be printed
GOOD_KAFKA = "kafka: {bootstrap_servers: ['127.0.0.1:1'], topics: [t]}\n"
MODELS = "models: [{name: m}]\n"

CONFIGS: dict[str, tuple[str, str]] = {
    # name: (yaml, text the one-line error must contain)
    "wrong type": (
        GOOD_KAFKA + "models: [{name: m, window: {size_seconds: soon}}]\n",
        "models.0.window.size_seconds",
    ),
    "unknown key": (GOOD_KAFKA + MODELS + "htpp: {port: 1}\n", "htpp: unknown field"),
    "misspelled nested key": (
        GOOD_KAFKA + "models: [{name: m, windw: {}}]\n",
        "models.0.windw: unknown field",
    ),
    "missing required section": (MODELS, "kafka: required field is missing"),
    "missing required field": (
        "kafka: {topics: [t]}\n" + MODELS,
        "kafka.bootstrap_servers: required field is missing",
    ),
    "empty models": (GOOD_KAFKA + "models: []\n", "models"),
    "bad webhook url": (
        GOOD_KAFKA + MODELS + "webhooks: {targets: [{name: h, url: 'ftp://x/y', "
        f"secret: {{value: '{SECRET}'}}}}]}}\n",
        "webhooks.targets.0.url",
    ),
    "bad port": (GOOD_KAFKA + MODELS + "http: {port: 70000}\n", "http.port"),
    "negative lateness": (
        GOOD_KAFKA + "models: [{name: m, window: {allowed_lateness_seconds: -1}}]\n",
        "allowed_lateness_seconds",
    ),
    "alert below warning": (
        GOOD_KAFKA + "models: [{name: m, detection: {thresholds: {psi: {warning: 0.3, "
        "alert: 0.1}}}}]\n",
        "alert (0.1) must be >= warning (0.3)",
    ),
    "bad correction": (
        GOOD_KAFKA + "models: [{name: m, detection: {correction: holm}}]\n",
        "correction",
    ),
    "invalid yaml": (GOOD_KAFKA + "models: [{name: m\n", "invalid YAML at line"),
    "not a mapping": ("- just\n- a list\n", "must be a mapping"),
    "unreadable secret file": (
        GOOD_KAFKA + MODELS + "webhooks: {targets: [{name: hook, url: 'http://x/', "
        "secret: {file: /nonexistent/secret}}]}\n",
        "hook",
    ),
    "unset secret env": (
        GOOD_KAFKA + MODELS + "webhooks: {targets: [{name: hook, url: 'http://x/', "
        "secret: {env: DRIFT_MONITOR_TEST_UNSET_SECRET}}]}\n",
        "DRIFT_MONITOR_TEST_UNSET_SECRET",
    ),
    "secret given twice": (
        GOOD_KAFKA + MODELS + "webhooks: {targets: [{name: hook, url: 'http://x/', "
        f"secret: {{env: X, value: '{SECRET}'}}}}]}}\n",
        "webhooks.targets.0.secret",
    ),
    "duplicate model": (GOOD_KAFKA + "models: [{name: m}, {name: m}]\n", "configured twice"),
}


#: Cases also run through the real console script in a subprocess (the rest in-process
#: through the same ``main``; a subprocess costs ~2 s on this machine).
SUBPROCESS_CASES = {"unknown key", "unreadable secret file", "invalid yaml", "wrong type"}


def run(
    *args: str, env: dict[str, str] | None = None, subprocess_: bool = False
) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_MONITOR")}
    e.update(env or {})
    if subprocess_:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, timeout=60, env=e, cwd=ROOT, check=False
        )
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, e, clear=True), redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def assert_one_line_error(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [
        ln
        for ln in proc.stderr.splitlines()
        if "DeprecationWarning" not in ln and "read_text" not in ln and ln.strip()
    ]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("drift-monitor: error: ")
    assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout
    assert "super-secret" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("command", ["validate", "run"])
def test_invalid_config(tmp_path: Path, name: str, command: str) -> None:
    text, needle = CONFIGS[name]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(text)
    args = (
        ["config", "validate", str(cfg)] if command == "validate" else ["run", "--config", str(cfg)]
    )
    proc = run(*args, subprocess_=command == "run" and name in SUBPROCESS_CASES)
    assert_one_line_error(proc, needle)
    if needle not in ("invalid YAML at line", "must be a mapping"):
        assert str(cfg) in proc.stderr


def test_invalid_env_override(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(GOOD_KAFKA + MODELS)
    proc = run("config", "validate", str(cfg), env={"DRIFT_MONITOR__HTTP__PORT": "many"})
    assert_one_line_error(proc, "http.port")
    proc = run("config", "validate", str(cfg), env={"DRIFT_MONITOR__MODELS__5__NAME": "x"})
    assert_one_line_error(proc, "DRIFT_MONITOR__MODELS__5__NAME")


@pytest.fixture(scope="module")
def baseline_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    path = tmp_path_factory.mktemp("b") / "m.dmb"
    save_baseline(build_baseline(df, "m", version="v1"), path)
    df.head(500).to_csv(path.parent / "window.csv", index=False)
    return path


#: A baseline file's zip members: name -> bytes.
Members = dict[str, bytes]


def _rezip(src: Path, dst: Path, edit: Callable[[Members], Members]) -> None:
    with zipfile.ZipFile(src) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    members = edit(members)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for n, data in members.items():
            zout.writestr(n, data)
    dst.write_bytes(buf.getvalue())


def _manifest_edit(fn: Callable[[dict[str, Any]], object]) -> Callable[[Members], Members]:
    def edit(members: Members) -> Members:
        doc = json.loads(members["baseline.json"])
        fn(doc)
        return {**members, "baseline.json": json.dumps(doc).encode()}

    return edit


BASELINES: dict[str, tuple[Callable[[Path, Path], object], str]] = {
    "truncated": (
        lambda p, d: d.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        "truncated",
    ),
    "empty file": (lambda p, d: d.write_bytes(b""), "not a readable baseline"),
    "tampered number": (
        lambda p, d: _rezip(
            p, d, _manifest_edit(lambda doc: doc["columns"][0].update(missing_ratio=0.5))
        ),
        "checksum mismatch",
    ),
    "tampered array": (
        lambda p, d: _rezip(
            p, d, lambda m: {**m, "reference/0.npy": m["reference/0.npy"][:-8] + b"\0" * 8}
        ),
        "checksum mismatch",
    ),
    "wrong schema version": (
        lambda p, d: _rezip(p, d, _manifest_edit(lambda doc: doc.update(schema_version=99))),
        "schema_version 99",
    ),
    "not a baseline zip": (
        lambda p, d: _rezip(p, d, lambda m: {"other.txt": b"x"}),
        "no baseline.json",
    ),
    "text file": (lambda p, d: d.write_text("model,version\n"), "not a readable baseline"),
}


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_corrupt_baseline(tmp_path: Path, baseline_file: Path, name: str) -> None:
    make, needle = BASELINES[name]
    bad = tmp_path / "bad.dmb"
    make(baseline_file, bad)
    for args in (
        ["baseline", "show", str(bad)],
        ["check", "--baseline", str(bad), "--input", str(baseline_file.parent / "window.csv")],
    ):
        proc = run(*args, subprocess_=name == "truncated")
        assert_one_line_error(proc, needle)
        assert str(bad) in proc.stderr


def test_missing_baseline_for_a_model_does_not_stop_the_daemon_config(tmp_path: Path) -> None:
    # validate accepts it (the file may arrive later); the daemon reports unknown_model
    cfg = tmp_path / "config.yaml"
    cfg.write_text(GOOD_KAFKA + MODELS)
    proc = run("config", "validate", str(cfg))
    assert proc.returncode == 0, proc.stderr
