"""Booking through the API, the payments feature and the workers' handlers, on the real
database and a local Bakong: hold, pay, confirm exactly once; concurrent holds (one wins);
idempotent holds; expiry and compensation; late payments re-booked or refunded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta

import pytest

from domain.availability.model import WeeklyWindow
from domain.consultations.jobs import CONSULTATION_RELEASE
from domain.jobs.model import Job
from domain.payments.jobs import PAYMENT_ACTIVATE
from domain.webhooks.jobs import WEBHOOK_PROCESS
from tests.conftest import make_settings
from tests.support.api import api_client, assert_problem
from tests.support.availability import add_calendar
from tests.support.bakong import TOKEN, running_bakong
from tests.support.handlers import handler_of
from tests.support.platform import running_services
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast
from tests.support.webhooks import NEW_SECRET, event_body, signed
from workers.handlers import bind_plan

CONSULTATIONS = "/api/v1/consultations"
HOOK = "/api/v1/webhooks/bakong"


@pytest.fixture
def bakong():
    with running_bakong() as server:
        yield server


@pytest.fixture
def book_settings(database_url, redis_url, tmp_path, bakong):
    return make_settings(
        database_url,
        redis_url,
        tmp_path / "data",
        webhook_secrets={"bakong": (NEW_SECRET,)},
        bakong_api_url=bakong.url,
        bakong_token=TOKEN,
        bakong_account_id="healthplat@aclb",
        rate_limit_user_per_minute=10_000,
        meeting_base_url="https://meet.example.org/rooms/",
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
    everyone = await add_cast(services)
    await add_calendar(services, everyone.chantha.id)  # every day 09:00-17:00 UTC, 30 minutes
    return everyone


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def hold_body(doctor_id, starts_at: datetime, minutes: int = 30) -> dict:
    return {
        "doctorId": str(doctor_id),
        "startsAt": starts_at.isoformat(),
        "endsAt": (starts_at + timedelta(minutes=minutes)).isoformat(),
    }


async def hold(api, member, body: dict, key: str | None = None):
    headers = dict(member.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await api.post(CONSULTATIONS, json=body, headers=headers)


def stored(settings, consultation_id: str) -> dict:
    [row] = rows(
        settings.database_url, "SELECT * FROM consultations WHERE id = %s", (consultation_id,)
    )
    return row


def jobs_of(settings, kind: str) -> list[Job]:
    found = rows(
        settings.database_url, "SELECT * FROM jobs WHERE kind = %s ORDER BY created_at", (kind,)
    )
    return [Job(**{k: v for k, v in row.items() if k in Job.__struct_fields__}) for row in found]


async def pay(api, services, bakong, settings, payment: dict) -> None:
    """Pay the KHQR at the local Bakong, deliver its callback and process it (the payment
    completes and its activation job is enqueued in the same transaction)."""
    paid = bakong.pay(payment["khqr"])
    body = event_body(
        "payment.completed",
        md5=payment["md5"],
        hash=paid["hash"],
        amount=str(paid["amount"]),
        currency=paid["currency"],
        acknowledgedDateMs=paid["acknowledgedDateMs"],
    )
    response = await api.post(HOOK, content=body, headers=signed(body, NEW_SECRET))
    assert response.status_code in (200, 202), response.text
    [job] = jobs_of(settings, "webhook.process")[-1:]
    assert (await handler_of(WEBHOOK_PROCESS, services)(job))["outcome"] == "completed"


async def activate(services, settings) -> list[dict]:
    return [
        await handler_of(PAYMENT_ACTIVATE, services)(job)
        for job in jobs_of(settings, "payment.activate")
    ]


async def test_hold_pay_and_confirm_exactly_once(
    api, services, cast, bakong, book_settings
) -> None:
    response = await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(10)))
    assert response.status_code == 201, response.text
    held = response.json()
    consultation = held["consultation"]
    assert consultation["status"] == "held" and consultation["meetingUrl"] is None
    assert held["payment"]["khqr"] and held["payment"]["md5"]
    expires = datetime.fromisoformat(consultation["holdExpiresAt"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
    [payment] = rows(book_settings.database_url, "SELECT * FROM payments")
    assert payment["purpose"] == "consultation" and payment["reference"] == consultation["id"]

    await pay(api, services, bakong, book_settings, held["payment"])
    [outcome] = await activate(services, book_settings)
    assert outcome["activated"] == "confirmed"
    again = await handler_of(PAYMENT_ACTIVATE, services)(
        jobs_of(book_settings, "payment.activate")[0]
    )
    assert again["activated"] == "already"

    read = await api.get(f"{CONSULTATIONS}/{consultation['id']}", headers=cast.alice.headers)
    assert read.json()["status"] == "confirmed"
    assert read.json()["meetingUrl"].startswith("https://meet.example.org/rooms/")
    assert len(read.json()["meetingUrl"]) > len("https://meet.example.org/rooms/") + 30
    assert len(audit_events(book_settings.database_url, "consultation.confirm")) == 1
    notices = rows(
        book_settings.database_url,
        "SELECT user_id FROM notices WHERE kind = 'consultation.update'",
    )
    assert {n["user_id"] for n in notices} == {cast.alice.id, cast.chantha.id}
    # the payment's receipt, and the confirmation to each side
    assert len(jobs_of(book_settings, "email.send")) == 3
    # the doctor reads it too; a stranger gets a 404
    assert (
        await api.get(f"{CONSULTATIONS}/{consultation['id']}", headers=cast.chantha.headers)
    ).status_code == 200
    assert_problem(
        await api.get(f"{CONSULTATIONS}/{consultation['id']}", headers=cast.borey.headers), 404
    )


async def test_a_zero_fee_is_confirmed_at_once_without_a_payment(
    api, services, cast, book_settings
) -> None:
    rows(
        book_settings.database_url,
        "UPDATE doctor_profiles SET consultation_fee_cents = 0 WHERE user_id = %s"
        " RETURNING user_id",
        (cast.chantha.id,),
    )
    response = await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(11)))
    assert response.status_code == 201, response.text
    assert response.json()["payment"] is None
    assert response.json()["consultation"]["status"] == "confirmed"
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM payments")[0]["n"] == 0


async def test_concurrent_holds_of_one_time_one_wins(api, services, cast, book_settings) -> None:
    body = hold_body(cast.chantha.id, tomorrow_at(14))
    members = [cast.alice, cast.borey] * 20
    answers = await asyncio.gather(*(hold(api, member, body) for member in members))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 1 and statuses.count(409) == len(members) - 1
    for answer in answers:
        if answer.status_code == 409:
            assert assert_problem(answer, 409)["code"] == "time_taken"
    blocking = rows(
        book_settings.database_url,
        "SELECT count(*) AS n FROM consultations WHERE status IN ('held', 'confirmed')",
    )
    assert blocking[0]["n"] == 1
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM payments")[0]["n"] == 1


async def test_overlaps_of_lengths_and_buffers_and_back_to_back_times(
    api, services, cast, book_settings
) -> None:
    # Dararith: 45-minute consultations with a 15-minute buffer; 20-minute ones after noon
    await add_calendar(
        services,
        cast.dararith.id,
        weekly=tuple(
            window
            for day in range(1, 8)
            for window in (
                WeeklyWindow(
                    weekday=day, start=time(9), end=time(12), slot_minutes=45, buffer_minutes=15
                ),
                WeeklyWindow(weekday=day, start=time(12), end=time(13), slot_minutes=20),
            )
        ),
    )
    first = await hold(api, cast.alice, hold_body(cast.dararith.id, tomorrow_at(9), 45))
    back_to_back = await hold(api, cast.borey, hold_body(cast.dararith.id, tomorrow_at(10), 45))
    assert first.status_code == back_to_back.status_code == 201
    # 11:00-11:45 blocks until 12:00 with its buffer; 12:00 starts right after
    late_morning = await hold(api, cast.alice, hold_body(cast.dararith.id, tomorrow_at(11), 45))
    noon = await hold(api, cast.borey, hold_body(cast.dararith.id, tomorrow_at(12), 20))
    assert late_morning.status_code == noon.status_code == 201
    # a time the calendar does not offer (off the grid) is refused, not squeezed in
    off_grid = await hold(api, cast.alice, hold_body(cast.dararith.id, tomorrow_at(9, 30), 45))
    assert assert_problem(off_grid, 422)["code"] == "not_offered"
    # the constraint itself refuses an overlap with the buffer, whatever the calendar says
    with pytest.raises(Exception) as refused:
        rows(
            book_settings.database_url,
            """
            INSERT INTO consultations (id, patient_id, doctor_id, starts_at, ends_at, blocked_until,
                status, room, created_at, updated_at)
            VALUES (%s, %s, %s, %s, %s, %s, 'held', 'x', now(), now()) RETURNING id
            """,
            (
                uuid.uuid4(),
                cast.alice.id,
                cast.dararith.id,
                tomorrow_at(9, 50),
                tomorrow_at(9, 55),
                tomorrow_at(9, 55),
            ),
        )
    assert "consultations_no_double_booking" in str(refused.value)


async def test_an_idempotency_key_replays_the_first_hold(
    api, services, cast, book_settings
) -> None:
    body = hold_body(cast.chantha.id, tomorrow_at(15))
    first = await hold(api, cast.alice, body, key="book-1")
    again = await hold(api, cast.alice, body, key="book-1")
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["consultation"]["id"] == first.json()["consultation"]["id"]
    assert again.json()["payment"]["id"] == first.json()["payment"]["id"]
    other = await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(16)), key="book-1")
    assert assert_problem(other, 409)["code"] == "idempotency_key_reused"
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM consultations")[0]["n"] == 1


async def release(services) -> dict | None:
    """The scheduler's planning run, then the planned job (None: nothing to release)."""
    submission = await bind_plan(CONSULTATION_RELEASE, services.dependencies())()
    if submission is None:
        return None
    return await handler_of(CONSULTATION_RELEASE, services)(submission.job)


