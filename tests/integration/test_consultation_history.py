"""Finished consultations moving to the monthly-partitioned history (``consultation.archive``),
on the real database: every read route answers the same before and after the move, keyset
pages cross the boundary, the live table's exclusion constraint still refuses double
bookings, a consultation being changed is never moved half-way, the job is idempotent, and
its months' partitions appear as they are needed."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from domain.adapters.consultations.store import (
    COLUMNS,
    PgConsultationRepository,
    consultation_from_row,
    history_partition,
    month_of,
)
from domain.adapters.phi.sealed_values import PgSealedValues
from domain.consultations.history import archive_finished
from domain.consultations.jobs import CONSULTATION_ARCHIVE
from domain.consultations.model import (
    FINISHED,
    Consultation,
    ConsultationFilter,
    ConsultationStatus,
    Period,
)
from domain.errors import Conflict
from domain.phi.columns import CONSULTATION_HISTORY_NOTES
from tests.conftest import make_settings
from tests.support.api import api_client
from tests.support.consultations import add_consultation, archive_now
from tests.support.databases import alembic_config
from tests.support.handlers import handler_of
from tests.support.jobs import jobs_of_kind, once_a_day, submit_noop
from tests.support.payments import add_payment
from tests.support.plans import Recording, relations_read
from tests.support.platform import running_services
from tests.support.prescriptions import add_prescription
from tests.support.rows import audit_events, partition_names, rows
from tests.support.users import add_cast
from workers.handlers import bind_plan
from workers.scheduler import plan_quietly, schedule_periodic_jobs

CONSULTATIONS = "/api/v1/consultations"
MONTH_PARTITION = re.compile(r"consultations_history_\d{4}_\d{2}")
S = ConsultationStatus


@pytest.fixture
def book_settings(database_url, redis_url, tmp_path):
    return make_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        rate_limit_user_per_minute=10_000,
        consultation_history_after_days=30,
    )


@pytest.fixture
async def services(book_settings):
    async with running_services(book_settings, pool_max_size=12) as built:
        yield built


@pytest.fixture
async def api(book_settings):
    async with api_client(book_settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


def days(n: float) -> timedelta:
    return timedelta(days=n)


def where(database_url: str) -> dict[uuid.UUID, str]:
    """Each consultation's table: ``consultations`` or the history partition holding it."""
    found = rows(
        database_url,
        "SELECT id, tableoid::regclass::text AS part FROM consultations"
        " UNION ALL SELECT id, tableoid::regclass::text FROM consultations_history",
    )
    return {row["id"]: row["part"] for row in found}


def history_partitions(database_url: str) -> set[str]:
    return partition_names(database_url, "consultations_history")


async def run_archive(services) -> dict:
    """The job as the worker runs it."""
    job = await submit_noop(services, "system", kind=CONSULTATION_ARCHIVE)
    return await handler_of(CONSULTATION_ARCHIVE, services)(job)


