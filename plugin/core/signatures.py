"""HMAC helpers: signing, constant-time verification and the timestamp window. Pure."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone

from plugin.errors import SignatureError


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp + body)), Zendesk's webhook signature.

    https://developer.zendesk.com/documentation/webhooks/verifying/
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_timestamp(value: str) -> datetime:
    """Zendesk sends ISO 8601 in UTC, e.g. 2024-04-17T17:18:10Z."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def verify(
    secret: str,
    signature: str | None,
    timestamp: str | None,
    body: bytes,
    *,
    tolerance_seconds: float,
    now: datetime | None = None,
) -> None:
    """Raise SignatureError unless `signature` signs `timestamp + body` and is fresh.

    The comparison is constant-time over the raw bytes, before anything is parsed.
    The timestamp is checked after the signature so a forger learns nothing from it.
    """
    if not secret:
        raise SignatureError("no webhook signing secret is configured on this server; refusing all deliveries")
    if not signature or not timestamp:
        raise SignatureError("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp header")
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureError("signature does not match the body")
    try:
        sent_at = parse_timestamp(timestamp)
    except ValueError:
        raise SignatureError("signature timestamp is not an ISO 8601 date") from None
    now = now or datetime.now(timezone.utc)
    skew = abs((now - sent_at).total_seconds())
    if skew > tolerance_seconds:
        raise SignatureError(f"signature timestamp is {skew:.0f}s away from now (limit {tolerance_seconds:g}s)")
