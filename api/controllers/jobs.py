"""Jobs as their submitters see them: status, history, cancel, and an admin's retry.

Who may see or steer a job is the ``job.*`` policies' business (owner or
admin; to anyone else a job does not exist: the same 404 as a missing id).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from api.audit_context import AuditContextDep
from api.commands import JobAccepted, accepted
from api.job_stream import status_events
from api.params import ZERO_MINIMUM, Cursor, Limit
from api.policy_guard import AccessDep
from api.problems import api_responses
from api.state import AppServices, UseCases
from domain.jobs import control as job_control
from domain.jobs.model import Job, JobError, JobStatus
from domain.jobs.ports import Submission


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


class JobsController(Controller):
    path = "/jobs"
    tags = ["jobs"]

    @get(
        "/{job_id:uuid}",
        operation_id="getJob",
        summary="A job's state",
        responses=api_responses(400, 404),
        opt={"policy": "job.read"},
    )
    async def get_job(
        self, job_id: FromPath[uuid.UUID], access: AccessDep, cases: UseCases
    ) -> JobRead:
        return JobRead.of(await cases.run(job_control.visible_job, access, job_id))

    @get(
        "/",
        operation_id="listJobs",
        summary="Your jobs (an admin's: everyone's), newest first",
        responses=api_responses(400, 422),
        opt={"policy": "job.list"},
    )
    async def list_jobs(
        self,
        access: AccessDep,
        cases: UseCases,
        status: Annotated[JobStatus | None, QueryParameter()] = None,
        kind: Annotated[str | None, QueryParameter(min_length=1, max_length=100)] = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> JobList:
        page = await cases.run(job_control.list_jobs, access, status, kind, limit, cursor)
        return JobList(items=[JobRead.of(job) for job in page.jobs], next_cursor=page.next_cursor)

    @post(
        "/{job_id:uuid}/cancel",
        operation_id="cancelJob",
        summary="Cancel a job that has not started (queued or retrying); 409 otherwise",
        status_code=200,
        responses=api_responses(400, 404, 409),
        opt={"policy": "job.cancel"},
    )
    async def cancel_job(
        self,
        job_id: FromPath[uuid.UUID],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> JobRead:
        return JobRead.of(await cases.run(job_control.cancel_job, access, audit_context, job_id))

    @post(
        "/{job_id:uuid}/retry",
        operation_id="retryJob",
        summary="Give a failed job another full set of attempts (admin); 409 unless failed",
        status_code=202,
        responses=api_responses(400, 403, 404, 409),
        opt={"policy": "job.retry"},
    )
    async def retry_job(
        self,
        job_id: FromPath[uuid.UUID],
        access: AccessDep,
        audit_context: AuditContextDep,
        cases: UseCases,
    ) -> Response[JobAccepted]:
        resubmitted = await cases.run(job_control.retry_job, access, audit_context, job_id)
        return accepted(Submission(resubmitted, created=True))

    @get(
        "/{job_id:uuid}/events",
        operation_id="streamJobEvents",
        summary="Server-sent events of the job's status changes, until a final status",
        media_type="text/event-stream",
        responses=api_responses(400, 404),
        opt={"policy": "job.events"},
    )
    async def stream_job_events(
        self,
        job_id: FromPath[uuid.UUID],
        access: AccessDep,
        services: AppServices,
        cases: UseCases,
        last_event_id: Annotated[
            int | None,
            HeaderParameter(
                name="Last-Event-ID",
                required=False,
                ge=0,
                le=2**63 - 1,
                schema_extra=ZERO_MINIMUM,
            ),
        ] = None,
    ) -> ServerSentEvent:
        await cases.run(job_control.visible_job, access, job_id)
        return ServerSentEvent(status_events(services.store, job_id, after_id=last_event_id or 0))
