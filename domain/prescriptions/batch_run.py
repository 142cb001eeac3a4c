"""The ``prescription.batch`` job: each patient of a batch prescribed in their own
transaction, with their outcome; the job's result shows the outcomes so far (batch.py)."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.auditing import AuditContext
from domain.clock import Clock
from domain.errors import DomainError, NotFound, ValidationFailed
from domain.identity import Principal, Role
from domain.jobs.model import Job
from domain.jobs.ports import MessageSender
from domain.notifications.ports import AddressValidator, EmailRenderer, LiveChannel
from domain.policies import Access, policy_named
from domain.prescriptions.lifecycle import activate_in, after_activation
from domain.prescriptions.model import Batch, BatchOutcome, BatchPatient
from domain.prescriptions.ports import UnitOfWork
from domain.prescriptions.writing import create_in
from domain.settings import Settings
from domain.transactions import UnitOfWorkFactory


class BatchPayload(msgspec.Struct, frozen=True, rename="camel"):
    batch_id: uuid.UUID


def reason_of(exc: DomainError) -> str:
    """A refusal as a code a client can show: never the message (it may name the treatment)."""
    if isinstance(exc, NotFound):
        return "not_connected"
    if isinstance(exc, ValidationFailed) and exc.field:
        return f"{exc.code}:{exc.field}"
    return exc.code


def summary(patients: list[BatchPatient]) -> dict[str, Any]:
    done = [p for p in patients if p.outcome is not None]
    return {
        "total": len(patients),
        "done": len(done),
        "created": sum(p.outcome is BatchOutcome.CREATED for p in done),
        "refused": sum(p.outcome is BatchOutcome.REFUSED for p in done),
        "patients": [
            {
                "patientId": str(p.patient_id),
                "outcome": p.outcome.value,
                **({"prescriptionId": str(p.prescription_id)} if p.prescription_id else {}),
                **({"reason": p.reason} if p.reason else {}),
            }
            for p in done
        ],
    }


async def prescribe_batch(
    job: Job,
    payload: BatchPayload,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    live: LiveChannel,
) -> dict[str, Any]:
    async with uow_factory() as uow:
        batch = await uow.prescription_batches.get(payload.batch_id)
        if batch is None:
            return {"total": 0, "done": 0, "created": 0, "refused": 0, "patients": []}
        outcomes = await uow.prescription_batches.outcomes(batch.id)
    doctor = Principal(user_id=str(batch.doctor_id), role=Role.DOCTOR)
    audit = AuditContext(actor_id=str(batch.doctor_id), actor_role=Role.DOCTOR.value)
    by_position = {p.position: p for p in outcomes}
    for patient in outcomes:
        if patient.outcome is not None:
            continue
        settled = await _prescribe_one(
            uow_factory, job, batch, patient, doctor, audit, by_position, clock, settings,
            sender, renderer, addresses, live,
        )  # fmt: skip
        by_position[patient.position] = settled
    return summary(list(by_position.values()))


async def _prescribe_one(
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    job: Job,
    batch: Batch,
    patient: BatchPatient,
    doctor: Principal,
    audit: AuditContext,
    so_far: dict[int, BatchPatient],
    clock: Clock,
    settings: Settings,
    sender: MessageSender,
    renderer: EmailRenderer,
    addresses: AddressValidator,
    live: LiveChannel,
) -> BatchPatient:
    """One patient, in one transaction: their prescription and their outcome, or neither
    (then a refusal, in a transaction of its own)."""
    activated = None
    try:
        async with uow_factory() as uow:
            access = Access(doctor, policy_named("prescription.create"))
            created = await create_in(
                uow, access, audit, patient.patient_id, list(batch.items), clock
            )
            if batch.activate:
                activated = await activate_in(
                    uow, audit, created.prescription, clock.now(), settings, renderer, addresses
                )
            settled = msgspec.structs.replace(
                patient, outcome=BatchOutcome.CREATED, prescription_id=created.prescription.id
            )
            await _settle(uow, job, batch, settled, so_far)
    except DomainError as exc:
        settled = msgspec.structs.replace(
            patient, outcome=BatchOutcome.REFUSED, reason=reason_of(exc)
        )
        async with uow_factory() as uow:
            await _settle(uow, job, batch, settled, so_far)
        return settled
    if activated is not None:
        await after_activation(activated, sender, live)
    return settled


async def _settle(
    uow: UnitOfWork,
    job: Job,
    batch: Batch,
    settled: BatchPatient,
    so_far: dict[int, BatchPatient],
) -> None:
    await uow.prescription_batches.settle(batch.id, settled)
    progress = summary(list({**so_far, settled.position: settled}.values()))
    await uow.jobs.report_progress(job.id, progress)
