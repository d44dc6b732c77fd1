"""Render the report in headless Chromium (Debian's ``chromium``, installed by
scripts/install-services). Outside CI a machine without it skips; under ``CI=true`` a
missing Chromium is a failure, like every other service the suite needs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from drift_monitor import Baseline
from drift_monitor.evaluation import WindowResult
from drift_monitor.report import write_report
from drift_monitor.windows.data import WindowData

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None and os.environ.get("CI") != "true",
        reason="headless Chromium is not installed (scripts/install-services installs it)",
    ),
]


def test_report_renders_to_a_non_trivial_png(
    tmp_path: Path, credit_baseline: Baseline, drifted: tuple[WindowResult, WindowData]
) -> None:
    assert CHROMIUM is not None, "CI=true: Chromium missing; run scripts/install-services"
    result, window = drifted
    page = tmp_path / "report.html"
    write_report(page, result, credit_baseline, window)
    png = tmp_path / "report.png"
    profile = tmp_path / "profile"
    profile.mkdir()
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,3000",
        f"--screenshot={png}",
        page.as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.exists(), done.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert (width, height) == (1400, 3000)
    # a blank or error page compresses to a few kB; the report's charts do not
    assert len(data) > 50_000
