"""``drift_monitor_memory_limit_bytes``: the container's memory limit, read from its cgroup.

``process_resident_memory_bytes`` alone cannot say "near the limit": the limit lives in
the cgroup (Kubernetes ``resources.limits.memory``, ``docker run --memory``). Read at
scrape time, like client_python's process collector reads ``/proc``; nothing is rendered
when there is no finite limit (no cgroup, ``max``, or the kernel's "unlimited" value), so
an alert dividing by it stays silent instead of dividing by a huge number.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

#: cgroup v2 first, then v1 (both as seen from inside the container's cgroup namespace).
_LIMIT_FILES = ("memory.max", "memory/memory.limit_in_bytes")
#: cgroup v1 reports "unlimited" as a page-rounded LONG_MAX; anything above 2**60 bytes
#: (1 EiB) is no real limit.
_UNLIMITED = 2**60


def memory_limit_bytes(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup memory limit in bytes, or None when there is none or it is unreadable."""
    for name in _LIMIT_FILES:
        try:
            text = (root / name).read_text().strip()
        except OSError:
            continue
        if text == "max":
            return None
        try:
            value = int(text)
        except ValueError:
            continue
        return value if 0 < value < _UNLIMITED else None
    return None


class CgroupMemoryCollector(Collector):
    """Renders ``drift_monitor_memory_limit_bytes`` when a finite limit exists."""

    def __init__(self, root: Path = Path("/sys/fs/cgroup")) -> None:
        self._root = root

    def collect(self) -> Iterable[Metric]:
        """One gauge without labels, or an empty family without a limit."""
        family = GaugeMetricFamily(
            "drift_monitor_memory_limit_bytes",
            "Memory limit of the process's cgroup (container), in bytes; absent when unlimited",
        )
        limit = memory_limit_bytes(self._root)
        if limit is not None:
            family.add_metric([], limit)
        yield family
