"""Booking's use cases through in-memory fakes of its ports: holding (one winner per time,
idempotent retries, zero fees), confirmation by payment (exactly once, late payments
re-booked or refunded), the lifecycle's guarded moves, rescheduling, refunds by the
cancellation policy, notes, prescribing, telling both sides, reminders, and the history."""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta

import msgspec
import pytest

from domain.availability import ports as availability_ports
from domain.consultations import ports
from domain.consultations.confirmation import activate_consultation
from domain.consultations.history import archive_finished
from domain.consultations.hold import HoldRequest, hold_consultation
from domain.consultations.jobs import CONSULTATION_RELEASE, release_holds, send_reminders
from domain.consultations.lifecycle import act_on_consultation, reschedule_consultation
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationStatus,
    Period,
    new_room,
)
from domain.consultations.notes import read_notes, write_notes
from domain.consultations.prescribing import consultation_prescriptions, link_prescription
from domain.consultations.reading import doctor_day, list_consultations, read_consultation
from domain.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from domain.identity import Principal
from domain.jobs.model import NewJob
from domain.payments.model import Payment, PaymentStatus
from domain.payments.money import Currency
from domain.policies import Access, policy_named
from domain.prescriptions.model import Prescription, PrescriptionStatus
from tests.fakes.consultations import (
    SETTINGS,
    BookingWorld,
    FakeCalendars,
    FakeConsultationRepository,
    FakePatientLookup,
)
from tests.fakes.emails import emails_sent
from tests.fakes.jobs import new_job_row
from tests.fakes.medication import FakePrescriptionRepository

S = ConsultationStatus
PAIRS = [
    (ports.ConsultationRepository, FakeConsultationRepository),
    (availability_ports.CalendarRepository, FakeCalendars),
    (ports.PatientLookup, FakePatientLookup),
    (ports.Prescriptions, FakePrescriptionRepository),
]


@pytest.mark.parametrize(("port", "fake"), PAIRS, ids=lambda x: getattr(x, "__name__", ""))
def test_each_fake_has_its_ports_methods(port, fake) -> None:
    for name, member in inspect.getmembers(port, inspect.isfunction):
        if name.startswith("_"):
            continue
        held = getattr(fake, name, None)
        assert held is not None, f"{fake.__name__} lacks {name}"
        assert list(inspect.signature(held).parameters) == list(
            inspect.signature(member).parameters
        ), name
        assert inspect.iscoroutinefunction(held) == inspect.iscoroutinefunction(member), name


class Booking(BookingWorld):
    """The world, and the steps the tests take in it."""

    def __init__(self, settings=SETTINGS) -> None:
        super().__init__(settings)
        self.doctor_ = self.bookable_doctor()
        self.alice = self.reachable_patient("Sokha")
        self.borey = self.reachable_patient("Borey")

    async def hold(self, who: Principal, starts_at, minutes: int = 30, key: str | None = None):
        request = HoldRequest(
            doctor_id=uuid.UUID(self.doctor_.user_id),
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
        )
        return await self.run(hold_consultation, who, "consultation.hold", request, key)

    def complete_payment(self, payment_id: uuid.UUID) -> Payment:
        payment = self.table("payments")[payment_id]
        paid = msgspec.structs.replace(
            payment,
            status=PaymentStatus.COMPLETED,
            completed_at=self.clock.now(),
            transaction_hash=uuid.uuid4().hex,
            paid_minor=payment.amount_minor,
            paid_currency=payment.currency,
        )
        self.table("payments")[payment_id] = paid
        return paid

    async def activate(self, payment: Payment) -> str:
        return await self.cases.run(activate_consultation, payment)

    async def confirmed(self, who: Principal, starts_at) -> Consultation:
        held = await self.hold(who, starts_at)
        assert held.payment is not None
        assert await self.activate(self.complete_payment(held.payment.id)) == "confirmed"
        return self.stored(held.consultation.id)

    async def act(self, who: Principal, consultation_id: uuid.UUID, transition: str):
        policy = {
            "cancel": "consultation.cancel",
            "start": "consultation.conduct",
            "complete": "consultation.conduct",
            "no_show": "consultation.conduct",
        }[transition]
        return await self.run(act_on_consultation, who, policy, consultation_id, transition)

    async def read(self, who: Principal, consultation_id: uuid.UUID) -> Consultation:
        access = Access(principal=who, policy=policy_named("consultation.read"))
        return await self.cases.run(read_consultation, access, consultation_id)

    def job(self, kind=CONSULTATION_RELEASE):
        return new_job_row(
            NewJob(kind=kind, owner_id="system", payload={}), uuid.uuid4(), self.clock.now()
        )

    def emails_to(self, who: Principal) -> list[str]:
        """The templates of the e-mails written to ``who``, oldest first."""
        address = self.table("contacts")[uuid.UUID(who.user_id)][1]
        return [e.template for e in emails_sent(self.uow.database) if e.to_address == address]


