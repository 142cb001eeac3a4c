"""Receiving a delivery: verify its signature, store it sealed, queue its processing.

Answering fast is the provider's whole demand, so nothing is processed here:
the delivery row and its ``webhook.process`` job commit together (outbox) and
the answer goes out. A webhook id the provider already delivered is
acknowledged as it is and changes nothing. A refusal (401) stores nothing; the
API's refusal audit records it.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import Unauthorized
from domain.jobs.model import SYSTEM_OWNER, NewJob
from domain.jobs.ports import MessageSender
from domain.jobs.submit import enqueue_job, send_submitted
from domain.transactions import UnitOfWorkFactory
from domain.webhooks.jobs import WEBHOOK_PROCESS, DeliveryPayload
from domain.webhooks.model import WEBHOOK_ID_MAX, Delivery, event_type_of
from domain.webhooks.ports import SignatureVerifier, UnitOfWork


class Received(msgspec.Struct, frozen=True):
    delivery: Delivery
    duplicate: bool  # the provider had delivered this webhook id before: nothing changed


def delivery_entry(action: str, delivery: Delivery, *fields: str) -> AuditEntry:
    return AuditEntry(
        action=action,
        resource_type="webhook_delivery",
        resource_id=str(delivery.id),
        changed_fields=fields,
    )


async def receive_delivery(
    audit: AuditContext,
    provider: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    clock: Clock,
    verifier: SignatureVerifier,
) -> Received:
    verifier.verify(provider, body, headers)
    webhook_id = headers.get("webhook-id", "")
    if not 0 < len(webhook_id) <= WEBHOOK_ID_MAX:  # signed, so only a broken provider sends it
        raise Unauthorized("the webhook-id header is missing or too long")
    async with uow_factory() as uow:
        stored, new = await uow.deliveries.add(
            provider, webhook_id, event_type_of(body), body, clock.now()
        )
        if not new:
            return Received(stored, duplicate=True)
        submission = await enqueue_job(uow, _processing(stored))
        # last: the audit chain's lock is held until the commit, so it is taken as late as can be
        await uow.audit.record(
            audit, delivery_entry("webhook.receive", stored, "status", "event_type")
        )
    await send_submitted(sender, submission)
    return Received(stored, duplicate=False)


def _processing(delivery: Delivery) -> NewJob:
    payload = msgspec.to_builtins(DeliveryPayload(delivery_id=delivery.id))
    return NewJob(kind=WEBHOOK_PROCESS, owner_id=SYSTEM_OWNER, payload=payload)
