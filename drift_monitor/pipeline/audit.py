"""Window audit log: one JSON line per closed window (bounds, count, event ids).

Optional (``state.audit_windows``); written and fsynced before the offsets covering
the window are committed, so it accounts for every event at least once. Used by the
resilience tests to prove that no event is lost, and by operators for backfills.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from drift_monitor.evaluation.results import WindowResult
from drift_monitor.windows.store import ClosedWindow


class AuditLog:
    """Appends closed windows to ``path`` (JSON Lines)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = path.open("a", encoding="utf-8")
        # kill -9 in the middle of a write leaves a last line without its newline:
        # start on a new line, or the next window would be glued onto it (unreadable).
        if self._fh.tell() > 0:
            with path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._fh.write("\n")

    def __call__(self, result: WindowResult, window: ClosedWindow) -> None:
        """Record one evaluated window."""
        doc = {
            "model": window.model,
            "start": window.start,
            "end": window.end,
            "events": window.events,
            "status": result.status.label,
            "ids": list(window.event_ids or ()),
        }
        self._fh.write(json.dumps(doc, separators=(",", ":")) + "\n")

    def sync(self) -> None:
        """Flush to disk (called before committing offsets)."""
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Flush and close."""
        self.sync()
        self._fh.close()
