"""Jobs as their submitters see them: status, history, cancel, and an admin's retry.

A job is visible to its owner and to admins. To anyone else it does not
exist: they get the same 404 as for a missing id, so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from api.auth import Caller, admin_only
from api.commands import JobAccepted, accepted
from api.job_stream import status_events
from api.problems import problem_responses
from api.state import AppServices
from domain.errors import NotFound
from domain.identity import Principal
from domain.jobs import Job, JobError, JobStatus, kind_named
from domain.ports import JobStore, Submission
from domain.submit import send_quietly


class JobRead(msgspec.Struct, frozen=True, rename="camel"):
    id: uuid.UUID
    kind: str
    status: JobStatus
    attempts: int
    max_attempts: int
    result: dict[str, Any] | None
    error: JobError | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    run_after: datetime

    @classmethod
    def of(cls, job: Job) -> JobRead:
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            result=job.result,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            run_after=job.run_after,
        )


class JobList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[JobRead]
    next_cursor: str | None


async def visible_job(store: JobStore, principal: Principal, job_id: uuid.UUID) -> Job:
    job = await store.get(job_id)
    if job is None or not (principal.is_admin or job.owner_id == principal.user_id):
        raise NotFound("job not found")
    return job


class JobsController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="A job's state",
        responses=problem_responses(400, 401, 404),
    )
    async def get_job(
        self, job_id: FromPath[uuid.UUID], principal: Caller, services: AppServices
    ) -> JobRead:
        return JobRead.of(await visible_job(services.store, principal, job_id))

    @get(
        "/",
        operation_id="listJobs",
        summary="Your jobs (an admin's: everyone's), newest first",
        responses=problem_responses(400, 401, 422),
    )
    async def list_jobs(
        self,
        principal: Caller,
        services: AppServices,
        status: Annotated[JobStatus | None, QueryParameter()] = None,
        kind: Annotated[str | None, QueryParameter(min_length=1, max_length=100)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[
            str | None,
            QueryParameter(max_length=512, description="nextCursor of the previous page"),
        ] = None,
    ) -> JobList:
        page = await services.store.page(
            owner_id=None if principal.is_admin else principal.user_id,
            status=status,
            kind=kind,
            limit=limit,
            cursor=cursor,
        )
        return JobList(items=[JobRead.of(job) for job in page.jobs], next_cursor=page.next_cursor)

    @post(
        "/{job_id:uuid}/cancel",
        operation_id="cancelJob",
        summary="Cancel a job that has not started (queued or retrying); 409 otherwise",
        status_code=200,
        responses=problem_responses(400, 401, 404, 409),
    )
    async def cancel_job(
        self, job_id: FromPath[uuid.UUID], principal: Caller, services: AppServices
    ) -> JobRead:
        await visible_job(services.store, principal, job_id)
        return JobRead.of(await services.store.cancel(job_id))

    @post(
        "/{job_id:uuid}/retry",
        operation_id="retryJob",
        summary="Give a failed job another full set of attempts (admin); 409 unless failed",
        status_code=202,
        guards=[admin_only],
        responses=problem_responses(400, 401, 403, 404, 409),
    )
    async def retry_job(
        self, job_id: FromPath[uuid.UUID], services: AppServices
    ) -> Response[JobAccepted]:
        job = await services.store.get(job_id)
        if job is None:
            raise NotFound("job not found")
        extra = kind_named(job.kind).max_attempts
        resubmitted = await services.store.resubmit(job_id, extra_attempts=extra)
        await send_quietly(services.sender, resubmitted)
        return accepted(Submission(resubmitted, created=True))

    @get(
        "/{job_id:uuid}/events",
        operation_id="streamJobEvents",
        summary="Server-sent events of the job's status changes, until a final status",
        responses=problem_responses(400, 401, 404),
    )
    async def stream_job_events(
        self,
        job_id: FromPath[uuid.UUID],
        principal: Caller,
        services: AppServices,
        last_event_id: Annotated[
            int | None,
            HeaderParameter(name="Last-Event-ID", required=False, ge=0, le=2**63 - 1),
        ] = None,
    ) -> ServerSentEvent:
        await visible_job(services.store, principal, job_id)
        return ServerSentEvent(status_events(services.store, job_id, after_id=last_event_id or 0))
