"""Batch prescribing: a doctor prescribes the same items to many of their patients with one
command, run as a job (``batch_run.prescribe_batch``).

The command is checked at once (the items against the catalogue: a bad item is a 422
before anything is queued) and stored with its items sealed; the job (payload: the batch's
id) then prescribes to each patient in their own transaction, through the same steps as a
single prescription, and records the patient's outcome in that transaction: ``created``
(with the prescription's id) or ``refused`` with a reason code (``not_connected`` for a
patient who is not, or no longer, this doctor's). The job's result shows every outcome so
far while it runs, and a retried job carries on where the last attempt stopped.
"""

from __future__ import annotations

import uuid

from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.errors import ValidationFailed
from domain.jobs.model import Job, NewJob
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import canonical_request, enqueue_job, send_submitted
from domain.policies import Access
from domain.prescriptions.jobs import PRESCRIPTION_BATCH
from domain.prescriptions.model import (
    ItemInput,
    new_batch,
)
from domain.prescriptions.ports import UnitOfWork
from domain.prescriptions.writing import checked
from domain.transactions import UnitOfWorkFactory


async def submit_batch(
    access: Access,
    audit: AuditContext,
    patient_ids: list[uuid.UUID],
    items: list[ItemInput],
    activate: bool,
    idempotency_key: str | None = None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    clock: Clock,
    sender: MessageSender,
) -> Submission:
    access.authorize(())  # the role rule; each patient is checked by the job
    doctor_id = access.user_uuid
    if doctor_id is None:
        raise ValidationFailed("this action needs a doctor's account", field="body")
    batch = new_batch(doctor_id, patient_ids, items, activate, clock.now())
    async with uow_factory() as uow:
        await checked(uow, doctor_id, items, clock)  # every item checked once, now

        async def write(unit: UnitOfWork, job: Job) -> None:
            await unit.prescription_batches.add(batch)
            await unit.audit.record(
                audit,
                AuditEntry(
                    action="prescription.batch",
                    resource_type="prescription_batch",
                    resource_id=str(batch.id),
                    changed_fields=("items", "patients"),
                ),
            )

        new = NewJob(
            kind=PRESCRIPTION_BATCH,
            owner_id=str(doctor_id),
            payload={"batchId": str(batch.id)},
            idempotency_key=idempotency_key,
            request=canonical_request(
                {"patients": [str(p) for p in patient_ids], "items": items, "activate": activate}
            ),
        )
        submission = await enqueue_job(uow, new, write)
    await send_submitted(sender, submission)
    return submission
