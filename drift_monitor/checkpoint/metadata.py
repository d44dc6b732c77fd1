"""The window checkpoint stored with each committed offset (Kafka commit metadata).

Per partition: ``hw``, the high-water offset processed (re-read records below it are
replays), and per model seen on the partition its ``closed_until`` (epoch seconds:
windows ending at or before it were evaluated and their effects are durable). Kafka
keeps it with the offset, so it follows the partition to whichever replica owns it next
(no local state directory is needed to resume).

Kafka caps metadata at ``offset.metadata.max.bytes`` (4096 by default). Encodings, the
first that fits :data:`METADATA_MAX` wins:

- plain JSON ``{"v":1,"hw":…,"closed":{model: closed_until}}`` (readable with
  ``kafka-consumer-groups --describe``), while it fits: a few dozen models;
- ``z2:`` base64url(zlib(JSON ``[hw, [[closed_until, [model, ...]], ...]]``)): models
  grouped by equal ``closed_until`` (they mostly share window ends), names in clear;
  about 1 500 characters for 500 models named ``model-NNN``.
- ``h2:`` base64url(zlib(binary)): hw, then per group the time and 4-byte BLAKE2b
  digests of the names; decoding maps digests back through the configured model names.
  About 2 700 characters for 500 models with any names.
- When even that does not fit, models are dropped (largest ``closed_until`` kept last):
  :meth:`CommitMetadata.encode` reports how many, and the daemon says so (log,
  ``/status`` warning, metric); those models' windows are re-evaluated after a restart.

Every encoding is read back by :meth:`CommitMetadata.decode` (version 1 is also what
earlier releases wrote).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: Characters of metadata per partition; Kafka's default limit is 4096.
METADATA_MAX = 4000
_DIGEST = 4


class MetadataError(ValueError):
    """Commit metadata that cannot be decoded (ignored with a warning by the caller)."""


@dataclass(frozen=True, slots=True)
class Encoded:
    """An encoded checkpoint: ``text`` to commit, and ``dropped`` models that did not
    fit (0 when the checkpoint is complete)."""

    text: str
    dropped: int = 0


def name_digest(model: str) -> bytes:
    """The 4-byte digest standing for ``model`` in ``h2:`` metadata."""
    return hashlib.blake2b(model.encode("utf-8"), digest_size=_DIGEST).digest()


@dataclass(frozen=True, slots=True)
class CommitMetadata:
    """``hw``: high-water offset; ``closed``: model -> closed_until (finite epoch s)."""

    hw: int
    closed: Mapping[str, float] = field(default_factory=dict)

    def encode(self, limit: int = METADATA_MAX) -> Encoded:
        """The most readable encoding within ``limit`` characters (see module doc)."""
        closed = {m: t for m, t in sorted(self.closed.items()) if math.isfinite(t)}
        text = json.dumps({"v": 1, "hw": self.hw, "closed": closed}, separators=(",", ":"))
        if len(text) <= limit:
            return Encoded(text)
        text = _z2(self.hw, closed)
        if len(text) <= limit:
            return Encoded(text)
        text = _h2(self.hw, closed)
        if len(text) <= limit:
            return Encoded(text)
        # Drop models until it fits: binary search over the kept count (sorted so the
        # ones with the oldest checkpoints go first; their replay costs the least).
        ordered = sorted(closed.items(), key=lambda kv: (kv[1], kv[0]))
        lo, hi = 0, len(ordered)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(_h2(self.hw, dict(ordered[-mid:]))) <= limit:
                lo = mid
            else:
                hi = mid - 1
        return Encoded(_h2(self.hw, dict(ordered[-lo:]) if lo else {}), len(ordered) - lo)

    @classmethod
    def decode(cls, text: str, models: Iterable[str] = ()) -> CommitMetadata:
        """Parse any version; ``models``: the configured names (to resolve ``h2:``
        digests; unknown digests are skipped). Raises :class:`MetadataError`."""
        try:
            if text.startswith("z2:"):
                hw, groups = json.loads(zlib.decompress(_unb64(text[3:])))
                closed = {str(m): float(t) for t, names in groups for m in names}
                return cls(int(hw), closed)
            if text.startswith("h2:"):
                return _decode_h2(zlib.decompress(_unb64(text[3:])), models)
            meta = json.loads(text)
            closed = {str(m): float(t) for m, t in dict(meta.get("closed", {})).items()}
            return cls(int(meta.get("hw", 0)), closed)
        except (ValueError, TypeError, AttributeError, KeyError, zlib.error, struct.error) as e:
            raise MetadataError(f"unreadable commit metadata ({e})") from None


def _groups(closed: Mapping[str, float]) -> list[tuple[float, list[str]]]:
    by_t: dict[float, list[str]] = {}
    for m, t in closed.items():
        by_t.setdefault(t, []).append(m)
    return [(t, sorted(names)) for t, names in sorted(by_t.items())]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _z2(hw: int, closed: Mapping[str, float]) -> str:
    doc = [hw, [[t, names] for t, names in _groups(closed)]]
    raw = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    return "z2:" + _b64(zlib.compress(raw, 9))


def _h2(hw: int, closed: Mapping[str, float]) -> str:
    parts = [struct.pack(">q", hw)]
    for t, names in _groups(closed):
        parts.append(struct.pack(">dI", t, len(names)))
        parts.extend(name_digest(m) for m in names)
    return "h2:" + _b64(zlib.compress(b"".join(parts), 9))


def _decode_h2(raw: bytes, models: Iterable[str]) -> CommitMetadata:
    by_digest = {name_digest(m): m for m in models}
    (hw,) = struct.unpack_from(">q", raw, 0)
    pos = 8
    closed: dict[str, float] = {}
    while pos < len(raw):
        t, n = struct.unpack_from(">dI", raw, pos)
        pos += 12
        for _ in range(n):
            name = by_digest.get(raw[pos : pos + _DIGEST])
            pos += _DIGEST
            if name is not None:
                closed[name] = t
    if pos != len(raw):
        raise MetadataError("truncated h2 metadata")
    return CommitMetadata(int(hw), closed)
