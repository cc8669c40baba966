import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from plugin.core.signatures import sign, verify
from plugin.errors import SignatureError

NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
TS = "2026-11-22T12:00:00Z"
BODY = b'{"type":"zen:event-type:ticket.created"}'


def test_sign_matches_zendesk_formula():
    expected = base64.b64encode(hmac.new(b"secret", TS.encode() + BODY, hashlib.sha256).digest()).decode()
    assert sign("secret", TS, BODY) == expected


def test_valid_signature_passes():
    verify("secret", sign("secret", TS, BODY), TS, BODY, tolerance_seconds=300, now=NOW)


@pytest.mark.parametrize(
    "secret, signature, timestamp, body, message",
    [
        ("secret", sign("other", TS, BODY), TS, BODY, "does not match"),
        ("secret", sign("secret", TS, BODY), TS, BODY + b" ", "does not match"),
        ("secret", sign("secret", TS, BODY), "2026-11-22T12:00:01Z", BODY, "does not match"),
        ("secret", None, TS, BODY, "missing"),
        ("secret", sign("secret", TS, BODY), None, BODY, "missing"),
        ("", sign("", TS, BODY), TS, BODY, "no webhook signing secret"),
        ("secret", "not-base64!", TS, BODY, "does not match"),
    ],
)
def test_rejections(secret, signature, timestamp, body, message):
    with pytest.raises(SignatureError, match=message):
        verify(secret, signature, timestamp, body, tolerance_seconds=300, now=NOW)


@pytest.mark.parametrize("offset", [timedelta(minutes=6), timedelta(minutes=-6)])
def test_stale_or_future_timestamp_rejected(offset):
    ts = (NOW + offset).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SignatureError, match="away from now"):
        verify("secret", sign("secret", ts, BODY), ts, BODY, tolerance_seconds=300, now=NOW)


def test_window_is_configurable():
    ts = (NOW - timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    verify("secret", sign("secret", ts, BODY), ts, BODY, tolerance_seconds=600, now=NOW)


def test_unparseable_timestamp_rejected_even_when_signed():
    with pytest.raises(SignatureError, match="ISO 8601"):
        verify("secret", sign("secret", "yesterday", BODY), "yesterday", BODY, tolerance_seconds=300, now=NOW)


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    verify("secret", sign("secret", TS, BODY), TS, BODY, tolerance_seconds=300, now=NOW)
    assert calls == [1]