@pytest.fixture
def world() -> Booking:
    return Booking()


# --- the fake checks what the real store checks ---------------------------------------------


async def test_the_fake_refuses_overlaps_as_the_exclusion_constraint_does(world) -> None:
    doctor = uuid.UUID(world.doctor_.user_id)
    start = world.day_at(1, 9)

    def booking(status, starts_at, minutes=30, buffer=10) -> Consultation:
        return Consultation(
            id=uuid.uuid4(),
            patient_id=uuid.UUID(world.alice.user_id),
            doctor_id=doctor,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=minutes),
            blocked_until=starts_at + timedelta(minutes=minutes + buffer),
            status=status,
            room=new_room(),
            created_at=world.clock.now(),
            updated_at=world.clock.now(),
        )

    async with world.uow() as uow:
        first = booking(S.CONFIRMED, start)
        await uow.consultations.add(first, None, b"")
        for status, at in ((S.HELD, start + timedelta(minutes=39)), (S.CONFIRMED, start)):
            with pytest.raises(Conflict) as refused:
                await uow.consultations.add(booking(status, at), None, b"")
            assert refused.value.code == "time_taken"
        await uow.consultations.add(booking(S.HELD, start + timedelta(minutes=40)), None, b"")
        await uow.consultations.add(booking(S.CANCELLED, start), None, b"")  # frees nothing
        released = booking(S.RELEASED, start)
        await uow.consultations.add(released, None, b"")
        # re-booking a released time another holds: the guarded move finds no room
        assert await uow.consultations.move(released.id, S.RELEASED, S.CONFIRMED, start) is None
        assert await uow.consultations.move(first.id, S.HELD, S.CANCELLED, start) is None
        with pytest.raises(ValueError):
            await uow.consultations.add(booking(S.CANCELLED, start, minutes=0), None, b"")


# --- holding ---------------------------------------------------------------------------------


async def test_a_hold_opens_the_doctors_fee_and_one_patient_wins_a_time(world) -> None:
    held = await world.hold(world.alice, world.day_at(1, 9))

    consultation, payment = held.consultation, held.payment
    assert consultation.status is S.HELD and payment is not None
    assert (payment.amount_minor, payment.status) == (2500, PaymentStatus.PENDING)
    assert payment.reference == str(consultation.id) and payment.purpose.value == "consultation"
    assert consultation.hold_expires_at == world.clock.now() + timedelta(
        seconds=SETTINGS.hold_ttl_seconds
    )
    assert consultation.blocked_until == consultation.ends_at + timedelta(minutes=10)
    assert consultation.room.startswith("https://meet.example.org/rooms/")
    with pytest.raises(Conflict) as taken:
        await world.hold(world.borey, world.day_at(1, 9))
    assert taken.value.code == "time_taken"
    assert len(world.table("payments")) == 1  # the loser's payment was never committed
    assert world.audited() == ["payment.create", "consultation.hold"]