def lapse(settings, consultation_id: str) -> None:
    """Move the hold's expiry into the past, as if HOLD_TTL had gone by."""
    rows(
        settings.database_url,
        "UPDATE consultations SET hold_expires_at = now() - interval '1 second' WHERE id = %s "
        "RETURNING id",
        (consultation_id,),
    )


async def test_an_expired_hold_is_released_and_a_late_payment_rebooks_it(
    api, services, cast, bakong, book_settings
) -> None:
    held = (await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(10)))).json()
    consultation_id = held["consultation"]["id"]
    lapse(book_settings, consultation_id)
    assert (await release(services))["released"] == 1
    assert stored(book_settings, consultation_id)["status"] == "released"
    told = rows(
        book_settings.database_url,
        "SELECT user_id FROM notices WHERE kind = 'consultation.update'",
    )
    assert [n["user_id"] for n in told] == [cast.alice.id]
    # the time is free again: the search lists it
    free = await api.get(
        f"/api/v1/availability/doctors/{cast.chantha.id}/free",
        params={"from": str(tomorrow_at(0).date()), "to": str(tomorrow_at(0).date())},
        headers=cast.borey.headers,
    )
    assert tomorrow_at(10) in {
        datetime.fromisoformat(item["startsAt"]) for item in free.json()["items"]
    }

    await pay(api, services, bakong, book_settings, held["payment"])
    [outcome] = await activate(services, book_settings)
    assert outcome["activated"] == "rebooked"
    assert stored(book_settings, consultation_id)["status"] == "confirmed"


