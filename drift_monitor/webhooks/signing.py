"""Standard Webhooks signatures: ``sign`` for the sender, ``verify`` for receivers.

The scheme (https://www.standardwebhooks.com/): three headers ::

    webhook-id: <message id, identical on every retry of one message>
    webhook-timestamp: <integer seconds since the Unix epoch of this attempt>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,... ...]

A secret is either ``whsec_<base64>`` (the key is the decoded bytes, the form the
official ``standardwebhooks`` libraries expect) or any other string, whose UTF-8 bytes
are the key. During a key rotation the sender signs with every current secret and the
signature header carries one space-separated ``v1,...`` entry per secret; a receiver
accepts the message when any entry matches any secret it knows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from drift_monitor.clock import SystemClock
from drift_monitor.errors import WebhookError

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
DEFAULT_TOLERANCE_SECONDS = 300.0

Secret = str | bytes
"""A signing secret: ``whsec_<base64>``, any other string (its UTF-8 bytes), or raw key bytes."""


class SignatureError(WebhookError):
    """A webhook request does not verify: missing header, stale timestamp or bad signature.

    The message says which check failed; it never contains a secret or the body.
    """


class HeaderSource(Protocol):
    """Anything with ``items()`` of (name, value): a dict, ``http.client.HTTPMessage``, ..."""

    def items(self) -> Iterable[tuple[str, str]]:
        """(name, value) pairs; names are compared case-insensitively."""
        ...


def secret_key(secret: Secret) -> bytes:
    """The HMAC key of ``secret``.

    ``whsec_<base64>`` -> the base64-decoded bytes; any other string -> its UTF-8 bytes;
    bytes are used as they are. Raises ``SignatureError`` (without the secret in the
    message) for a ``whsec_`` secret whose remainder is not valid base64, or an empty key.
    """
    if isinstance(secret, bytes):
        key = secret
    elif secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise SignatureError(
                "webhook secret starts with 'whsec_' but the rest is not valid base64; "
                'generate one with: python -c "import base64,os;'
                "print('whsec_'+base64.b64encode(os.urandom(32)).decode())\""
            ) from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise SignatureError("webhook secret is empty")
    return key


def _signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _as_list(secrets: Secret | Sequence[Secret]) -> list[Secret]:
    if isinstance(secrets, str | bytes):
        return [secrets]
    return list(secrets)


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def _check_msg_id(msg_id: str) -> None:
    # The id goes into an HTTP header and into the signed string: visible ASCII only.
    if not msg_id or not all(0x21 <= ord(c) <= 0x7E for c in msg_id):
        raise ValueError(f"webhook id must be non-empty visible ASCII, got {msg_id!r}")


def sign(
    secrets: Secret | Sequence[Secret], msg_id: str, timestamp: float, body: bytes | str
) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt.

    ``secrets``: one secret or several (key rotation: one ``v1,`` entry per secret, in
    the given order, space-separated). ``msg_id``: the message id, the same on every
    retry. ``timestamp``: seconds since the epoch of this attempt; fractions are dropped
    (the header carries an integer). ``body``: exactly the bytes that will be sent (a
    str is encoded as UTF-8). Raises ``ValueError`` for no secret or an id that is not
    visible ASCII, ``SignatureError`` for a malformed ``whsec_`` secret.
    """
    keys = [secret_key(s) for s in _as_list(secrets)]
    if not keys:
        raise ValueError("sign() needs at least one secret")
    _check_msg_id(msg_id)
    ts = int(timestamp)
    raw = _as_bytes(body)
    signature = " ".join(f"{SIGNATURE_VERSION},{_signature(k, msg_id, ts, raw)}" for k in keys)
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature}


def _lower_headers(headers: Mapping[str, str] | HeaderSource) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        # First occurrence wins, like most frameworks' single-value accessors.
        lowered.setdefault(name.lower(), value)
    return lowered


def verify(
    secret: Secret | Sequence[Secret],
    headers: Mapping[str, str] | HeaderSource,
    body: bytes | str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a received webhook; return ``None`` when it is authentic, raise otherwise.

    ``secret``: the receiver's secret, or several during a key rotation (any may match).
    ``headers``: the request headers, names case-insensitive (a dict or
    ``http.client.HTTPMessage``). ``body``: the raw request body exactly as received,
    before any JSON parsing. ``tolerance``: seconds the ``webhook-timestamp`` may be
    away from ``now`` in either direction (replay protection; default 300).
    ``now``: seconds since the epoch; ``None`` reads the system clock.

    Raises ``SignatureError`` for a missing header, a non-integer timestamp, a
    timestamp more than ``tolerance`` seconds in the past or future, or no ``v1``
    signature that matches any secret (compared in constant time). Entries with
    another version prefix are ignored.
    """
    keys = [secret_key(s) for s in _as_list(secret)]
    if not keys:
        raise ValueError("verify() needs at least one secret")
    lowered = _lower_headers(headers)
    for name in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER):
        if not lowered.get(name, "").strip():
            raise SignatureError(f"missing header {name!r}")
    msg_id = lowered[ID_HEADER].strip()
    raw_ts = lowered[TIMESTAMP_HEADER].strip()
    if not raw_ts.isascii() or not raw_ts.lstrip("-").isdigit():
        raise SignatureError(f"header {TIMESTAMP_HEADER!r} is not integer epoch seconds")
    ts = int(raw_ts)
    current = SystemClock().now() if now is None else now
    if ts < current - tolerance:
        raise SignatureError(
            f"webhook timestamp is {current - ts:.0f} s old, more than the {tolerance:g} s "
            "tolerance (replayed, or the clocks differ)"
        )
    if ts > current + tolerance:
        raise SignatureError(
            f"webhook timestamp is {ts - current:.0f} s in the future, more than the "
            f"{tolerance:g} s tolerance (check the clocks)"
        )
    raw = _as_bytes(body)
    expected = [_signature(k, msg_id, ts, raw).encode("ascii") for k in keys]
    matched = False
    for entry in lowered[SIGNATURE_HEADER].split():
        version, _, given = entry.partition(",")
        if version != SIGNATURE_VERSION or not given.isascii():
            continue
        for candidate in expected:
            # No early exit: every comparison runs, so timing says nothing about which.
            matched |= hmac.compare_digest(candidate, given.encode("ascii"))
    if not matched:
        raise SignatureError("no webhook signature matches (wrong secret or altered body)")
