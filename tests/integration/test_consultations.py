"""Booking through the API, the payments feature and the workers' handlers, on the real
database and a local Bakong: hold, pay, confirm exactly once; concurrent holds (one wins);
idempotent holds; expiry and compensation; late payments re-booked or refunded."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.availability.model import WeeklyWindow
from domain.consultations.jobs import CONSULTATION_RELEASE, CONSULTATION_REMIND
from domain.consultations.model import ConsultationStatus
from domain.jobs.model import Job
from domain.payments.jobs import PAYMENT_ACTIVATE
from domain.webhooks.jobs import WEBHOOK_PROCESS
from tests.conftest import make_settings
from tests.support.api import api_client, assert_problem
from tests.support.availability import add_calendar
from tests.support.bakong import TOKEN, running_bakong
from tests.support.consultations import add_consultation
from tests.support.handlers import handler_of
from tests.support.medicines import seeded_medicine
from tests.support.platform import running_services
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast, connect
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
    # the completion committed its activation job with it (the outbox): a worker dying now
    # leaves a queued job the relay sends again, and the consultation is still held
    [queued] = jobs_of(book_settings, "payment.activate")
    assert queued.status == "queued" and queued.payload == {"paymentId": held["payment"]["id"]}
    assert stored(book_settings, consultation["id"])["status"] == "held"
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
    assert assert_problem(off_grid, 409)["code"] == "not_offered"
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
    assert assert_problem(past, 409)["code"] == "time_passed"
    unknown = await hold(api, cast.alice, hold_body(uuid.uuid4(), tomorrow_at(10)))
    assert_problem(unknown, 404)
    by_doctor = await hold(api, cast.chantha, hold_body(cast.chantha.id, tomorrow_at(10)))
    assert_problem(by_doctor, 403)
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM consultations")[0]["n"] == 0


# --- lifecycle: guarded moves, cancellation refunds, rescheduling, reminders -------------------


async def confirmed_paid(api, services, bakong, settings, member, doctor_id, starts_at) -> str:
    response = await hold(api, member, hold_body(doctor_id, starts_at))
    assert response.status_code == 201, response.text
    held = response.json()
    await pay(api, services, bakong, settings, held["payment"])
    for job in jobs_of(settings, "payment.activate"):
        await handler_of(PAYMENT_ACTIVATE, services)(job)
    return held["consultation"]["id"]


async def refund_asked(services, consultation_id: str) -> tuple[str, int]:
    async with services.uow() as uow:
        consultation = await uow.consultations.get(uuid.UUID(consultation_id))
        payment = await uow.payments.get(consultation.payment_id)
    return payment.status.value, payment.refund_requested_minor


async def next_free_within(api, member, doctor_id, hours: int) -> datetime:
    today = datetime.now(UTC).date()
    found = await api.get(
        f"/api/v1/availability/doctors/{doctor_id}/free",
        params={"from": str(today), "to": str(today + timedelta(days=1))},
        headers=member.headers,
    )
    now = datetime.now(UTC)
    times = [datetime.fromisoformat(item["startsAt"]) for item in found.json()["items"]]
    return next(t for t in times if now + timedelta(minutes=5) < t < now + timedelta(hours=hours))


async def test_cancelling_refunds_by_the_policy(api, services, cast, bakong, book_settings) -> None:
    early = await confirmed_paid(
        api,
        services,
        bakong,
        book_settings,
        cast.alice,
        cast.chantha.id,
        tomorrow_at(10) + timedelta(days=2),
    )
    late = await confirmed_paid(
        api,
        services,
        bakong,
        book_settings,
        cast.borey,
        cast.chantha.id,
        await next_free_within(api, cast.borey, cast.chantha.id, 23),
    )
    by_doctor = await confirmed_paid(
        api,
        services,
        bakong,
        book_settings,
        cast.alice,
        cast.chantha.id,
        tomorrow_at(11) + timedelta(days=2),
    )
    for consultation_id, member in (
        (early, cast.alice),
        (late, cast.borey),
        (by_doctor, cast.chantha),
    ):
        response = await api.post(
            f"{CONSULTATIONS}/{consultation_id}/cancel", headers=member.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
    fee = 2500  # Chantha's consultation fee, in cents
    assert await refund_asked(services, early) == ("refund_pending", fee)
    assert await refund_asked(services, late) == ("refund_pending", fee * 50 // 100)
    assert await refund_asked(services, by_doctor) == ("refund_pending", fee)
    assert len(audit_events(book_settings.database_url, "consultation.cancel")) == 3
    again = await api.post(f"{CONSULTATIONS}/{early}/cancel", headers=cast.alice.headers)
    assert_problem(again, 409)
    # the time of a cancelled consultation is free again
    retaken = await hold(
        api, cast.borey, hold_body(cast.chantha.id, tomorrow_at(10) + timedelta(days=2))
    )
    assert retaken.status_code == 201, retaken.text


async def test_moves_are_guarded_by_side_state_and_time(api, services, cast, book_settings) -> None:
    later = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(days=2)
    )
    soon = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(minutes=5)
    )
    path = f"{CONSULTATIONS}/{later.id}"
    assert_problem(await api.post(f"{path}/start", headers=cast.alice.headers), 403)
    assert_problem(await api.post(f"{path}/start", headers=cast.dararith.headers), 404)
    assert_problem(await api.post(f"{path}/start", headers=cast.chantha.headers), 409)  # too early
    assert_problem(await api.post(f"{path}/no-show", headers=cast.chantha.headers), 409)
    assert_problem(await api.post(f"{path}/complete", headers=cast.chantha.headers), 409)
    soon_path = f"{CONSULTATIONS}/{soon.id}"
    started = await api.post(f"{soon_path}/start", headers=cast.chantha.headers)
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    assert started.json()["meetingUrl"].startswith("https://")
    done = await api.post(f"{soon_path}/complete", headers=cast.chantha.headers)
    assert done.json()["status"] == "completed" and done.json()["meetingUrl"] is None
    assert_problem(await api.post(f"{soon_path}/cancel", headers=cast.alice.headers), 409)
    actions = [e["action"] for e in audit_events(book_settings.database_url)]
    assert actions.count("consultation.start") == 1 and actions.count("consultation.complete") == 1


async def remind(services) -> dict | None:
    submission = await bind_plan(CONSULTATION_REMIND, services.dependencies())()
    if submission is None:
        return None
    return await handler_of(CONSULTATION_REMIND, services)(submission.job)


def reminder_notices(settings, user_id) -> int:
    found = rows(
        settings.database_url,
        "SELECT count(*) AS n FROM notices WHERE kind = 'consultation.reminder' AND user_id = %s",
        (user_id,),
    )
    return found[0]["n"]


async def test_reminders_come_24_and_1_hours_before_and_follow_the_consultation(
    api, services, cast, book_settings
) -> None:
    tomorrow = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(hours=20)
    )
    within_the_hour = await add_consultation(
        services, cast.borey.id, cast.chantha.id, starts_in=timedelta(minutes=40)
    )
    far = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(days=3)
    )
    assert (await remind(services))["reminded"] == 2
    assert await remind(services) is None  # nothing more is due
    assert reminder_notices(book_settings, cast.alice.id) == 1
    assert reminder_notices(book_settings, cast.borey.id) == 1
    assert reminder_notices(book_settings, cast.chantha.id) == 2
    sent = rows(book_settings.database_url, "SELECT id, reminders_sent FROM consultations")
    assert {row["id"]: row["reminders_sent"] for row in sent} == {
        tomorrow.id: 1,
        within_the_hour.id: 2,
        far.id: 0,
    }
    reminders = [
        job
        for job in jobs_of(book_settings, "email.send")
        if job.idempotency_key.startswith("reminder:")
    ]
    assert len(reminders) == 2  # appointment_reminder to each patient; doctors are told in the app

    # rescheduled: the sent reminder counts no more, the new time gets its own
    moved = await api.post(
        f"{CONSULTATIONS}/{tomorrow.id}/reschedule",
        json={
            "startsAt": (tomorrow_at(9) + timedelta(days=4)).isoformat(),
            "endsAt": (tomorrow_at(9, 30) + timedelta(days=4)).isoformat(),
        },
        headers=cast.alice.headers,
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["startsAt"]) == tomorrow_at(9) + timedelta(days=4)
    assert stored(book_settings, str(tomorrow.id))["reminders_sent"] == 0
    assert await remind(services) is None  # four days away: nothing due yet

    # cancelled: no reminder ever comes
    cancelled = await api.post(f"{CONSULTATIONS}/{far.id}/cancel", headers=cast.alice.headers)
    assert cancelled.status_code == 200
    rows(
        book_settings.database_url,
        "UPDATE consultations SET starts_at = now() + interval '2 hours',"
        " ends_at = now() + interval '150 minutes', blocked_until = now() + interval '150 minutes'"
        " WHERE id = %s RETURNING id",
        (far.id,),
    )
    assert await remind(services) is None


async def test_rescheduling_is_atomic_and_refuses_a_taken_time(
    api, services, cast, book_settings
) -> None:
    first = (await hold(api, cast.alice, hold_body(cast.chantha.id, tomorrow_at(10)))).json()
    other = (await hold(api, cast.borey, hold_body(cast.chantha.id, tomorrow_at(11)))).json()
    taken = await api.post(
        f"{CONSULTATIONS}/{first['consultation']['id']}/reschedule",
        json={"startsAt": tomorrow_at(11).isoformat(), "endsAt": tomorrow_at(11, 30).isoformat()},
        headers=cast.alice.headers,
    )
    assert assert_problem(taken, 409)["code"] == "time_taken"
    assert stored(book_settings, first["consultation"]["id"])["starts_at"] == tomorrow_at(10)
    # onto its own neighbourhood: 10:30 does not overlap 10:00 once moved (one row, one range)
    moved = await api.post(
        f"{CONSULTATIONS}/{first['consultation']['id']}/reschedule",
        json={"startsAt": tomorrow_at(10, 30).isoformat(), "endsAt": tomorrow_at(11).isoformat()},
        headers=cast.alice.headers,
    )
    assert moved.status_code == 200, moved.text
    freed = await hold(api, cast.borey, hold_body(cast.chantha.id, tomorrow_at(10)))
    assert freed.status_code == 201, freed.text
    by_doctor = await api.post(
        f"{CONSULTATIONS}/{other['consultation']['id']}/reschedule",
        json={"startsAt": tomorrow_at(12).isoformat(), "endsAt": tomorrow_at(12, 30).isoformat()},
        headers=cast.chantha.headers,
    )
    assert_problem(by_doctor, 403)


# --- lists and the doctor's day -----------------------------------------------------------------


async def test_lists_page_upcoming_and_past_per_side(api, services, cast, book_settings) -> None:
    upcoming = [
        await add_consultation(
            services, cast.alice.id, cast.chantha.id, starts_in=timedelta(days=d)
        )
        for d in (3, 1, 2)
    ]
    done = await add_consultation(
        services, cast.alice.id, cast.chantha.id, ConsultationStatus.COMPLETED, timedelta(days=-1)
    )
    await add_consultation(services, cast.borey.id, cast.dararith.id, starts_in=timedelta(days=1))

    first = await api.get(CONSULTATIONS, params={"limit": 2}, headers=cast.alice.headers)
    assert first.status_code == 200, first.text
    page = first.json()
    rest = await api.get(
        CONSULTATIONS, params={"limit": 2, "cursor": page["nextCursor"]}, headers=cast.alice.headers
    )
    listed = [item["id"] for item in page["items"] + rest.json()["items"]]
    soonest_first = sorted(upcoming, key=lambda c: c.starts_at)
    assert listed == [str(c.id) for c in soonest_first] and rest.json()["nextCursor"] is None

    past = await api.get(CONSULTATIONS, params={"period": "past"}, headers=cast.chantha.headers)
    assert [item["id"] for item in past.json()["items"]] == [str(done.id)]
    by_status = await api.get(
        CONSULTATIONS, params={"period": "past", "status": "confirmed"}, headers=cast.alice.headers
    )
    assert by_status.json()["items"] == []
    # nobody sees another's consultations; an admin sees all
    dararith = await api.get(CONSULTATIONS, headers=cast.dararith.headers)
    assert len(dararith.json()["items"]) == 1
    everyone = await api.get(CONSULTATIONS, headers=cast.eang.headers)
    assert len(everyone.json()["items"]) == 4
    assert audit_events(book_settings.database_url, "consultation.list")
    bad = await api.get(CONSULTATIONS, params={"cursor": "nonsense"}, headers=cast.alice.headers)
    assert bad.status_code in (400, 422)


async def test_the_doctors_day_in_their_own_zone(api, services, cast, book_settings) -> None:
    # Phnom Penh is UTC+7: the local day D runs from 17:00 UTC on D-1 to 17:00 UTC on D
    await add_calendar(services, cast.dararith.id, time_zone="Asia/Phnom_Penh")
    day = datetime.now(UTC).date() + timedelta(days=3)
    morning = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)  # 09:00 in Phnom Penh
    utc_day_before = morning - timedelta(hours=8)  # 18:00 UTC on D-1: 01:00 on D there
    utc_same_day = morning + timedelta(hours=20)  # 22:00 UTC on D: 05:00 on D+1 there
    made = []
    for starts_at in (morning, utc_day_before, utc_same_day):
        consultation = await add_consultation(
            services, cast.alice.id, cast.dararith.id, starts_at=starts_at
        )
        made.append(consultation)
    view = await api.get(
        f"{CONSULTATIONS}/day", params={"date": str(day)}, headers=cast.dararith.headers
    )
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["timeZone"] == "Asia/Phnom_Penh"
    local_days = {c.id: c.starts_at.astimezone(ZoneInfo("Asia/Phnom_Penh")).date() for c in made}
    expected = sorted((c for c in made if local_days[c.id] == day), key=lambda c: c.starts_at)
    assert [item["id"] for item in body["items"]] == [str(c.id) for c in expected]
    assert [c.starts_at for c in expected] == [utc_day_before, morning]
    assert_problem(await api.get(f"{CONSULTATIONS}/day", headers=cast.alice.headers), 403)


async def test_the_doctors_notes_are_sealed_and_read_by_both_sides(
    api, services, cast, book_settings
) -> None:
    soon = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(minutes=5)
    )
    notes_path = f"{CONSULTATIONS}/{soon.id}/notes"
    text = "Blood pressure 150/95; start amlodipine 5 mg"
    early = await api.put(notes_path, json={"notes": text}, headers=cast.chantha.headers)
    assert_problem(early, 409)  # not started yet
    await api.post(f"{CONSULTATIONS}/{soon.id}/start", headers=cast.chantha.headers)
    written = await api.put(notes_path, json={"notes": text}, headers=cast.chantha.headers)
    assert written.status_code == 204, written.text
    for member in (cast.chantha, cast.alice):
        read = await api.get(notes_path, headers=member.headers)
        assert read.status_code == 200 and read.json()["notes"] == text
    assert_problem(await api.get(notes_path, headers=cast.borey.headers), 404)
    assert_problem(await api.put(notes_path, json={"notes": "x"}, headers=cast.alice.headers), 403)
    [row] = rows(
        book_settings.database_url,
        "SELECT notes_sealed, notes_key_id FROM consultations WHERE id = %s",
        (soon.id,),
    )
    assert row["notes_key_id"] and b"amlodipine" not in bytes(row["notes_sealed"])
    assert audit_events(book_settings.database_url, "consultation.read_notes")


async def test_prescriptions_written_from_a_consultation_are_linked(
    api, services, cast, book_settings
) -> None:
    await connect(
        services, cast.alice.id, cast.chantha.id
    )  # a doctor prescribes to connected patients
    medicine = await seeded_medicine(services, "amoxicillin", "capsule")
    soon = await add_consultation(
        services, cast.alice.id, cast.chantha.id, starts_in=timedelta(minutes=5)
    )
    written = await api.post(
        "/api/v1/prescriptions",
        json={
            "patientId": str(cast.alice.id),
            "items": [
                {
                    "medicineId": medicine,
                    "strength": "500 mg",
                    "doseAmount": "1",
                    "doseForm": "capsule",
                    "frequency": "TID",
                    "timing": "after_meals",
                    "startDate": datetime.now(UTC).date().isoformat(),
                    "durationDays": 7,
                }
            ],
        },
        headers=cast.chantha.headers,
    )
    assert written.status_code == 201, written.text
    prescription_id = written.json()["id"]
    link = f"{CONSULTATIONS}/{soon.id}/prescriptions"
    body = {"prescriptionId": prescription_id}
    assert_problem(
        await api.post(link, json=body, headers=cast.chantha.headers), 409
    )  # not started
    await api.post(f"{CONSULTATIONS}/{soon.id}/start", headers=cast.chantha.headers)
    linked = await api.post(link, json=body, headers=cast.chantha.headers)
    assert linked.status_code == 200, linked.text
    assert linked.json()["prescriptionIds"] == [prescription_id]
    again = await api.post(link, json=body, headers=cast.chantha.headers)
    assert assert_problem(again, 409)["code"] == "linked"
    unknown = await api.post(
        link, json={"prescriptionId": str(uuid.uuid4())}, headers=cast.chantha.headers
    )
    assert_problem(unknown, 404)
    listed = await api.get(link, headers=cast.alice.headers)
    assert listed.json()["prescriptionIds"] == [prescription_id]
    assert_problem(await api.get(link, headers=cast.borey.headers), 404)


async def test_a_consultation_fee_paid_without_a_hold_books_nothing(
    api, services, cast, bakong, book_settings
) -> None:
    made = await api.post(
        "/api/v1/payments",
        json={"purpose": "consultation", "doctorId": str(cast.chantha.id)},
        headers=cast.alice.headers,
    )
    assert made.status_code == 201, made.text
    await pay(api, services, bakong, book_settings, made.json())
    [outcome] = await activate(services, book_settings)
    assert outcome["activated"] == "unbooked"
    assert rows(book_settings.database_url, "SELECT count(*) AS n FROM consultations")[0]["n"] == 0