async def test_bad_holds_are_refused_and_write_nothing(world) -> None:
    with pytest.raises(Conflict) as passed:
        await world.hold(world.alice, world.clock.now() - timedelta(hours=1))
    assert passed.value.code == "time_passed"
    with pytest.raises(Conflict) as odd:
        await world.hold(world.alice, world.day_at(1, 9, 15))
    assert odd.value.code == "not_offered"
    with pytest.raises(Conflict):
        await world.hold(world.alice, world.day_at(1, 9), minutes=45)  # not the slot's length
    with pytest.raises(Conflict):
        await world.hold(world.alice, world.day_at(1, 18))  # after hours
    stranger = HoldRequest(
        doctor_id=uuid.uuid4(), starts_at=world.day_at(1, 9), ends_at=world.day_at(1, 9, 30)
    )
    with pytest.raises(NotFound):
        await world.run(hold_consultation, world.alice, "consultation.hold", stranger, None)
    with pytest.raises(Forbidden):
        await world.hold(world.doctor_, world.day_at(1, 9))  # doctors do not hold
    ghost = Principal(user_id=str(uuid.uuid4()), role=world.alice.role)
    with pytest.raises(Forbidden):
        await world.hold(ghost, world.day_at(1, 9))  # no active patient account
    assert world.table("consultations") == {} and world.table("payments") == {}


async def test_an_idempotency_key_replays_the_first_hold(world) -> None:
    first = await world.hold(world.alice, world.day_at(1, 9), key="k-1")
    again = await world.hold(world.alice, world.day_at(1, 9), key="k-1")

    assert again.replayed and not first.replayed
    assert again.consultation == first.consultation and again.payment == first.payment
    with pytest.raises(Conflict) as reused:
        await world.hold(world.alice, world.day_at(1, 9, 40), key="k-1")
    assert reused.value.code == "idempotency_key_reused"
    other = await world.hold(world.borey, world.day_at(1, 9, 40), key="k-1")  # keys are per patient
    assert not other.replayed
    assert len(world.table("consultations")) == 2


async def test_a_zero_fee_confirms_at_once_and_tells_both_sides(world) -> None:
    world.table("fees")[uuid.UUID(world.doctor_.user_id)] = (0, Currency.USD)
    held = await world.hold(world.alice, world.day_at(1, 9))

    assert held.payment is None and held.consultation.status is S.CONFIRMED
    assert held.consultation.hold_expires_at is None and world.table("payments") == {}
    for who in (world.alice, world.doctor_):
        assert world.emails_to(who) == ["consultation_update"]
        assert [n.kind.value for n in world.notices_of(who)] == ["consultation.update"]
    assert len(world.sender.sent) == 2  # the e-mail jobs, sent after the commit


# --- confirmation by payment -----------------------------------------------------------------


async def test_a_completed_payment_confirms_exactly_once(world) -> None:
    held = await world.hold(world.alice, world.day_at(1, 9))
    paid = world.complete_payment(held.payment.id)

    assert await world.activate(paid) == "confirmed"
    assert await world.activate(paid) == "already"
    stored = world.stored(held.consultation.id)
    assert stored.status is S.CONFIRMED and stored.hold_expires_at is None
    assert world.emails_to(world.alice) == ["consultation_update"]
    assert world.emails_to(world.doctor_) == ["consultation_update"]
    assert world.audited().count("consultation.confirm") == 1


async def test_a_lapsed_hold_is_released_and_a_late_payment_rebooks_it(world) -> None:
    held = await world.hold(world.alice, world.day_at(1, 9))
    later = await world.hold(world.borey, world.day_at(1, 9, 40))
    world.clock.advance(SETTINGS.hold_ttl_seconds - 1)
    assert await world.cases.run(release_holds, world.job()) == {"released": 0}
    world.clock.advance(2)

    assert await world.cases.run(release_holds, world.job()) == {"released": 2}

    assert world.stored(held.consultation.id).status is S.RELEASED
    assert world.emails_to(world.alice) == ["consultation_update"]  # the patient is told
    assert world.emails_to(world.doctor_) == []
    assert await world.activate(world.complete_payment(held.payment.id)) == "rebooked"
    assert world.stored(held.consultation.id).status is S.CONFIRMED
    assert world.stored(later.consultation.id).status is S.RELEASED


async def test_a_late_payment_for_a_time_taken_meanwhile_is_refunded_whole(world) -> None:
    held = await world.hold(world.alice, world.day_at(1, 9))
    world.clock.advance(SETTINGS.hold_ttl_seconds + 1)
    await world.cases.run(release_holds, world.job())
    rival = await world.hold(world.borey, world.day_at(1, 9))  # the freed time, taken
    assert rival.consultation.status is S.HELD

    assert await world.activate(world.complete_payment(held.payment.id)) == "refund_requested"

    payment = world.table("payments")[held.payment.id]
    assert payment.status is PaymentStatus.REFUND_PENDING
    assert payment.refund_requested_minor == payment.amount_minor
    assert world.stored(held.consultation.id).status is S.RELEASED
    assert world.audited().count("consultation.late_payment") == 1
    # a payment for a consultation that was never held books nothing
    unbooked = msgspec.structs.replace(payment, id=uuid.uuid4())
    assert await world.activate(unbooked) == "unbooked"


