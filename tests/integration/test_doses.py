"""Doses on the real database, on a clock the test moves: made in the patient's time zone
across a daylight-saving change and across a change of zone, marked taken (late) or
skipped, missed by the job, reminded, extended daily, each change on the dose trail."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.auditing import AuditContext
from domain.clock import ManualClock
from domain.doses import jobs as dose_jobs
from domain.doses import marking
from domain.errors import InvalidTransition, ValidationFailed
from domain.identity import Principal
from domain.notifications.inapp import NoticeKind
from domain.policies import Access, policy_named
from domain.prescriptions import jobs as prescription_jobs
from domain.prescriptions import lifecycle, time_zone, writing
from domain.prescriptions.model import ItemInput
from tests.support.emails import stored_emails
from tests.support.medicines import seeded_medicine
from tests.support.platform import wired
from tests.support.rows import rows
from tests.support.users import Member, add_cast, connect

BERLIN = ZoneInfo("Europe/Berlin")
SPRING_FORWARD = date(2031, 3, 30)  # 02:00 -> 03:00 in Berlin


@pytest.fixture
def clock() -> ManualClock:
    # 00:30 in Berlin on the day before the clocks go forward
    return ManualClock(datetime(2031, 3, 28, 23, 30, tzinfo=UTC))


@pytest.fixture
async def cast(clocked_services):
    everyone = await add_cast(clocked_services)
    await connect(clocked_services, everyone.alice.id, everyone.chantha.id)
    return everyone


def access(member: Member, policy: str) -> Access:
    return Access(Principal(user_id=str(member.id), role=member.role), policy_named(policy))


def audit(member: Member) -> AuditContext:
    return AuditContext(actor_id=str(member.id), actor_role=member.role.value)


async def set_zone(services, member: Member, name: str) -> None:
    await wired(services).run(
        time_zone.set_time_zone,
        access(member, "patient.time_zone"),
        audit(member),
        member.id,
        name,
    )


async def prescribe_and_activate(
    services, cast, start: date, frequency: str = "BID", days: int = 5
) -> uuid.UUID:
    paracetamol = uuid.UUID(await seeded_medicine(services, "paracetamol"))
    item = ItemInput(
        medicine_id=paracetamol,
        strength="500 mg",
        dose_amount="1",
        dose_form="tablet",
        frequency=frequency,
        start_date=start,
        duration_days=days,
    )
    cases = wired(services)
    doctor = cast.chantha
    prescribed = await cases.run(
        writing.create_prescription,
        access(doctor, "prescription.create"),
        audit(doctor),
        cast.alice.id,
        [item],
    )
    await cases.run(
        lifecycle.activate_prescription,
        access(doctor, "prescription.write"),
        audit(doctor),
        prescribed.prescription.id,
    )
    return prescribed.prescription.id


def doses(database_url: str, status: str | None = None) -> list[dict]:
    return rows(
        database_url,
        "SELECT * FROM doses WHERE %(status)s::text IS NULL OR status = %(status)s ORDER BY due_at",
        {"status": status},
    )


def local(dose: dict, tz: ZoneInfo) -> datetime:
    return dose["due_at"].astimezone(tz)


async def test_doses_keep_their_local_time_across_a_daylight_saving_change(
    clocked_services, cast, settings
) -> None:
    await set_zone(clocked_services, cast.alice, "Europe/Berlin")
    await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "BID", days=3)

    made = doses(settings.database_url)
    assert [local(d, BERLIN).time() for d in made] == [time(8), time(20)] * 3
    assert [d["local_date"] for d in made] == [
        date(2031, 3, 29), date(2031, 3, 29), SPRING_FORWARD, SPRING_FORWARD,
        date(2031, 3, 31), date(2031, 3, 31),
    ]  # fmt: skip
    # in UTC the morning dose moves an hour earlier once summer time starts
    assert [d["due_at"].astimezone(UTC).hour for d in made[::2]] == [7, 6, 6]


async def test_a_dose_inside_the_spring_gap_falls_after_it(
    clocked_services, cast, settings
) -> None:
    await set_zone(clocked_services, cast.alice, "Europe/Berlin")
    # q6h: 02:00 is one of its times, and 02:00 does not exist in Berlin on 30 March 2031
    await prescribe_and_activate(clocked_services, cast, SPRING_FORWARD, "q6h", days=1)
    made = doses(settings.database_url)
    # 02:00 is read at the offset before the gap (UTC+1): 01:00 UTC, which is 03:00 CEST
    assert [local(d, BERLIN).strftime("%H:%M") for d in made] == [
        "03:00", "08:00", "14:00", "20:00",
    ]  # fmt: skip
    assert len(made) == 4 and len({d["due_at"] for d in made}) == 4


async def test_changing_time_zone_moves_the_doses_to_come_only(
    clocked_services, cast, settings, clock
) -> None:
    await set_zone(clocked_services, cast.alice, "Asia/Phnom_Penh")
    phnom_penh, new_york = ZoneInfo("Asia/Phnom_Penh"), ZoneInfo("America/New_York")
    await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "BID", days=6)
    before = doses(settings.database_url)
    assert {local(d, phnom_penh).time() for d in before} == {time(8), time(20)}

    clock.advance(2 * 24 * 3600)  # two days later the patient flies to New York
    now = clock.now()
    await set_zone(clocked_services, cast.alice, "America/New_York")
    after = doses(settings.database_url)
    kept = [d for d in after if d["due_at"] < now]
    moved = [d for d in after if d["due_at"] >= now]
    assert kept == [d for d in before if d["due_at"] < now]  # what was due stays as it was
    assert moved and {local(d, new_york).time() for d in moved} == {time(8), time(20)}
    # the last day is still the prescription's last day, now in New York
    assert max(d["local_date"] for d in moved) == date(2031, 4, 3)
    assert len({(d["local_date"], local(d, new_york).time()) for d in moved}) == len(moved)


async def test_taken_late_skipped_and_edited_are_on_the_trail(
    clocked_services, cast, settings, clock
) -> None:
    await set_zone(clocked_services, cast.alice, "Europe/Berlin")
    await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "BID", days=2)
    first, second, third = doses(settings.database_url)[:3]
    cases = wired(clocked_services)
    patient = cast.alice
    mark = access(patient, "dose.mark")

    clock.advance((first["due_at"] - clock.now()).total_seconds() + 10 * 60)
    taken = await cases.run(marking.mark_taken, mark, audit(patient), first["id"], None)
    assert taken.status == "taken" and not taken.late

    late_time = second["due_at"] + timedelta(minutes=settings.dose_late_after_minutes + 30)
    clock.advance((late_time - clock.now()).total_seconds())
    late = await cases.run(marking.mark_taken, mark, audit(patient), second["id"], late_time)
    assert late.late

    skipped = await cases.run(
        marking.mark_skipped, mark, audit(patient), third["id"], "Felt sick after dinner."
    )
    assert skipped.status == "skipped" and skipped.reason == "Felt sick after dinner."
    [stored] = rows(settings.database_url, "SELECT t::text AS text FROM doses t WHERE id = %s",
                    (third["id"],))  # fmt: skip
    assert "sick" not in stored["text"]  # the reason is sealed

    edited = await cases.run(marking.mark_taken, mark, audit(patient), third["id"], clock.now())
    assert edited.status == "taken" and edited.reason is None
    trail = rows(
        settings.database_url,
        "SELECT kind, from_status, to_status, late FROM dose_events ORDER BY id",
    )
    assert [(e["kind"], e["from_status"], e["to_status"], e["late"]) for e in trail] == [
        ("taken", "scheduled", "taken", False),
        ("taken", "scheduled", "taken", True),
        ("skipped", "scheduled", "skipped", False),
        ("edited", "skipped", "taken", False),  # taken before it was due: not late
    ]

    with pytest.raises(ValidationFailed):  # not in the future
        await cases.run(
            marking.mark_taken, mark, audit(patient), first["id"], clock.now() + timedelta(hours=1)
        )
    with pytest.raises(ValidationFailed):
        await cases.run(marking.mark_skipped, mark, audit(patient), first["id"], "   ")


async def test_the_missed_job_and_reminders(clocked_services, cast, settings, clock) -> None:
    await set_zone(clocked_services, cast.alice, "Europe/Berlin")
    await wired(clocked_services).run(
        _email_reminders_on, access(cast.alice, "notice.preferences"), cast.alice
    )
    await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "OD", days=3)
    first = doses(settings.database_url)[0]
    cases = wired(clocked_services)

    clock.advance((first["due_at"] - clock.now()).total_seconds())  # 08:00: due
    reminded = await cases(dose_jobs.remind_doses)(None)
    assert reminded == {"reminded": 1, "emailed": 1}
    assert await cases(dose_jobs.remind_doses)(None) == {"reminded": 0, "emailed": 0}
    notices = rows(settings.database_url, "SELECT kind FROM notices WHERE user_id = %s",
                   (cast.alice.id,))  # fmt: skip
    assert {"kind": NoticeKind.DOSE_REMINDER.value} in notices
    reminder = [
        e for e in stored_emails(settings.database_url) if e.row["template"] == "dose_reminder"
    ]
    assert reminder and reminder[0].data["dueAt"] == "08:00 (Europe/Berlin)"

    assert await cases(dose_jobs.mark_missed_doses)(None) == {"missed": 0}  # within its grace
    clock.advance(settings.dose_grace_minutes * 60 + 1)
    assert await cases(dose_jobs.mark_missed_doses)(None) == {"missed": 1}
    assert [d["status"] for d in doses(settings.database_url)] == [
        "missed",
        "scheduled",
        "scheduled",
    ]
    [event] = rows(settings.database_url, "SELECT kind FROM dose_events")
    assert event["kind"] == "missed"
    # a missed dose may still be marked taken afterwards: an edit
    cases_mark = access(cast.alice, "dose.mark")
    taken = await cases.run(
        marking.mark_taken, cases_mark, audit(cast.alice), first["id"], clock.now()
    )
    assert taken.late


async def _email_reminders_on(access: Access, member: Member, *, uow_factory) -> None:
    async with uow_factory() as uow:
        await uow.notices.set_preferences(member.id, {NoticeKind.DOSE_REMINDER: True})


async def test_doses_are_made_a_horizon_ahead_and_extended_daily(
    clocked_services, cast, settings, clock
) -> None:
    await set_zone(clocked_services, cast.alice, "Europe/Berlin")
    await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "OD", days=60)
    made = doses(settings.database_url)
    horizon = settings.dose_horizon_days
    assert len(made) == horizon + 1  # today through today + horizon, not sixty days of rows
    clock.advance(3 * 24 * 3600)
    result = await wired(clocked_services)(prescription_jobs.extend_doses)(None)
    assert result == {"prescriptions": 1, "dosesMade": 3}
    again = await wired(clocked_services)(prescription_jobs.extend_doses)(None)
    assert again["dosesMade"] == 0
    days = [d["local_date"] for d in doses(settings.database_url)]
    assert days == sorted(set(days)) and len(days) == horizon + 4


async def test_a_cancelled_prescription_cancels_its_doses_to_come(
    clocked_services, cast, settings, clock
) -> None:
    prescription_id = await prescribe_and_activate(clocked_services, cast, date(2031, 3, 29), "BID")
    clock.advance(24 * 3600)
    await wired(clocked_services).run(
        lifecycle.end_prescription,
        access(cast.chantha, "prescription.write"),
        audit(cast.chantha),
        prescription_id,
        "cancel",
    )
    statuses = {(d["due_at"] > clock.now(), d["status"]) for d in doses(settings.database_url)}
    assert statuses == {(False, "scheduled"), (True, "cancelled")}
    with pytest.raises(InvalidTransition):
        await wired(clocked_services).run(
            lifecycle.end_prescription,
            access(cast.chantha, "prescription.write"),
            audit(cast.chantha),
            prescription_id,
            "complete",
        )


async def test_an_unknown_time_zone_is_refused(clocked_services, cast) -> None:
    for bad in ("Mars/Olympus", "UTC+7", "../etc/passwd", ""):
        with pytest.raises(ValidationFailed):
            await set_zone(clocked_services, cast.alice, bad)