async def test_a_late_payment_for_a_time_taken_meanwhile_is_refunded(
    api, services, cast, bakong, book_settings
) -> None:
    held = (await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(10)))).json()
    consultation_id = held["consultation"]["id"]
    lapse(book_settings, consultation_id)
    assert (await release(services))["released"] == 1
    taken = await hold(api, cast.borey, hold_body(cast.chantha.id, tomorrow_at(10)))
    assert taken.status_code == 201, taken.text

    await pay(api, services, bakong, book_settings, held["payment"])
    [outcome] = await activate(services, book_settings)
    assert outcome["activated"] == "refund_requested"
    assert stored(book_settings, consultation_id)["status"] == "released"
    [payment] = rows(
        book_settings.database_url,
        "SELECT status FROM payments WHERE id = %s",
        (held["payment"]["id"],),
    )
    assert payment["status"] == "refund_pending"
    assert audit_events(book_settings.database_url, "consultation.late_payment")


async def test_bad_holds_are_refused_and_change_nothing(api, services, cast, book_settings) -> None:
    past = await hold(
        api, cast.alice, hold_body(cast.chantha.id, datetime.now(UTC) - timedelta(hours=1))
    )
    assert_problem(past, 422)
    unknown = await hold(api, cast.alice, hold_body(uuid.uuid4(), tomorrow_at(10)))
    assert_problem(unknown, 404)
    by_doctor = await hold(api, cast.chantha, hold_body(cast.chantha.id, tomorrow_at(10)))
    assert_problem(by_doctor, 403)
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM consultations")[0]["n"] == 0