# --- the lifecycle ---------------------------------------------------------------------------


async def test_the_doctor_starts_completes_or_marks_a_no_show_on_time(world) -> None:
    first = await world.confirmed(world.alice, world.day_at(1, 9))
    second = await world.confirmed(world.borey, world.day_at(1, 9, 40))
    world.clock.advance((first.starts_at - world.clock.now()).total_seconds() - 16 * 60)
    with pytest.raises(InvalidTransition):
        await world.act(world.doctor_, first.id, "start")  # 16 minutes early
    world.clock.advance(60)
    assert (await world.act(world.doctor_, first.id, "start")).status is S.IN_PROGRESS
    with pytest.raises(InvalidTransition):
        await world.act(world.doctor_, second.id, "no_show")  # its time has not come
    with pytest.raises(Forbidden):
        await world.act(world.alice, first.id, "complete")  # the doctor's move
    assert (await world.act(world.doctor_, first.id, "complete")).status is S.COMPLETED
    with pytest.raises(InvalidTransition):
        await world.act(world.alice, first.id, "cancel")  # finished
    world.clock.advance((second.starts_at - world.clock.now()).total_seconds())
    assert (await world.act(world.doctor_, second.id, "no_show")).status is S.NO_SHOW
    with pytest.raises(NotFound):
        await world.act(world.borey, first.id, "cancel")  # not Borey's
    with pytest.raises(NotFound):
        await world.act(world.alice, uuid.uuid4(), "cancel")
    actions = world.audited()
    for action in ("consultation.start", "consultation.complete", "consultation.no_show"):
        assert actions.count(action) == 1


@pytest.mark.parametrize(
    ("who", "hours_before", "refund"),
    [("patient", 48, 2500), ("patient", 23, 1250), ("doctor", 1, 2500)],
    ids=["patient-early", "patient-late", "doctor-late"],
)
async def test_cancelling_a_paid_consultation_refunds_by_the_policy(
    world, who, hours_before, refund
) -> None:
    consultation = await world.confirmed(world.alice, world.day_at(3, 9))
    world.clock.advance(
        (consultation.starts_at - world.clock.now() - timedelta(hours=hours_before)).total_seconds()
    )
    side = world.alice if who == "patient" else world.doctor_

    cancelled = await world.act(side, consultation.id, "cancel")

    assert cancelled.status is S.CANCELLED
    payment = world.table("payments")[consultation.payment_id]
    assert payment.status is PaymentStatus.REFUND_PENDING
    assert payment.refund_requested_minor == refund
    assert world.emails_to(world.alice)[-1] == "consultation_update"
    assert await world.hold(world.borey, consultation.starts_at)  # the time is free again


async def test_cancelling_an_unpaid_hold_asks_no_refund(world) -> None:
    held = await world.hold(world.alice, world.day_at(1, 9))

    assert (await world.act(world.alice, held.consultation.id, "cancel")).status is S.CANCELLED
    assert world.table("payments")[held.payment.id].status is PaymentStatus.PENDING
    # its payment arriving later finds the cancellation and is given back
    assert await world.activate(world.complete_payment(held.payment.id)) == "refund_requested"


