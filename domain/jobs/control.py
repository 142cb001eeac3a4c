"""What a caller may do to a job: see it, cancel it, have an admin retry it.

A job is its submitter's; admins see and steer all of them. To anyone else a
job does not exist (the policy's 404), so ids cannot be probed. Cancel and
retry change a job's state on someone's say-so, so each is recorded in the
audit trail in the same transaction as the change.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from domain.auditing import AuditContext, AuditEntry
from domain.errors import InvalidTransition, NotFound
from domain.jobs.model import Job, JobKind, JobStatus
from domain.jobs.ports import JobPage, JobStore, MessageSender, UnitOfWork
from domain.jobs.submit import send_quietly
from domain.policies import Access, owner_relations
from domain.transactions import UnitOfWorkFactory


def _authorized(access: Access, job: Job | None) -> Job:
    """The job if the caller may act on it; otherwise the same NotFound as a missing one."""
    access.authorize(owner_relations(access.principal, job.owner_id if job else None))
    if job is None:  # unreachable: nobody stands in a relation to a missing job
        raise NotFound("job not found")
    return job


async def visible_job(access: Access, job_id: uuid.UUID, *, store: JobStore) -> Job:
    return _authorized(access, await store.get(job_id))


async def list_jobs(
    access: Access,
    status: JobStatus | None,
    kind: str | None,
    limit: int,
    cursor: str | None,
    *,
    store: JobStore,
) -> JobPage:
    owner = None if access.sees_all() else access.principal.user_id
    return await store.page(owner_id=owner, status=status, kind=kind, limit=limit, cursor=cursor)


async def cancel_job(
    access: Access,
    audit: AuditContext,
    job_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> Job:
    async with uow_factory() as uow:
        _authorized(access, await uow.jobs.get(job_id, lock=True))
        cancelled = await uow.jobs.cancel(job_id)
        await uow.audit.record(
            audit,
            AuditEntry(
                action="job.cancel",
                resource_type="job",
                resource_id=str(job_id),
                changed_fields=("status",),
            ),
        )
    return cancelled


async def retry_job(
    access: Access,
    audit: AuditContext,
    job_id: uuid.UUID,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
    sender: MessageSender,
    kinds: Mapping[str, JobKind],
) -> Job:
    """Give a failed job a fresh set of attempts (a whole schedule of its kind, from ``kinds``:
    the catalogue), then tell the workers (after the commit)."""
    async with uow_factory() as uow:
        job = _authorized(access, await uow.jobs.get(job_id, lock=True))
        kind = kinds.get(job.kind)
        if kind is None:  # a kind this release no longer has
            raise InvalidTransition("this kind of job can no longer run")
        extra = kind.max_attempts
        resubmitted = await uow.jobs.resubmit(job_id, extra_attempts=extra)
        await uow.audit.record(
            audit,
            AuditEntry(
                action="job.retry",
                resource_type="job",
                resource_id=str(job_id),
                changed_fields=("status", "max_attempts"),
            ),
        )
    await send_quietly(sender, resubmitted)
    return resubmitted