async def every_page(api, member, **params) -> list[str]:
    """The ids of every page of a list, following ``nextCursor``."""
    ids: list[str] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(CONSULTATIONS, params=query, headers=member.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["nextCursor"]
        if cursor is None:
            return ids


def newest_first(consultations: list[Consultation]) -> list[str]:
    ordered = sorted(consultations, key=lambda c: (c.starts_at, c.id), reverse=True)
    return [str(c.id) for c in ordered]


async def read_everything(api, cast, made: list[Consultation]) -> dict:
    """What every read route answers about ``made``, to each side and an admin."""
    seen: dict = {}
    for member in (cast.alice, cast.chantha, cast.eang):
        seen[("past", member.id)] = [
            (await api.get(CONSULTATIONS, params=q, headers=member.headers)).json()
            for q in ({"period": "past"}, {"period": "past", "limit": 2}, {"status": "completed"})
        ]
        seen[("all pages", member.id)] = await every_page(api, member, period="past", limit=2)
    for consultation in made:
        path = f"{CONSULTATIONS}/{consultation.id}"
        for member in (cast.alice, cast.chantha, cast.borey, cast.eang):
            response = await api.get(path, headers=member.headers)
            seen[(path, member.id)] = (response.status_code, response.json())
        for member in (cast.alice, cast.chantha, cast.borey):
            for tail in ("/notes", "/prescriptions"):
                response = await api.get(path + tail, headers=member.headers)
                seen[(path + tail, member.id)] = (response.status_code, response.json())
        day = consultation.starts_at.date().isoformat()
        view = await api.get(
            f"{CONSULTATIONS}/day", params={"date": day}, headers=cast.chantha.headers
        )
        seen[("day", day)] = view.json()
        if consultation.status in FINISHED:  # refused alike, before and after
            cancel = await api.post(f"{path}/cancel", headers=cast.alice.headers)
            seen[(path + "/cancel", "alice")] = (cancel.status_code, cancel.json()["detail"])
    return seen


async def test_every_read_answers_the_same_after_the_move(
    api, services, cast, book_settings
) -> None:
    alice, chantha = cast.alice.id, cast.chantha.id
    consulted = await add_consultation(services, alice, chantha, S.COMPLETED, -days(40))
    old = [
        consulted,
        await add_consultation(services, alice, chantha, S.CANCELLED, -days(45)),
        await add_consultation(services, alice, chantha, S.NO_SHOW, -days(50)),
        await add_consultation(services, alice, chantha, S.RELEASED, -days(61)),
    ]
    staying = [
        await add_consultation(services, alice, chantha, S.COMPLETED, -days(2)),  # too recent
        await add_consultation(services, alice, chantha, S.CONFIRMED, -days(40)),  # never closed
        await add_consultation(services, alice, chantha, S.IN_PROGRESS, -days(41)),
        await add_consultation(services, alice, chantha, S.CONFIRMED, days(3)),  # upcoming
    ]
    path = f"{CONSULTATIONS}/{consulted.id}"
    text = "Reviewed lipids; continue atorvastatin 20 mg"
    written = await api.put(path + "/notes", json={"notes": text}, headers=cast.chantha.headers)
    assert written.status_code == 204, written.text
    prescription_id = await add_prescription(services, alice, chantha)
    linked = await api.post(
        path + "/prescriptions",
        json={"prescriptionId": str(prescription_id)},
        headers=cast.chantha.headers,
    )
    assert linked.status_code == 200, linked.text
    before = await read_everything(api, cast, old + staying)

    result = await run_archive(services)

    assert result == {"moved": len(old)}
    placed = where(book_settings.database_url)
    assert all(placed[c.id].startswith("consultations_history_") for c in old)
    assert all(placed[c.id] == "consultations" for c in staying)
    assert await read_everything(api, cast, old + staying) == before
    assert before[(path + "/notes", cast.alice.id)] == (200, {"notes": text})
    assert before[(path + "/prescriptions", cast.alice.id)][1] == {
        "prescriptionIds": [str(prescription_id)]
    }
    # the history's notes are still sealed, and the doctor can still write them
    [row] = rows(
        book_settings.database_url,
        "SELECT notes_sealed, notes_key_id FROM consultations_history WHERE id = %s",
        (consulted.id,),
    )
    assert row["notes_key_id"] and b"atorvastatin" not in bytes(row["notes_sealed"])
    amended = await api.put(
        path + "/notes", json={"notes": text + "; recheck in May"}, headers=cast.chantha.headers
    )
    assert amended.status_code == 204, amended.text
    read = await api.get(path + "/notes", headers=cast.alice.headers)
    assert read.json() == {"notes": text + "; recheck in May"}
    assert audit_events(book_settings.database_url, "consultation.archive")

    assert await run_archive(services) == {"moved": 0}  # idempotent: nothing left to move
    assert where(book_settings.database_url) == placed


async def test_keyset_pages_cross_the_boundary(api, services, cast, book_settings) -> None:
    alice, chantha, dararith = cast.alice.id, cast.chantha.id, cast.dararith.id
    made = [
        await add_consultation(services, alice, doctor, S.COMPLETED, -days(n))
        for n, doctor in (
            (1, chantha),
            (5, dararith),
            (29, chantha),
            (31, chantha),
            (33, dararith),
            (60, chantha),
            (90, chantha),
        )
    ]
    # two at the same minute: the id breaks the tie, on either side of the boundary
    made.append(await add_consultation(services, alice, dararith, S.CANCELLED, -days(31)))
    made.append(await add_consultation(services, alice, dararith, S.CANCELLED, -days(1)))
    expected = newest_first(made)
    first = await api.get(
        CONSULTATIONS, params={"period": "past", "limit": 3}, headers=cast.alice.headers
    )
    cursor = first.json()["nextCursor"]

    assert await archive_now(services) == 5

    # a cursor taken before the move goes on after it: nothing twice, nothing missed
    rest = await every_page(api, cast.alice, period="past", limit=3, cursor=cursor)
    assert [item["id"] for item in first.json()["items"]] + rest == expected
    for limit in (1, 2, 4, 100):
        assert await every_page(api, cast.alice, period="past", limit=limit) == expected
    chantha_only = [c for c in made if c.doctor_id == chantha]
    assert await every_page(api, cast.chantha, period="past", limit=2) == newest_first(chantha_only)
    assert await every_page(api, cast.eang, period="past", doctorId=str(dararith), limit=2) == (
        newest_first([c for c in made if c.doctor_id == dararith])
    )
    window = {
        "from": (datetime.now(UTC) - days(61)).isoformat(),
        "to": (datetime.now(UTC) - days(30)).isoformat(),
    }
    in_window = [c for c in made if -days(61) <= c.starts_at - datetime.now(UTC) < -days(30)]
    assert await every_page(api, cast.alice, period="past", limit=2, **window) == newest_first(
        in_window
    )
    assert await every_page(api, cast.alice, period="upcoming") == []


async def test_the_live_table_still_refuses_double_bookings(services, cast) -> None:
    alice, borey, chantha = cast.alice.id, cast.borey.id, cast.chantha.id
    await add_consultation(services, alice, chantha, S.COMPLETED, -days(40))
    assert await archive_now(services) == 1
    await add_consultation(services, alice, chantha, S.CONFIRMED, days(2))
    with pytest.raises(Conflict) as refused:
        await add_consultation(services, borey, chantha, S.HELD, days(2))
    assert refused.value.code == "time_taken"
    # a finished booking of that time does not block it, live or archived
    await add_consultation(services, borey, chantha, S.CANCELLED, days(2))


async def test_a_consultation_being_changed_is_not_moved_half_way(
    api, services, cast, book_settings
) -> None:
    alice, chantha = cast.alice.id, cast.chantha.id
    released = await add_consultation(services, alice, chantha, S.RELEASED, -days(40))
    now = datetime.now(UTC)
    # a late payment settles the released hold while the job runs: the job passes it over
    async with services.uow() as uow:
        locked = await uow.consultations.get(released.id, lock=True)
        assert locked is not None and locked.status is S.RELEASED
        assert await archive_now(services) == 0
        moved = await uow.consultations.move(released.id, S.RELEASED, S.CONFIRMED, now)
        assert moved is not None
    assert await run_archive(services) == {"moved": 0}  # confirmed: not finished any more
    assert where(book_settings.database_url)[released.id] == "consultations"

    # the move in flight while the doctor writes notes (the notes use case's two steps): the
    # write waits for the moving transaction, then finds the row in the history and lands there
    done = await add_consultation(services, alice, chantha, S.COMPLETED, -days(40))

    async def write_notes() -> ConsultationStatus:
        async with services.uow() as uow:
            found = await uow.consultations.get(done.id, lock=True)
            assert found is not None
            await uow.consultations.set_notes(done.id, "written while it moved")
            return found.status

    async with services.uow() as uow:
        assert await uow.consultations.archive(now - days(30), now, 10) == 1
        writing = asyncio.create_task(write_notes())
        await asyncio.sleep(0.5)
        assert not writing.done()  # waiting for the moving transaction's row lock
    assert await writing is S.COMPLETED
    assert where(book_settings.database_url)[done.id].startswith("consultations_history_")
    read = await api.get(f"{CONSULTATIONS}/{done.id}/notes", headers=cast.alice.headers)
    assert read.json() == {"notes": "written while it moved"}


async def test_the_job_moves_in_batches_and_makes_its_months(services, cast, book_settings) -> None:
    alice, chantha = cast.alice.id, cast.chantha.id
    made = [
        await add_consultation(services, alice, chantha, S.COMPLETED, -days(n))
        for n in (35, 36, 37, 100, 101, 200)
    ]
    months = {month_of(c.starts_at) for c in made}
    assert history_partitions(book_settings.database_url) == set()

    job = await submit_noop(services, "system", kind=CONSULTATION_ARCHIVE)
    result = await archive_finished(
        job,
        uow_factory=services.uow,
        clock=services.clock,
        settings=services.settings,
        batch_size=2,
    )

    assert result == {"moved": 6}
    assert history_partitions(book_settings.database_url) == {
        history_partition(month) for month in months
    }
    placed = where(book_settings.database_url)
    assert all(placed[c.id] == history_partition(month_of(c.starts_at)) for c in made)
    assert len(audit_events(book_settings.database_url, "consultation.archive")) == 3
    assert await run_archive(services) == {"moved": 0}
    async with services.uow() as uow:  # asking again for existing months creates nothing
        assert await uow.consultations.history_months(months) == []
        assert await uow.consultations.history_months({date(2031, 12, 1)}) == [
            "consultations_history_2031_12"
        ]
    [bounds] = rows(
        book_settings.database_url,
        "SELECT pg_get_expr(relpartbound, oid) AS bound FROM pg_class"
        " WHERE relname = 'consultations_history_2031_12'",
    )
    assert bounds["bound"] == (
        "FOR VALUES FROM ('2031-12-01 00:00:00+00') TO ('2032-01-01 00:00:00+00')"
    )


async def test_lookups_by_key_and_payment_find_the_history(services, cast) -> None:
    old = await add_consultation(
        services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40), idempotency_key="k-1"
    )
    assert await archive_now(services) == 1
    async with services.uow() as uow:
        found = await uow.consultations.by_key(cast.alice.id, "k-1")
        assert found is not None and found[0] == old
        assert await uow.consultations.get(old.id, lock=True) == old
        assert await uow.consultations.by_key(cast.borey.id, "k-1") is None
        # no write moves an archived consultation's status
        moved = await uow.consultations.move(old.id, S.COMPLETED, S.CONFIRMED, old.updated_at)
        assert moved is None


