"""The label join's durable, append-only operation log (one file).

Layout: a 12-byte header (``HEADER``: magic ``DMJOIN\\0\\0`` and a little-endian u32
format version), then frames. A frame is ``u32 length, u32 crc32(payload), payload``
(little-endian); a payload is ``u32 n, n bytes of JSON (orjson), then binary blobs``:
numpy arrays referenced from the JSON as ``[dtype, shape, offset, nbytes]`` (offsets
from the blobs' start), so floats round-trip exactly (NaN and infinities included) and
cost a copy rather than a text conversion.

A frame is written with one ``pwrite`` at the end of the last good frame, then
``fdatasync`` when the log is ``durable``; a frame that did not finish (kill -9 or
power loss mid-write: short, or a bad crc) is the tail that was never acknowledged, and
opening the log truncates it with a warning. :meth:`JoinLog.replace` swaps in a new log
(compaction: a snapshot frame) atomically: temp file, fsync, rename, fsync of the
directory. The file is locked (``flock``) while open: a second process (or a second
store in this one) cannot open it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

log = logging.getLogger("drift_monitor.labels")

MAGIC = b"DMJOIN\x00\x00"
VERSION = 1
HEADER = MAGIC + struct.pack("<I", VERSION)
_FRAME = struct.Struct("<II")
_U32 = struct.Struct("<I")


class NotAJoinLog(Exception):
    """The file exists but is not a join log of this format (message says why)."""


class LockedLog(Exception):
    """Another open store holds the file's lock."""


class Blobs:
    """Collects numpy arrays for one payload (:func:`encode`); ``add`` returns the
    JSON reference that :func:`decode`'s ``get`` turns back into the array."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, a: np.ndarray) -> list[Any]:
        a = np.ascontiguousarray(a)
        data = a.tobytes()
        ref = [a.dtype.str, list(a.shape), self.size, len(data)]
        self.parts.append(data)
        self.size += len(data)
        return ref


def encode(doc: Any, blobs: Blobs) -> bytes:
    """One payload: ``doc`` (JSON-able, blob references inside) and ``blobs``."""
    head = orjson.dumps(doc)
    return b"".join([_U32.pack(len(head)), head, *blobs.parts])


class Payload:
    """A decoded payload: ``doc`` and :meth:`get` for its arrays (copies)."""

    def __init__(self, data: bytes) -> None:
        (n,) = _U32.unpack_from(data)
        self.doc = orjson.loads(data[4 : 4 + n])
        self._data = memoryview(data)[4 + n :]

    def get(self, ref: list[Any]) -> np.ndarray:
        dtype, shape, offset, nbytes = ref
        raw = self._data[offset : offset + nbytes]
        return np.frombuffer(raw, dtype=np.dtype(dtype)).reshape(shape).copy()


def num(x: float) -> float | str:
    """A float for JSON: non-finite ones as their repr (``float(...)`` reads them back)."""
    return x if x - x == 0.0 else repr(float(x))


class JoinLog:
    """The log file at ``path``: :meth:`open` (replay), :meth:`append`,
    :meth:`frames` (re-read), :meth:`replace` (compaction). OSError from the file
    system propagates (the store turns it into SinkError)."""

    def __init__(self, path: Path, *, durable: bool) -> None:
        self.path = path
        self.durable = durable
        self.fd = -1
        self.end = 0  # end of the last good frame: where the next one goes

    def open(self) -> Iterator[bytes]:
        """Create the file (header only) or validate it, lock it, and yield the good
        frames' payloads; a torn or corrupt tail is truncated (with a warning)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._create(self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedLog from None
        self.fd = fd
        self.end = len(HEADER)
        # a compaction that a crash interrupted before its rename (only the lock holder
        # writes it)
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)
        with open(self.path, "rb") as fh:
            head = fh.read(len(HEADER))
            if head[: len(MAGIC)] != MAGIC:
                raise NotAJoinLog("not a drift-monitor label join log (bad magic)")
            if head != HEADER:
                version = _U32.unpack(head[len(MAGIC) :])[0] if len(head) == 12 else None
                raise NotAJoinLog(f"join log format version {version}, this build reads {VERSION}")
            yield from self._read(fh, truncate=True)

    def frames(self) -> Iterator[bytes]:
        """Re-read the good frames (up to :attr:`end`), e.g. to rebuild the state."""
        with open(self.path, "rb") as fh:
            fh.seek(len(HEADER))
            yield from self._read(fh, truncate=False)

    def _read(self, fh: Any, *, truncate: bool) -> Iterator[bytes]:
        pos = len(HEADER)
        limit = os.fstat(fh.fileno()).st_size if truncate else self.end
        while pos < limit:
            head = fh.read(_FRAME.size)
            bad = len(head) < _FRAME.size
            payload = b""
            if not bad:
                length, crc = _FRAME.unpack(head)
                # (a payload is never empty: a zero length is zeros where a frame was due)
                bad = length < 4 or pos + _FRAME.size + length > limit
                if not bad:
                    payload = fh.read(length)
                    bad = len(payload) < length or zlib.crc32(payload) != crc
            if bad:
                if not truncate:
                    raise OSError(f"join log changed under us at offset {pos}")
                log.warning(
                    "label join log %s: torn or corrupt frame at offset %d (%d bytes "
                    "dropped): a write that never completed (crash mid-flush); its "
                    "batch was not acknowledged and is re-read from Kafka",
                    self.path,
                    pos,
                    limit - pos,
                )
                os.ftruncate(self.fd, pos)
                os.fsync(self.fd)
                break
            pos += _FRAME.size + len(payload)
            if truncate:
                self.end = pos
            yield payload

    def append(self, payload: bytes) -> None:
        """Write one frame after the last good one (fdatasync when durable). On failure
        the file is cut back to the last good frame (best effort) and OSError raised."""
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        try:
            done = 0
            while done < len(frame):
                done += os.pwrite(self.fd, memoryview(frame)[done:], self.end + done)
            if self.durable:
                os.fdatasync(self.fd)
        except OSError:
            # best effort: the next pwrite goes at self.end anyway; a reopen truncates
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.end)
            raise
        self.end += len(frame)

    def replace(self, payload: bytes) -> None:
        """Atomically replace the log by a new one holding ``payload`` (one frame),
        always fsynced (compaction: the snapshot must never be lost)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        frame = _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            data = HEADER + frame
            done = 0
            while done < len(data):
                done += os.pwrite(fd, memoryview(data)[done:], done)
            os.fsync(fd)
            os.replace(tmp, self.path)
        except OSError:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)
        os.close(self.fd)
        self.fd = fd
        self.end = len(HEADER) + len(frame)

    def _create(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(HEADER)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    @property
    def size(self) -> int:
        """Bytes of the log (header and good frames)."""
        return self.end

    def close(self) -> None:
        """Close (and unlock) the file."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
