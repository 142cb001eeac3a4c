"""A delivery of a provider's webhook, the event it carries, and what a handler of one is.

A delivery is stored once per provider and ``webhook-id`` (the Standard Webhooks
id the provider keeps across its retries), so a replayed id changes nothing.
Its body is sealed at rest (a payment callback names amounts; an OCR result, a
patient's medicines); its event type is kept in the clear for operators.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import msgspec

WEBHOOK_ID_MAX = 200
EVENT_TYPE_MAX = 100


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"  # stored; its processing job is queued or running
    PROCESSED = "processed"  # a handler took it
    UNHANDLED = "unhandled"  # no handler for its provider and event type: recorded, acknowledged
    FAILED = "failed"  # its handler refused it for good


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    provider: str
    webhook_id: str
    event_type: str | None
    status: DeliveryStatus
    outcome: str | None  # what the handler reported ("completed", "duplicate" ...): no PHI
    received_at: datetime
    processed_at: datetime | None
    replays: int = 0


class DeliveryFilter(msgspec.Struct, frozen=True, kw_only=True):
    provider: str | None = None
    status: DeliveryStatus | None = None
    limit: int = 50
    cursor: str | None = None


class DeliveryPage(msgspec.Struct, frozen=True):
    items: list[Delivery]
    next_cursor: str | None


class WebhookEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What a handler gets: the Standard Webhooks envelope ``{"type", "data"}`` of a body."""

    delivery_id: uuid.UUID
    provider: str
    webhook_id: str
    type: str | None
    data: dict[str, Any]


class _Envelope(msgspec.Struct, frozen=True):
    type: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)


# numbers as Decimal: a payment callback's amount must not pass through a float
_envelopes = msgspec.json.Decoder(_Envelope, float_hook=Decimal)


def event_type_of(body: bytes) -> str | None:
    """The event type a body names, or None when it names none we could read."""
    try:
        envelope = _envelopes.decode(body)
    except msgspec.DecodeError:
        return None
    if envelope.type is None or not 0 < len(envelope.type) <= EVENT_TYPE_MAX:
        return None
    return envelope.type


def event_of(delivery: Delivery, body: bytes) -> WebhookEvent:
    try:
        data = _envelopes.decode(body).data
    except msgspec.DecodeError:
        data = {}
    return WebhookEvent(
        delivery_id=delivery.id,
        provider=delivery.provider,
        webhook_id=delivery.webhook_id,
        type=delivery.event_type,
        data=data,
    )


# A feature's handler of one provider's event type: ``handler(event, **dependencies)``,
# returning a short outcome label for operators (no PHI). TransientFailure retries the
# processing job; PermanentFailure marks the delivery failed.
EventHandler = Callable[..., Awaitable[str]]
RouteKey = tuple[str, str]  # (provider, event type)
