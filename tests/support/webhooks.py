"""Signing deliveries as a provider does (Standard Webhooks), for tests and the benchmark."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from standardwebhooks.webhooks import Webhook


def new_secret(seed: int) -> str:
    """A provider's signing secret, ``whsec_`` + base64 of 32 bytes (stable per seed)."""
    return "whsec_" + base64.b64encode(bytes((seed + i) % 256 for i in range(32))).decode()


OLD_SECRET = new_secret(1)
NEW_SECRET = new_secret(101)
RETIRED_SECRET = new_secret(201)


def event_body(event_type: str, **data: Any) -> bytes:
    return msgspec.json.encode(
        {"type": event_type, "timestamp": "2031-03-09T09:00:00Z", "data": data}
    )


def signed(
    body: bytes,
    *secrets: str,
    webhook_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """The three headers of a delivery of ``body``, signed with each of ``secrets``."""
    msg_id = webhook_id or f"msg_{uuid.uuid4().hex}"
    when = at or datetime.now(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id, when, body) for secret in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
    }


def stale(minutes: int = 6) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=minutes)
