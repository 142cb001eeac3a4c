"""The PHI feature's job kind, and how an admin asks for it."""

from __future__ import annotations

from domain.auditing import AuditContext, AuditEntry
from domain.jobs.model import Job, JobKind, NewJob
from domain.jobs.ports import MessageSender, Submission
from domain.jobs.submit import canonical_request, submit_job
from domain.phi.ports import UnitOfWork
from domain.phi.rotation import rotate_phi_keys
from domain.transactions import UnitOfWorkFactory

PHI_ROTATE = JobKind(
    name="phi.rotate",
    queue="default",
    handler=rotate_phi_keys,
    retry_delays=(60.0, 600.0),
)


async def submit_rotation(
    context: AuditContext,
    owner_id: str,
    idempotency_key: str | None,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
) -> Submission:
    """Queue a rotation; the request itself is audited with the job it created."""

    async def write(uow: UnitOfWork, job: Job) -> None:
        await uow.audit.record(
            context,
            AuditEntry(action="phi.rotate.request", resource_type="job", resource_id=str(job.id)),
        )

    new = NewJob(
        kind=PHI_ROTATE,
        owner_id=owner_id,
        payload={},
        idempotency_key=idempotency_key,
        request=canonical_request({}),
    )
    return await submit_job(uow_factory, sender, new, write)
