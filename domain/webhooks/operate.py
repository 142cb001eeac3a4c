"""What operators do with deliveries: list them (never their bodies) and replay a stored one.

A replay runs the stored delivery through its handler again, as a new
``webhook.process`` job; handlers are idempotent (a payment completes once,
keyed by its transaction hash), so a replay never does a thing twice.
"""

from __future__ import annotations

import uuid

import msgspec

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.errors import NotFound
from domain.jobs.model import SYSTEM_OWNER, NewJob
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import enqueue_job, send_submitted
from domain.policies import Access
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.jobs import WEBHOOK_PROCESS, DeliveryPayload
from domain.webhooks.model import DeliveryFilter, DeliveryPage, DeliveryStatus
from domain.webhooks.ports import UnitOfWork
from domain.webhooks.receive import delivery_entry


async def list_deliveries(
    access: Access,
    audit: AuditContext,
    query: DeliveryFilter,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> DeliveryPage:
    access.authorize(())  # the role rule: admins only
    async with uow_factory(autocommit=True) as uow:
        return await uow.deliveries.page(query)


async def replay_delivery(
    access: Access,
    audit: AuditContext,
    delivery_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
) -> Submission:
    access.authorize(())
    async with uow_factory() as uow:
        delivery = await uow.deliveries.get(delivery_id, lock=True)
        if delivery is None:
            raise NotFound("webhook delivery not found")
        replayed = await uow.deliveries.mark(
            delivery.id, DeliveryStatus.RECEIVED, None, clock.now(), replayed=True
        )
        await uow.audit.record(audit, delivery_entry("webhook.replay", replayed, "status"))
        payload = msgspec.to_builtins(DeliveryPayload(delivery_id=delivery.id))
        submission = await enqueue_job(
            uow, NewJob(kind=WEBHOOK_PROCESS, owner_id=SYSTEM_OWNER, payload=payload)
        )
    await send_submitted(sender, submission)
    return submission