async def test_the_move_records_where_each_consultation_went(services, cast, book_settings):
    made = [
        await add_consultation(
            services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(n), idempotency_key=key
        )
        for n, key in ((40, "k-40"), (75, None), (110, "k-110"))
    ]
    assert await archive_now(services) == 3

    kept = f"{COLUMNS}, idempotency_key"
    lookup = rows(book_settings.database_url, f"SELECT {kept} FROM consultations_history_lookup")
    history = rows(book_settings.database_url, f"SELECT {kept} FROM consultations_history")
    by_id = {row["id"]: row for row in lookup}
    assert by_id == {row["id"]: row for row in history} and set(by_id) == {c.id for c in made}


async def test_a_read_of_the_history_goes_to_the_month_its_lookup_names(
    services, cast, book_settings
) -> None:
    """The lookup narrows every read of the history (by id with a lock, by key, the notes'
    write) to one month: pointed at another month, the consultation is not found there."""
    old = await add_consultation(
        services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40), idempotency_key="k-1"
    )
    assert await archive_now(services) == 1
    async with services.uow() as uow:
        assert await uow.consultations.get(old.id) == old

    rows(
        book_settings.database_url,
        "UPDATE consultations_history_lookup SET starts_at = starts_at - interval '62 days'"
        " WHERE id = %s RETURNING id",
        (old.id,),
    )

    async with services.uow() as uow:
        assert await uow.consultations.get(old.id, lock=True) is None
        assert await uow.consultations.by_key(cast.alice.id, "k-1") is None
        await uow.consultations.set_notes(old.id, "not written anywhere")
    [row] = rows(
        book_settings.database_url,
        "SELECT notes_sealed FROM consultations_history WHERE id = %s",
        (old.id,),
    )
    assert row["notes_sealed"] is None


