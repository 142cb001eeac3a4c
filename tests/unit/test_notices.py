"""In-app notices through fakes: a connection's news reaches the right person, announced after
the commit; a user reads, counts and marks only their own notices; e-mail is opt-in per kind."""

from __future__ import annotations

import uuid

import pytest

from domain.connections import service as connections
from domain.errors import NotFound, ValidationFailed
from domain.notifications import notices
from domain.notifications.inapp import NoticeKind, Preference
from domain.policies import Access, policy_named
from tests.fakes.world import World


@pytest.fixture
def world() -> World:
    return World()


def as_id(principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


def access(who, policy: str) -> Access:
    return Access(principal=who, policy=policy_named(policy))


async def test_a_request_tells_the_doctor_and_an_acceptance_tells_the_patient(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    asked = await world.run(
        connections.request_connection, patient, "connection.request", as_id(doctor)
    )
    [told] = world.notices_of(doctor)
    assert told.kind is NoticeKind.CONNECTION_REQUEST
    assert told.data == {"connectionId": str(asked.id)}  # an id to fetch, not the patient
    assert world.live.announced == [(as_id(doctor), told.seq)]

    await world.run(connections.answer_connection, doctor, "connection.accept", asked.id, "accept")
    [accepted] = world.notices_of(patient)
    assert accepted.kind is NoticeKind.CONNECTION_ACCEPTED
    assert world.live.announced[-1] == (as_id(patient), accepted.seq)


async def test_a_refused_request_tells_nobody(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    await world.run(connections.request_connection, patient, "connection.request", as_id(doctor))
    with pytest.raises(Exception):  # noqa: B017 - the pair already has a live connection
        await world.run(
            connections.request_connection, patient, "connection.request", as_id(doctor)
        )
    assert len(world.notices_of(doctor)) == 1 and len(world.live.announced) == 1


async def test_a_user_lists_counts_and_reads_only_their_own_notices(world) -> None:
    patient, doctor, other = world.patient(), world.doctor(), world.doctor("Dr Other")
    for _ in range(3):
        asking = world.patient()
        await world.run(connections.request_connection, asking, "connection.request", as_id(doctor))
    await world.run(connections.request_connection, patient, "connection.request", as_id(other))

    page = await world.cases.run(
        notices.list_notices, access(doctor, "notice.list"), False, 2, None
    )
    assert [n.seq for n in page.notices] == [3, 2] and page.next_cursor == "2"
    rest = await world.cases.run(notices.list_notices, access(doctor, "notice.list"), False, 2, 2)
    assert [n.seq for n in rest.notices] == [1] and rest.next_cursor is None
    assert await world.cases.run(notices.unread_count, access(doctor, "notice.list")) == 3

    first = page.notices[0]
    read = await world.cases.run(notices.mark_read, access(doctor, "notice.read"), first.id)
    assert read.read_at is not None
    with pytest.raises(NotFound):  # someone else's notice is a missing one
        await world.cases.run(notices.mark_read, access(other, "notice.read"), first.id)
    assert await world.cases.run(notices.mark_all_read, access(doctor, "notice.list")) == 2
    assert await world.cases.run(notices.unread_count, access(doctor, "notice.list")) == 0
    assert await world.cases.run(notices.unread_count, access(other, "notice.list")) == 1


async def test_a_live_client_catches_up_from_its_last_event_id(world) -> None:
    doctor = world.doctor()
    for _ in range(3):
        await world.run(
            connections.request_connection, world.patient(), "connection.request", as_id(doctor)
        )
    missed = await world.cases.run(notices.catch_up, as_id(doctor), 1, 100)
    assert [n.seq for n in missed] == [2, 3]
    assert await world.cases.run(notices.latest_event_id, as_id(doctor)) == 3


async def test_email_is_opt_in_per_kind(world) -> None:
    doctor = world.doctor()
    mine = access(doctor, "notice.preferences")
    before = await world.cases.run(notices.preferences, mine)
    assert all(not p.email for p in before) and len(before) == len(NoticeKind)
    after = await world.cases.run(
        notices.set_preferences, mine, [Preference(kind=NoticeKind.HEALTH_ALERT, email=True)]
    )
    assert {p.kind for p in after if p.email} == {NoticeKind.HEALTH_ALERT}
    async with world.uow() as uow:
        assert await notices.wants_email(uow, as_id(doctor), NoticeKind.HEALTH_ALERT)
        assert not await notices.wants_email(uow, as_id(doctor), NoticeKind.DOSE_REMINDER)


async def test_a_notice_holds_few_short_fields(world) -> None:
    async with world.uow() as uow:
        with pytest.raises(ValidationFailed):
            await notices.notify(uow, uuid.uuid4(), NoticeKind.HEALTH_ALERT, {"x": "y" * 501})
        with pytest.raises(ValidationFailed):
            await notices.notify(
                uow, uuid.uuid4(), NoticeKind.HEALTH_ALERT, {f"f{n}": n for n in range(21)}
            )
