"""Window audit log: one JSON line per closed window: the per-window record
(:meth:`~drift_monitor.evaluation.results.WindowResult.record_json`, as on the report
topic: ``type``, model, baseline version, status, every column's tests, ``window`` in
ms) plus the bounds in epoch seconds (``start``/``end``) and the event ids.

Optional (``state.audit_windows``); written before the window is acked and fsynced
before the offsets covering it are committed, so it accounts for every event at least
once. Used by the resilience tests to prove that no event is lost, and by operators for
backfills. A write that fails (disk full) is undone - the file is cut back to its last
whole line - and raised as :class:`~drift_monitor.errors.SinkError` naming the file;
the window is retried, and a window already written by this process is not written
again.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from drift_monitor.errors import SinkError
from drift_monitor.evaluation.results import WindowResult
from drift_monitor.windows.runtime import ClosedWindow


class AuditLog:
    """Appends closed windows to ``path`` (JSON Lines)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise self._error("cannot open", exc) from None
        self._written: dict[str, float] = {}
        # kill -9 in the middle of a write leaves a last line without its newline:
        # start on a new line, or the next window would be glued onto it (unreadable).
        size = os.fstat(self._fd).st_size
        if size > 0:
            with path.open("rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) != b"\n":
                    self._append(b"\n")

    def _error(self, what: str, exc: OSError) -> SinkError:
        return SinkError(
            "audit",
            str(self.path),
            f"{what} the window audit log: {exc.strerror or exc}; free space or fix "
            "permissions (retrying, nothing is committed)",
        )

    def _append(self, data: bytes) -> None:
        size = os.fstat(self._fd).st_size
        try:
            n = os.write(self._fd, data)
            if n != len(data):
                raise OSError(28, "No space left on device (short write)")
        except OSError as exc:
            # Cut a partial line off, so the file stays valid JSON Lines.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)
            raise self._error("cannot write", exc) from None

    def __call__(self, result: WindowResult, window: ClosedWindow) -> None:
        """Record one evaluated window (once per window per process)."""
        if self._written.get(window.model, float("-inf")) >= window.end:
            return
        doc = {
            **result.record_json(),
            "model": window.model,
            "start": window.start,
            "end": window.end,
            "events": window.events,
            "status": result.status.label,
            "ids": list(window.event_ids or ()),
        }
        self._append(json.dumps(doc, separators=(",", ":")).encode("utf-8") + b"\n")
        self._written[window.model] = window.end

    def append_record(self, body: bytes) -> None:
        """Append one other per-window record (a JSON object's bytes, no newline), e.g. a
        final ``window.performance`` record; the caller makes it once per window.
        SinkError when it cannot be written (the file is cut back to its last line)."""
        self._append(body + b"\n")

    def sync(self) -> None:
        """Flush to disk (called before committing offsets); SinkError on failure."""
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise self._error("cannot sync", exc) from None

    def close(self) -> None:
        """Flush and close."""
        try:
            self.sync()
        finally:
            os.close(self._fd)