async def test_rescheduling_takes_the_new_time_and_frees_the_old_at_once(world) -> None:
    consultation = await world.confirmed(world.alice, world.day_at(1, 9))
    taken = await world.hold(world.borey, world.day_at(1, 11))
    to = world.day_at(2, 10, 20)
    world.clock.advance(60)

    moved = await world.run(
        reschedule_consultation,
        world.alice,
        "consultation.reschedule",
        consultation.id,
        to,
        to + timedelta(minutes=30),
    )

    assert (moved.starts_at, moved.status, moved.payment_id) == (
        to,
        S.CONFIRMED,
        consultation.payment_id,
    )
    assert await world.hold(world.borey, world.day_at(1, 9))  # the old time is free
    with pytest.raises(Conflict) as refused:
        await world.run(
            reschedule_consultation,
            world.alice,
            "consultation.reschedule",
            consultation.id,
            taken.consultation.starts_at,
            taken.consultation.ends_at,
        )
    assert refused.value.code == "time_taken"
    assert world.stored(consultation.id).starts_at == to  # unchanged by the refusal
    with pytest.raises(Conflict) as odd:
        await world.run(
            reschedule_consultation,
            world.alice,
            "consultation.reschedule",
            consultation.id,
            world.day_at(2, 10, 5),
            world.day_at(2, 10, 35),
        )
    assert odd.value.code == "not_offered"
    with pytest.raises(Forbidden):
        await world.run(
            reschedule_consultation,
            world.doctor_,
            "consultation.reschedule",
            consultation.id,
            to,
            to + timedelta(minutes=30),
        )


async def test_reminders_come_24_and_1_hours_before_and_follow_a_reschedule(world) -> None:
    consultation = await world.confirmed(world.alice, world.day_at(2, 9))
    world.clock.advance((consultation.starts_at - world.clock.now()).total_seconds() - 23 * 3600)

    assert await world.cases.run(send_reminders, world.job()) == {"reminded": 1}
    assert await world.cases.run(send_reminders, world.job()) == {"reminded": 0}
    world.clock.advance(22 * 3600 + 10 * 60)  # 50 minutes before
    assert await world.cases.run(send_reminders, world.job()) == {"reminded": 1}
    assert world.emails_to(world.alice).count("appointment_reminder") == 2
    kinds = [n.kind.value for n in world.notices_of(world.doctor_)]
    assert kinds.count("consultation.reminder") == 2
    # a new time: its reminders are due anew
    world.clock.advance(60)
    to = consultation.starts_at + timedelta(hours=2)
    await world.run(
        reschedule_consultation,
        world.alice,
        "consultation.reschedule",
        consultation.id,
        to,
        to + timedelta(minutes=30),
    )
    assert await world.cases.run(send_reminders, world.job()) == {"reminded": 1}


# --- notes and prescriptions -----------------------------------------------------------------


async def test_notes_are_written_once_started_and_read_by_both_sides(world) -> None:
    consultation = await world.confirmed(world.alice, world.day_at(0, 10, 20))
    text = "BP 150/95; start amlodipine 5 mg"

    async def write(who: Principal, notes: str) -> None:
        await world.run(write_notes, who, "consultation.notes_write", consultation.id, notes)

    with pytest.raises(InvalidTransition):
        await write(world.doctor_, text)
    world.clock.advance((consultation.starts_at - world.clock.now()).total_seconds())
    await world.act(world.doctor_, consultation.id, "start")
    with pytest.raises(ValidationFailed):
        await write(world.doctor_, " ")

    await write(world.doctor_, text)

    for who in (world.alice, world.doctor_):
        read = await world.run(read_notes, who, "consultation.notes_read", consultation.id)
        assert read == text
    with pytest.raises(NotFound):
        await world.run(read_notes, world.borey, "consultation.notes_read", consultation.id)
    with pytest.raises(Forbidden):
        await write(world.alice, "x")
    assert world.audited().count("consultation.read_notes") == 2


async def test_the_doctors_own_prescriptions_are_linked_once_started(world) -> None:
    consultation = await world.confirmed(world.alice, world.day_at(0, 10, 20))

    def prescription(doctor: Principal, patient: Principal) -> uuid.UUID:
        written = Prescription(
            id=uuid.uuid4(),
            patient_id=uuid.UUID(patient.user_id),
            doctor_id=uuid.UUID(doctor.user_id),
            status=PrescriptionStatus.ACTIVE,
            starts_on=world.clock.now().date(),
            ends_on=world.clock.now().date(),
            items=(),
            created_at=world.clock.now(),
            updated_at=world.clock.now(),
        )
        world.table("prescriptions")[written.id] = written
        return written.id

    mine = prescription(world.doctor_, world.alice)

    async def link(prescription_id: uuid.UUID):
        return await world.run(
            link_prescription,
            world.doctor_,
            "consultation.prescribe",
            consultation.id,
            prescription_id,
        )

    with pytest.raises(InvalidTransition):
        await link(mine)
    world.clock.advance((consultation.starts_at - world.clock.now()).total_seconds())
    await world.act(world.doctor_, consultation.id, "start")
    assert await link(mine) == [mine]
    with pytest.raises(Conflict) as linked:
        await link(mine)
    assert linked.value.code == "linked"
    with pytest.raises(NotFound):  # another doctor's, or for another patient: missing
        await link(prescription(world.bookable_doctor("Dr Vanna"), world.alice))
    with pytest.raises(NotFound):
        await link(prescription(world.doctor_, world.borey))
    listed = await world.run(
        consultation_prescriptions, world.alice, "consultation.prescriptions", consultation.id
    )
    assert listed == [mine]


