"""Reads of one job on the real database: the reads asked for while one is in flight are
answered together by the next statement, each with its own job (or None), and none sees
the database as it was before it was asked."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from domain.adapters.bootstrap import Services
from domain.errors import DatabaseUnavailable
from domain.jobs.model import JobStatus, NewJob
from domain.jobs.submit import submit_job
from domain.jobs.system import NOOP
from tests.support.jobs import RecordingSender


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text of each statement sent on a pooled connection, in order."""
    sent: list[str] = []
    execute = psycopg.AsyncConnection.execute

    async def recording_execute(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(" ".join(str(query).split()))
        return await execute(self, query, params, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", recording_execute)
    return sent


async def submitted(services: Services, n: int) -> list[uuid.UUID]:
    sender = RecordingSender(services.sender)
    jobs = [
        await submit_job(services.uow, sender, NewJob(kind=NOOP, owner_id="user-1", payload={}))
        for _ in range(n)
    ]
    return [submission.job.id for submission in jobs]


async def test_reads_asked_together_get_their_own_jobs_from_one_statement(
    services: Services, statements: list[str]
) -> None:
    ids = await submitted(services, 5)
    missing = uuid.uuid4()
    asked = [ids[0], missing, *ids, ids[2], ids[0]]
    statements.clear()

    jobs = await asyncio.gather(*(services.store.get(job_id) for job_id in asked))

    assert [job.id if job else None for job in jobs] == [
        ids[0], None, *ids, ids[2], ids[0]
    ]  # fmt: skip
    assert all(job.status is JobStatus.QUEUED for job in jobs if job)
    reads = [text for text in statements if text.startswith("SELECT * FROM jobs")]
    # asked in the same turn of the loop, before the first statement started: one answers all
    assert reads == ["SELECT * FROM jobs WHERE id = ANY(%s)"]


async def test_a_lone_read_goes_at_once_and_sees_what_committed_before_it(
    services: Services, statements: list[str]
) -> None:
    [job_id] = await submitted(services, 1)
    assert (await services.store.get(job_id)).status is JobStatus.QUEUED
    async with services.uow() as uow:
        await uow.jobs.cancel(job_id)

    # asked after the cancel committed: no read already in flight answers it
    assert (await services.store.get(job_id)).status is JobStatus.CANCELLED
    assert await services.store.get(uuid.uuid4()) is None
    reads = [text for text in statements if text.startswith("SELECT * FROM jobs")]
    # alone, each keeps the plain equality (an array of one costs more, on both sides)
    assert reads == ["SELECT * FROM jobs WHERE id = %s"] * 3


async def test_a_read_the_database_cannot_answer_fails_every_read_of_its_batch(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await submitted(services, 3)

    async def refused(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        raise psycopg.OperationalError("the server closed the connection")

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", refused)
    outcomes = await asyncio.gather(
        *(services.store.get(job_id) for job_id in ids), return_exceptions=True
    )

    assert [type(outcome) for outcome in outcomes] == [DatabaseUnavailable] * 3
