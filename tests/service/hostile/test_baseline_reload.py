"""Item 6 of issue 12: a crafted baseline copied into a running daemon's directory keeps
the previous baseline, and no failure of the loader can stop the consume loop."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from drift_monitor.clock import ManualClock
from drift_monitor.daemon import Monitor
from drift_monitor.pipeline import baselines as baselines_module
from drift_monitor.source.memory import MemorySource
from tests.service.daemon.support import T0, make_setup, run, stream
from tests.unit.baseline import crafted as cr
from tests.unit.baseline.test_baseline_crafted import VARIANTS

NOW = T0 + 3600.0


def replace(path: Path, new: Path) -> None:
    """Swap ``new`` in for ``path`` with a different mtime, as a deploy would."""
    os.replace(new, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


def reload_through_the_loop(mon: Monitor) -> None:
    mon._post("reload")
    mon.run_once()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_crafted_file_keeps_the_previous_baseline(variant: str, tmp_path: Path) -> None:
    cfg, _ = make_setup(tmp_path)
    path = tmp_path / "baselines" / "m.dmb"
    src = MemorySource()
    events = stream(6000, drift_from=6000)
    for v in events[:3000]:
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(NOW), serve_http=False)
    run(mon, 5)
    before = mon.pipeline.baselines.get("m")
    assert before is not None
    mutate, field = VARIANTS[variant]
    crafted = cr.craft(path, tmp_path / "crafted.dmb", mutate)
    replace(path, crafted)

    reload_through_the_loop(mon)

    after = mon.pipeline.baselines.get("m")
    assert after is not None and after.baseline is before.baseline
    assert field in mon.pipeline.baselines.errors["m"]
    for v in events[3000:]:
        src.append("t", v, key=b"m")
    run(mon)
    reg = mon.registry
    accepted = {"model": "m", "outcome": "accepted"}
    assert reg.get_sample_value("drift_monitor_events_total", accepted) == 6000
    assert reg.get_sample_value("drift_monitor_model_status", {"model": "m"}) == 0
    assert reg.get_sample_value("drift_monitor_baseline_info", {"model": "m", "version": "v1"})


def test_an_unexpected_loader_exception_cannot_kill_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg, _ = make_setup(tmp_path)
    path = tmp_path / "baselines" / "m.dmb"
    src = MemorySource()
    events = stream(3000, drift_from=3000)
    for v in events[:1500]:
        src.append("t", v, key=b"m")
    mon = Monitor(cfg, src, clock=ManualClock(NOW), serve_http=False)
    run(mon, 5)
    before = mon.pipeline.baselines.get("m")
    assert before is not None

    def broken(p: object) -> object:
        raise RuntimeError("a bug in the loader")

    monkeypatch.setattr(baselines_module, "load_baseline", broken)
    cr.write_clean(tmp_path / "v2.dmb", version="v2")
    replace(path, tmp_path / "v2.dmb")
    reload_through_the_loop(mon)  # must not raise

    got = mon.pipeline.baselines.get("m")
    assert got is not None and got.baseline is before.baseline
    assert "RuntimeError" in mon.pipeline.baselines.errors["m"]
    for v in events[1500:]:
        src.append("t", v, key=b"m")
    run(mon)
    accepted = {"model": "m", "outcome": "accepted"}
    assert mon.registry.get_sample_value("drift_monitor_events_total", accepted) == 3000

    monkeypatch.undo()  # the loader is fixed: the next reload takes v2
    reload_through_the_loop(mon)
    got = mon.pipeline.baselines.get("m")
    assert got is not None and got.baseline.version == "v2"
    assert "m" not in mon.pipeline.baselines.errors


def test_a_fifo_in_place_of_the_baseline_does_not_block(tmp_path: Path) -> None:
    cfg, _ = make_setup(tmp_path)
    path = tmp_path / "baselines" / "m.dmb"
    mon = Monitor(cfg, MemorySource(), clock=ManualClock(NOW), serve_http=False)
    run(mon, 2)
    path.unlink()
    os.mkfifo(path)
    worker = threading.Thread(target=reload_through_the_loop, args=(mon,), daemon=True)
    worker.start()
    worker.join(5)
    blocked = worker.is_alive()
    if blocked:  # release the reader so the thread ends
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    assert not blocked, "reading a FIFO baseline blocked the loop"
    assert "not a regular file" in mon.pipeline.baselines.errors["m"]
    assert mon.pipeline.baselines.get("m") is not None
