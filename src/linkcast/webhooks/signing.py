"""Standard Webhooks signatures (standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, space-separated when a rotated-out secret
still signs beside the new one), computed by the specification's reference package so that receivers using it
verify what we send byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime

from standardwebhooks import Webhook


def signed_headers(message_id: str, timestamp: int, body: bytes, secrets: list[str]) -> dict[str, str]:
    """The headers of one delivery attempt of ``body``, signed with each of ``secrets``."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    signatures = " ".join(Webhook(secret).sign(message_id, moment, body) for secret in secrets)
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
