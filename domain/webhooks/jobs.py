"""The webhooks feature's job kind: process one stored delivery.

The handler looks the delivery's provider and event type up in the table the
features fill (``webhook_routes``, assembled in domain/catalogue.py) and runs
what it finds; no entry means an event type nobody handles, recorded as such.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.clock import Clock
from domain.errors import NotFound, PermanentFailure
from domain.jobs.model import Job, JobKind
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.model import DeliveryStatus, event_of
from domain.webhooks.ports import UnitOfWork
from domain.wiring import Dispatch


class DeliveryPayload(msgspec.Struct, frozen=True, rename="camel"):
    delivery_id: uuid.UUID


async def process_delivery(
    job: Job,
    payload: DeliveryPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    webhook_routes: Dispatch,
) -> dict[str, Any]:
    async with uow_factory() as uow:
        delivery = await uow.deliveries.get(payload.delivery_id)
        if delivery is None:
            raise NotFound("webhook delivery not found")
        event = event_of(delivery, await uow.deliveries.body(delivery.id))
    handler = webhook_routes.handler((delivery.provider, event.type))
    if handler is None:
        status, outcome = DeliveryStatus.UNHANDLED, "unknown_event_type"
    else:
        try:
            status, outcome = DeliveryStatus.PROCESSED, await handler(event)
        except PermanentFailure as exc:
            await _mark(uow_factory, clock, delivery.id, DeliveryStatus.FAILED, exc.code)
            raise
    await _mark(uow_factory, clock, delivery.id, status, outcome)
    return {"deliveryId": str(delivery.id), "status": status.value, "outcome": outcome}


async def _mark(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    delivery_id: uuid.UUID,
    status: DeliveryStatus,
    outcome: str,
) -> None:
    async with uow_factory() as uow:
        await uow.deliveries.mark(delivery_id, status, outcome, clock.now())


WEBHOOK_PROCESS = JobKind(
    name="webhook.process",
    queue="default",
    handler=process_delivery,
    payload=DeliveryPayload,
    retry_delays=(0.0, 10.0, 60.0, 300.0, 900.0),
    timeout_seconds=300.0,
)