async def partitions_read(conn, statement, params) -> set[str]:
    """The history partitions PostgreSQL's plan of ``statement`` reads."""
    return await relations_read(conn, statement, params, MONTH_PARTITION)


async def with_plans(services, read):
    """What ``read(store)`` answers, and the history's months each statement it sent reads."""
    async with services.uow() as uow:
        recording = Recording(uow.connection)
        found = await read(PgConsultationRepository(recording, services.cipher))
        plans = [await partitions_read(uow.connection, *sent) for sent in recording.sent]
    return found, plans


async def a_past_page(services, query: ConsultationFilter):
    return await with_plans(services, lambda store: store.page(query, datetime.now(UTC)))


async def test_a_past_list_reads_no_month_of_the_history(services, cast, book_settings) -> None:
    """Five months of a patient's history: every page of the past list is one statement
    over the live table and the lookup, which reads none of the history's months, and the
    pages are the whole list, newest first, with a live one first."""
    made = [
        await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(n))
        for n in (40, 75, 110, 145, 180)
    ]
    assert await archive_now(services) == 5
    assert len(history_partitions(book_settings.database_url)) == 5
    live = await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(2))

    listed, cursor = [], None
    while True:
        query = ConsultationFilter(
            party_id=cast.alice.id, period=Period.PAST, limit=2, cursor=cursor
        )
        page, plans = await a_past_page(services, query)
        assert plans == [set()]
        listed += page.items
        if (cursor := page.next_cursor) is None:
            break
    assert listed == [live, *made]