# --- reading, and the history ----------------------------------------------------------------


async def test_lists_and_the_day_view_show_each_side_its_own(world) -> None:
    mine = [await world.confirmed(world.alice, world.day_at(1, h)) for h in (9, 11, 13)]
    theirs = await world.confirmed(world.borey, world.day_at(1, 15))

    def listing(who: Principal, **fields):
        query = ConsultationFilter(**fields)
        return world.run(list_consultations, who, "consultation.list", query)

    first = await listing(world.alice, limit=2)
    rest = await listing(world.alice, limit=2, cursor=first.next_cursor)
    assert [c.id for c in first.items + rest.items] == [c.id for c in mine]
    assert rest.next_cursor is None
    assert len((await listing(world.doctor_)).items) == 4
    assert len((await listing(world.admin())).items) == 4
    assert [c.id for c in (await listing(world.borey)).items] == [theirs.id]
    assert (await listing(world.alice, period=Period.PAST)).items == []
    zone, day = await world.run(
        doctor_day, world.doctor_, "consultation.day", world.day_at(1, 0).date()
    )
    assert zone == "UTC" and [c.id for c in day] == [c.id for c in (*mine, theirs)]
    with pytest.raises(Forbidden):
        await world.run(doctor_day, world.alice, "consultation.day", world.day_at(1, 0).date())
    with pytest.raises(NotFound):
        await world.read(world.borey, mine[0].id)
    assert await world.read(world.admin(), mine[0].id) == mine[0]


async def test_the_history_takes_what_finished_long_ago_and_reads_stay_the_same(world) -> None:
    done = await world.confirmed(world.alice, world.day_at(0, 10, 20))
    world.clock.advance((done.starts_at - world.clock.now()).total_seconds())
    await world.act(world.doctor_, done.id, "start")
    await world.run(write_notes, world.doctor_, "consultation.notes_write", done.id, "fine")
    await world.act(world.doctor_, done.id, "complete")
    cancelled = await world.hold(world.borey, world.day_at(1, 9))
    await world.act(world.borey, cancelled.consultation.id, "cancel")
    busy = await world.hold(world.borey, world.day_at(1, 11))
    await world.act(world.borey, busy.consultation.id, "cancel")
    world.table("locked_consultations")[busy.consultation.id] = True  # another holds it

    async def reads() -> list:
        past = ConsultationFilter(period=Period.PAST, limit=1)
        first = await world.run(list_consultations, world.alice, "consultation.list", past)
        return [
            await world.read(world.alice, done.id),
            await world.run(read_notes, world.alice, "consultation.notes_read", done.id),
            first,
            await world.run(
                list_consultations,
                world.borey,
                "consultation.list",
                ConsultationFilter(period=Period.PAST),
            ),
        ]

    world.clock.advance(32 * 86400)  # all three ended more than 30 days ago
    before = await reads()
    job = world.job()

    assert await world.cases.run(archive_finished, job) == {"moved": 2}

    assert set(world.table("consultations_history")) == {done.id, cancelled.consultation.id}
    assert set(world.table("consultations")) == {busy.consultation.id}
    assert await reads() == before
    assert await world.cases.run(archive_finished, job) == {"moved": 0}
    del world.table("locked_consultations")[busy.consultation.id]
    assert await world.cases.run(archive_finished, job) == {"moved": 1}
    with pytest.raises(InvalidTransition):
        await world.act(world.alice, done.id, "cancel")  # as before the move
    assert world.audited().count("consultation.archive") == 2
