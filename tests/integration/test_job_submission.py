"""Submitting a job on the real database: with rows of its own in one transaction, without
any in one statement that commits by itself (no BEGIN and COMMIT round trips)."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus

from domain.adapters.bootstrap import Services
from domain.adapters.jobs.store import PgJobRepository
from domain.errors import Conflict
from domain.jobs.model import Job, NewJob
from domain.jobs.ports import UnitOfWork
from domain.jobs.submit import canonical_request, submit_job
from domain.jobs.system import NOOP
from tests.support.jobs import RecordingSender
from tests.support.rows import rows


@pytest.fixture
def states(monkeypatch: pytest.MonkeyPatch) -> list[TransactionStatus]:
    """The state of the connection's transaction each time a job row is about to be written."""
    seen: list[TransactionStatus] = []
    add = PgJobRepository.add

    async def recording_add(self: PgJobRepository, new: NewJob, job_id=None):  # type: ignore[no-untyped-def]
        seen.append(self._conn.info.transaction_status)
        return await add(self, new, job_id)

    monkeypatch.setattr(PgJobRepository, "add", recording_add)
    return seen


def keyed(key: str, **payload: object) -> NewJob:
    return NewJob(
        kind=NOOP,
        owner_id="user-1",
        payload=dict(payload),
        idempotency_key=key,
        request=canonical_request(payload),
    )


async def test_a_job_without_rows_of_its_own_is_written_outside_a_transaction(
    services: Services, states: list[TransactionStatus]
) -> None:
    sender = RecordingSender(services.sender)
    submission = await submit_job(services.uow, sender, keyed("k-1", n=1))

    assert states == [TransactionStatus.IDLE]  # no BEGIN was sent before the INSERT
    assert submission.created
    assert sender.sent == [(submission.job.id, 0.0)]
    assert rows(services.settings.database_url, "SELECT id FROM jobs") == [
        {"id": submission.job.id}
    ]


async def test_a_job_with_rows_of_its_own_is_written_in_their_transaction(
    services: Services, states: list[TransactionStatus]
) -> None:
    written: list[Job] = []

    async def write(uow: UnitOfWork, job: Job) -> None:
        written.append(job)

    submission = await submit_job(services.uow, services.sender, keyed("k-1", n=1), write)

    assert states == [TransactionStatus.INTRANS]
    assert written == [submission.job]


async def test_rows_that_cannot_be_written_take_the_job_with_them(services: Services) -> None:
    async def failing_write(uow: UnitOfWork, job: Job) -> None:
        raise RuntimeError("the business row could not be written")

    with pytest.raises(RuntimeError):
        await submit_job(services.uow, services.sender, keyed("k-1", n=1), failing_write)

    assert rows(services.settings.database_url, "SELECT id FROM jobs") == []


async def test_a_replay_outside_a_transaction_finds_the_first_job_and_a_reused_key_is_refused(
    services: Services, states: list[TransactionStatus]
) -> None:
    sender = RecordingSender(services.sender)
    first = await submit_job(services.uow, sender, keyed("k-1", n=1))
    replay = await submit_job(services.uow, sender, keyed("k-1", n=1))
    with pytest.raises(Conflict) as refused:
        await submit_job(services.uow, sender, keyed("k-1", n=2))

    assert states == [TransactionStatus.IDLE] * 3
    assert (replay.created, replay.job.id) == (False, first.job.id)
    assert refused.value.code == "idempotency_key_reused"
    assert sender.sent == [(first.job.id, 0.0)]  # a replay sends nothing
    assert rows(services.settings.database_url, "SELECT count(*) AS n FROM jobs") == [{"n": 1}]