async def test_a_plain_read_of_an_archived_one_reads_no_month(services, cast) -> None:
    """By id and by payment, what a consultation shows comes from the lookup in one
    statement; a locking read goes to the consultation's own month."""
    old = await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40))
    assert await archive_now(services) == 1

    found, plans = await with_plans(services, lambda store: store.get(old.id))
    assert found == old and plans == [set()]
    found, plans = await with_plans(services, lambda store: store.by_payment(uuid.uuid4()))
    assert found is None and plans == [set()]
    found, plans = await with_plans(services, lambda store: store.get(old.id, lock=True))
    assert found == old and plans == [set(), {history_partition(month_of(old.starts_at))}]


async def test_a_late_payment_finds_its_archived_consultation_in_the_lookup(
    services, cast, book_settings
) -> None:
    """A payment that settles after its consultation moved finds it by payment id, in one
    statement that reads no month of the history."""
    payment = await add_payment(services, cast.alice.id)
    old = await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40))
    rows(
        book_settings.database_url,
        "UPDATE consultations SET payment_id = %s WHERE id = %s RETURNING id",
        (payment.id, old.id),
    )
    assert await archive_now(services) == 1

    found, plans = await with_plans(services, lambda store: store.by_payment(payment.id))
    assert found is not None and (found.id, found.payment_id) == (old.id, payment.id)
    assert plans == [set()]


async def test_the_key_rotation_rewrites_archived_notes_in_their_own_month(services, cast) -> None:
    """PHI key rotation reads each archived consultation's start with its notes, and its
    rewrite names it: one month's partition, not a probe of every one."""
    old = await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40))
    await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(110))
    async with services.uow() as uow:
        await uow.consultations.set_notes(old.id, "Stable; see again in a year")
    assert await archive_now(services) == 2

    async with services.uow() as uow:
        [value] = await uow.sealed.stale(CONSULTATION_HISTORY_NOTES, "another-key", None, 10)
        assert (value.row_id, value.partition) == (old.id, old.starts_at)
        recording = Recording(uow.connection)
        resealed = services.cipher.seal(b"Stable", CONSULTATION_HISTORY_NOTES.context(old.id))
        await PgSealedValues(recording).replace(CONSULTATION_HISTORY_NOTES, value, resealed)
        [(statement, params)] = recording.sent
        assert await partitions_read(uow.connection, statement, params) == {
            history_partition(month_of(old.starts_at))
        }
    async with services.uow() as uow:
        assert await uow.consultations.notes(old.id) == "Stable"


async def test_going_up_fills_the_lookup_from_the_history(services, cast, book_settings) -> None:
    old = await add_consultation(services, cast.alice.id, cast.chantha.id, S.COMPLETED, -days(40))
    assert await archive_now(services) == 1
    config = alembic_config(book_settings.database_url)

    command.downgrade(config, "0807")  # the lookup is dropped
    command.upgrade(config, "head")  # and filled from the history as it stands

    [row] = rows(book_settings.database_url, f"SELECT {COLUMNS} FROM consultations_history_lookup")
    assert consultation_from_row(row) == old
    async with services.uow() as uow:
        assert await uow.consultations.get(old.id) == old
    page, _ = await a_past_page(
        services, ConsultationFilter(party_id=cast.chantha.id, period=Period.PAST)
    )
    assert page.items == [old]


async def test_the_scheduler_plans_one_archive_a_day(services, book_settings) -> None:
    scheduler = AsyncIOScheduler(timezone=UTC)
    schedule_periodic_jobs(scheduler, services)
    entry = scheduler.get_job("consultation_archive")
    assert entry is not None and entry.args[0] is CONSULTATION_ARCHIVE  # from the catalogue
    assert "hour='2'" in str(entry.trigger) and "minute='30'" in str(entry.trigger)
    plan = bind_plan(CONSULTATION_ARCHIVE, services.dependencies())

    for _ in range(2):  # a second scheduler, or a restart, the same day
        await plan_quietly(CONSULTATION_ARCHIVE, plan)

    jobs = jobs_of_kind(book_settings.database_url, "consultation.archive")
    assert once_a_day(jobs)  # one, or one a day when the two plans straddle midnight (UTC)
    assert {job["status"] for job in jobs} == {"queued"}
