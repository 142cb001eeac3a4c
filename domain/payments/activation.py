"""Activating what a completed payment pays for, as a job enqueued with the completion.

The completion and this job commit in one transaction (outbox): a crash after
the money is recorded still activates the subscription or booking, and a
second completion report enqueues nothing (the job is keyed by the payment).
What activates a purpose is the table ``payment_activations`` (assembled in
domain/catalogue.py): the subscription and booking features register theirs.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.errors import NotFound
from domain.jobs.model import SYSTEM_OWNER, Job, JobKind, NewJob
from domain.payments.model import Payment
from domain.payments.ports import UnitOfWork
from domain.transactions import UnitOfWorkFactory
from domain.wiring import Dispatch


class ActivationPayload(msgspec.Struct, frozen=True, rename="camel"):
    payment_id: uuid.UUID


def activation_job(payment: Payment) -> NewJob:
    payload = msgspec.to_builtins(ActivationPayload(payment_id=payment.id))
    return NewJob(
        kind=PAYMENT_ACTIVATE,
        owner_id=SYSTEM_OWNER,
        payload=payload,
        idempotency_key=f"activate:{payment.id}",
        request=msgspec.json.encode(payload),
    )


async def activate_payment(
    job: Job,
    payload: ActivationPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    payment_activations: Dispatch,
) -> dict[str, Any]:
    async with uow_factory() as uow:
        payment = await uow.payments.get(payload.payment_id)
    if payment is None:
        raise NotFound("payment not found")
    activate = payment_activations.handler(payment.purpose)
    if activate is None:  # no feature sells this purpose yet: the money is recorded all the same
        return {"paymentId": str(payment.id), "purpose": payment.purpose, "activated": False}
    outcome = await activate(payment)
    return {"paymentId": str(payment.id), "purpose": payment.purpose, "activated": outcome}


PAYMENT_ACTIVATE = JobKind(
    name="payment.activate",
    queue="default",
    handler=activate_payment,
    payload=ActivationPayload,
    retry_delays=(0.0, 10.0, 60.0, 300.0, 900.0),
    timeout_seconds=300.0,
)
