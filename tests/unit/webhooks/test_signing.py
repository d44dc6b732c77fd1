from __future__ import annotations

import base64
import http.client

import pytest

from drift_monitor.errors import WebhookError
from drift_monitor.webhooks import SignatureError, sign, verify
from drift_monitor.webhooks.signing import secret_key
from tests.unit.webhooks.factories import NEXT_SECRET, SECRET

NOW = 1_790_000_000
BODY = b'{"id":"x","type":"drift.detected"}'


def test_reproduces_the_standard_webhooks_published_vector() -> None:
    # Interoperability, not self-consistency: the reference libraries compute this.
    headers = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_sign_then_verify_round_trips() -> None:
    headers = sign(SECRET, "drift.detected:fraud-1", NOW, BODY)
    verify(SECRET, headers, BODY, now=NOW)
    verify(SECRET, headers, BODY.decode(), now=NOW + 299)  # str body is its UTF-8 bytes


def test_timestamp_is_integer_seconds() -> None:
    headers = sign(SECRET, "m1", NOW + 0.987, BODY)
    assert headers["webhook-timestamp"] == str(NOW)


def test_raw_secret_without_prefix_is_used_as_utf8_bytes() -> None:
    assert secret_key("plain-secret") == b"plain-secret"
    assert secret_key(SECRET) == base64.b64decode(SECRET.removeprefix("whsec_"))
    headers = sign("plain-secret", "m1", NOW, BODY)
    verify("plain-secret", headers, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify(SECRET, headers, BODY, now=NOW)


def test_tampered_body_is_rejected() -> None:
    headers = sign(SECRET, "m1", NOW, BODY)
    with pytest.raises(SignatureError, match="no webhook signature matches"):
        verify(SECRET, headers, BODY.replace(b"detected", b"resolved"), now=NOW)


def test_tampered_id_or_timestamp_is_rejected() -> None:
    headers = sign(SECRET, "m1", NOW, BODY)
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-id": "m2"}, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify(SECRET, {**headers, "webhook-timestamp": str(NOW + 1)}, BODY, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -3600])
def test_timestamp_outside_tolerance_is_rejected(offset: int) -> None:
    headers = sign(SECRET, "m1", NOW + offset, BODY)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, headers, BODY, now=NOW)


def test_tolerance_is_configurable() -> None:
    headers = sign(SECRET, "m1", NOW - 1000, BODY)
    verify(SECRET, headers, BODY, tolerance=1000, now=NOW)
    with pytest.raises(SignatureError):
        verify(SECRET, headers, BODY, tolerance=999, now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected(missing: str) -> None:
    headers = sign(SECRET, "m1", NOW, BODY)
    del headers[missing]
    with pytest.raises(SignatureError, match=missing):
        verify(SECRET, headers, BODY, now=NOW)


@pytest.mark.parametrize("bad", ["", "abc", "1.5e9", "1790000000.5"])
def test_non_integer_timestamp_is_rejected(bad: str) -> None:
    headers = {**sign(SECRET, "m1", NOW, BODY), "webhook-timestamp": bad}
    with pytest.raises(SignatureError):
        verify(SECRET, headers, BODY, now=NOW)


def test_header_names_are_case_insensitive() -> None:
    headers = sign(SECRET, "m1", NOW, BODY)
    verify(SECRET, {k.upper(): v for k, v in headers.items()}, BODY, now=NOW)
    message = http.client.HTTPMessage()
    for name, value in headers.items():
        message["Webhook-" + name.removeprefix("webhook-").title()] = value
    verify(SECRET, message, BODY, now=NOW)


def test_key_rotation_signs_with_every_secret_and_either_verifies() -> None:
    headers = sign([SECRET, NEXT_SECRET], "m1", NOW, BODY)
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    verify(SECRET, headers, BODY, now=NOW)
    verify(NEXT_SECRET, headers, BODY, now=NOW)
    verify([NEXT_SECRET, "unrelated"], headers, BODY, now=NOW)
    with pytest.raises(SignatureError):
        verify("whsec_" + base64.b64encode(b"someone else").decode(), headers, BODY, now=NOW)


def test_unknown_signature_versions_are_ignored() -> None:
    headers = sign(SECRET, "m1", NOW, BODY)
    headers["webhook-signature"] = "v2,AAAA " + headers["webhook-signature"] + " garbage"
    verify(SECRET, headers, BODY, now=NOW)
    headers["webhook-signature"] = "v1a,whatever v2," + sign(SECRET, "m1", NOW, BODY)[
        "webhook-signature"
    ].removeprefix("v1,")
    with pytest.raises(SignatureError):
        verify(SECRET, headers, BODY, now=NOW)


def test_malformed_whsec_secret_is_a_webhook_error_without_the_secret() -> None:
    bad = "whsec_not*base64*SEKRIT"
    with pytest.raises(WebhookError) as info:
        sign(bad, "m1", NOW, BODY)
    assert "SEKRIT" not in str(info.value)


def test_sign_rejects_ids_that_cannot_be_a_header() -> None:
    for bad in ["", "has space", "line\nbreak", "naïve"]:
        with pytest.raises(ValueError):
            sign(SECRET, bad, NOW, BODY)
    with pytest.raises(ValueError):
        sign([], "m1", NOW, BODY)
