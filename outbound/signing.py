"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the `standardwebhooks`
package: `webhook-signature` is `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`
under each secret in force, space-separated (during a rotation's overlap: the new secret and the old)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    def __init__(self, secrets: Sequence[str]) -> None:
        self._hooks = [Webhook(secret) for secret in secrets]

    def headers(self, webhook_id: str, timestamp_s: int, body: str) -> dict[str, str]:
        when = datetime.fromtimestamp(timestamp_s, UTC)
        signatures = " ".join(hook.sign(webhook_id, when, body) for hook in self._hooks)
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp_s),
            "webhook-signature": signatures,
            "content-type": "application/json",
        }


def verify(secret: str, body: bytes | str, headers: dict[str, str]) -> object:
    """The receiver's check (what the README shows): the payload, or WebhookVerificationError."""
    return Webhook(secret).verify(body, headers)
