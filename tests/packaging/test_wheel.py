"""The package as users install it: build the wheel, install it into a fresh venv,
run the console script.

The wheel is built by pip with build isolation, so the `[build-system]` floor
(setuptools>=77) is what builds it (from PyPI, or pip's cache). The fresh venv gets
only the wheel (`--no-deps`); its runtime dependencies are borrowed from the project
venv through a path entry (no .pth of the project venv is processed, so the
editable install of the work tree stays invisible): fast and offline after the first
build, and the test proves the *wheel* carries the code, the console script and the
package data.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from drift_monitor import __version__

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(a) for a in args],
        check=False,
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy of the sources, so a build never writes build/ or *.egg-info into the tree.
    src = tmp_path_factory.mktemp("src")
    files = _run("git", "ls-files", "-co", "--exclude-standard").stdout.split()
    for name in files:
        path = ROOT / name
        if path.is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(path.read_bytes())
    result = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, src)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (whl,) = out.glob("drift_monitor-*.whl")
    return whl


def test_wheel_metadata(wheel: Path) -> None:
    assert wheel.name == f"drift_monitor-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = whl.read(meta_name).decode()
        entry_points = whl.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert "drift_monitor/py.typed" in names
    assert "drift_monitor/data/credit_train.csv" in names
    assert not any(n.startswith(("tests/", "deploy/", "bench/")) for n in names)
    assert "License-Expression: Apache-2.0" in meta
    assert "Requires-Python: >=3.11" in meta
    assert "Classifier: Programming Language :: Python :: 3.11" in meta
    assert "Classifier: Programming Language :: Python :: 3.12" in meta
    assert "drift-monitor = drift_monitor.cli:main" in entry_points


def test_wheel_installs_into_a_fresh_venv_and_runs(wheel: Path, tmp_path: Path) -> None:
    # Not from the work tree: `python -c` would put the cwd (and its drift_monitor/) first.
    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return _run(*args, cwd=tmp_path)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    result = run(py, "-m", "pip", "install", "--no-deps", "--no-index", wheel)
    assert result.returncode == 0, result.stderr
    # Runtime dependencies from the project venv (a plain path entry, appended after
    # the fresh venv's own site-packages, so the wheel's drift_monitor wins).
    fresh_site = Path(
        run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    )
    (fresh_site / "project-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    where = run(py, "-c", "import drift_monitor; print(drift_monitor.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout

    cli = env_dir / "bin" / "drift-monitor"
    version = run(cli, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"drift-monitor {__version__}"

    # A check on small files shipped in the wheel's package data.
    data = Path(where.stdout.strip()).parent / "data"
    baseline = tmp_path / "credit.dmb"
    built = run(
        cli,
        "baseline",
        "build",
        "--model",
        "credit",
        "--input",
        data / "credit_train.csv",
        "--out",
        baseline,
        "--prediction",
        "default_score",
        "--sample-size",
        "2000",
    )
    assert built.returncode == 0, built.stderr
    ok = run(cli, "check", "--baseline", baseline, "--input", data / "credit_production_ok.csv")
    drifted = run(
        cli,
        "check",
        "--baseline",
        baseline,
        "--input",
        data / "credit_production_drifted.csv",
        "--format",
        "json",
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert '"status": "alert"' in drifted.stdout or '"status":"alert"' in drifted.stdout
