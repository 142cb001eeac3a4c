"""Job control's rules, through in-memory fakes: who sees a job, who may cancel or retry it."""

from __future__ import annotations

import uuid

import pytest

from domain.auditing import SYSTEM
from domain.errors import Forbidden, InvalidTransition, NotFound
from domain.identity import Principal, Role
from domain.jobs import control
from domain.jobs.model import JobStatus, NewJob
from domain.jobs.system import NOOP
from domain.notifications.jobs import EMAIL_SEND
from domain.policies import Access, policy_named
from domain.wiring import Wired
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.jobs import FakeJobRepository, FakeJobStore, RecordingSender, failed

OWNER = Principal(user_id=str(uuid.uuid4()), role=Role.PATIENT)
STRANGER = Principal(user_id=str(uuid.uuid4()), role=Role.PATIENT)
ADMIN = Principal(user_id=str(uuid.uuid4()), role=Role.ADMIN)


def access(principal: Principal, policy: str) -> Access:
    return Access(principal=principal, policy=policy_named(policy))


class Platform:
    def __init__(self) -> None:
        self.uow = FakeUnitOfWorkFactory({"jobs": FakeJobRepository, "audit": FakeAuditLog})
        self.sender = RecordingSender()
        self.cases = Wired(
            {
                "uow_factory": self.uow,
                "store": FakeJobStore(self.uow.database),
                "sender": self.sender,
                "kinds": {kind.name: kind for kind in (NOOP, EMAIL_SEND)},
            }
        )

    async def job(self, owner: Principal = OWNER, kind=EMAIL_SEND, *, status=None):
        async with self.uow() as uow:
            job = (await uow.jobs.add(NewJob(kind=kind, owner_id=owner.user_id, payload={}))).job
            if status is JobStatus.FAILED:
                uow.jobs.put(job := failed(job))
        return job


@pytest.fixture
def platform() -> Platform:
    return Platform()


async def test_the_owner_and_an_admin_see_a_job_and_anyone_else_finds_nothing(platform) -> None:
    job = await platform.job()
    for who in (OWNER, ADMIN):
        seen = await platform.cases.run(control.visible_job, access(who, "job.read"), job.id)
        assert seen.id == job.id
    with pytest.raises(NotFound):
        await platform.cases.run(control.visible_job, access(STRANGER, "job.read"), job.id)
    with pytest.raises(NotFound):  # a missing job looks the same as someone else's
        await platform.cases.run(control.visible_job, access(OWNER, "job.read"), uuid.uuid4())


async def test_a_list_holds_the_callers_jobs_and_an_admins_holds_everyones(platform) -> None:
    mine, theirs = await platform.job(OWNER), await platform.job(STRANGER)
    listed = await platform.cases.run(
        control.list_jobs, access(OWNER, "job.list"), None, None, 20, None
    )
    assert [job.id for job in listed.jobs] == [mine.id]
    everyone = await platform.cases.run(
        control.list_jobs, access(ADMIN, "job.list"), None, None, 20, None
    )
    assert {job.id for job in everyone.jobs} == {mine.id, theirs.id}


async def test_cancel_is_audited_with_the_change(platform) -> None:
    job = await platform.job()
    cancelled = await platform.cases.run(
        control.cancel_job, access(OWNER, "job.cancel"), SYSTEM, job.id
    )
    assert cancelled.status is JobStatus.CANCELLED
    assert [entry.action for entry in audited(platform.uow.database)] == ["job.cancel"]


async def test_a_refused_cancel_changes_nothing_and_records_nothing(platform) -> None:
    job = await platform.job()
    await platform.cases.run(control.cancel_job, access(OWNER, "job.cancel"), SYSTEM, job.id)
    with pytest.raises(InvalidTransition):  # already cancelled
        await platform.cases.run(control.cancel_job, access(OWNER, "job.cancel"), SYSTEM, job.id)
    with pytest.raises(NotFound):  # someone else's
        other = await platform.job(STRANGER)
        await platform.cases.run(control.cancel_job, access(OWNER, "job.cancel"), SYSTEM, other.id)
    assert [entry.action for entry in audited(platform.uow.database)] == ["job.cancel"]


async def test_an_admin_retries_a_failed_job_with_a_whole_new_schedule(platform) -> None:
    job = await platform.job(status=JobStatus.FAILED)
    again = await platform.cases.run(control.retry_job, access(ADMIN, "job.retry"), SYSTEM, job.id)
    assert again.status is JobStatus.QUEUED
    assert again.max_attempts == job.attempts + EMAIL_SEND.max_attempts
    assert platform.sender.sent == [(job.id, 0.0)]  # told the workers after the commit
    assert [entry.action for entry in audited(platform.uow.database)] == ["job.retry"]


async def test_only_a_failed_job_can_be_retried_and_only_by_an_admin(platform) -> None:
    queued = await platform.job()
    with pytest.raises(InvalidTransition):
        await platform.cases.run(control.retry_job, access(ADMIN, "job.retry"), SYSTEM, queued.id)
    failed_job = await platform.job(status=JobStatus.FAILED)
    with pytest.raises(Forbidden):
        await platform.cases.run(
            control.retry_job, access(OWNER, "job.retry"), SYSTEM, failed_job.id
        )
    assert platform.sender.sent == []
    assert audited(platform.uow.database) == []
