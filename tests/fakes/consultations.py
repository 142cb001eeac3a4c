"""Booking in memory: the consultations' repository with what the real store checks (the
exclusion constraint's overlap refusal for held and confirmed consultations of one doctor,
the guarded moves, the idempotency keys unique per patient, a prescription linked once,
keyset pages over the live rows and the history alike), doctors' calendars, and the world
the booking use cases run in, wired as the API wires them to PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec

from domain.adapters.cursors import decode_position, encode_position
from domain.availability.model import Calendar, DayException, WeeklyWindow
from domain.clock import Clock
from domain.consultations.model import (
    BLOCKING,
    FINISHED,
    Consultation,
    ConsultationFilter,
    ConsultationPage,
    ConsultationStatus,
    Period,
)
from domain.errors import Conflict
from domain.identity import Principal
from domain.payments.model import PaymentStatus
from domain.payments.money import Currency
from domain.settings import Settings
from tests.fakes.audit import FakeAuditLog
from tests.fakes.database import FakeDatabase
from tests.fakes.emails import FakeAddresses, FakeEmailRepository, FakeRenderer
from tests.fakes.jobs import FakeJobRepository
from tests.fakes.medication import FakePrescriptionRepository
from tests.fakes.payments import FakePayers, FakePaymentRepository, FakePriceList
from tests.fakes.world import World


class StoredConsultation(msgspec.Struct, frozen=True, kw_only=True):
    """One row: the consultation and what the table keeps beside it."""

    consultation: Consultation
    idempotency_key: str | None = None
    fingerprint: bytes = b""
    reminders_sent: int = 0
    notes: str | None = None


def overlaps(a: Consultation, b: Consultation) -> bool:
    """``tstzrange(starts_at, blocked_until, '[)') && ...`` of one doctor."""
    return (
        a.doctor_id == b.doctor_id
        and a.starts_at < b.blocked_until
        and b.starts_at < a.blocked_until
    )


def _checked(consultation: Consultation) -> None:
    """The table's CHECK constraints: a violation is a bug in the caller, as in PostgreSQL."""
    if not consultation.starts_at < consultation.ends_at <= consultation.blocked_until:
        raise ValueError("consultations' CHECK constraints refuse this row")


class FakeConsultationRepository:
    """``consultations`` and ``consultations_history`` as two tables of StoredConsultation by
    id, ``consultation_prescriptions`` as prescription id -> (consultation id, linked at).

    ``locked`` (a table of ids) stands for rows another transaction holds: ``archive``
    passes them over as ``FOR UPDATE SKIP LOCKED`` does."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._live: dict[uuid.UUID, StoredConsultation] = database.table("consultations")
        self._history: dict[uuid.UUID, StoredConsultation] = database.table("consultations_history")
        self._links: dict[uuid.UUID, tuple[uuid.UUID, datetime]] = database.table(
            "consultation_prescriptions"
        )
        self._payments = database.table("payments")
        self._locked: dict[uuid.UUID, bool] = database.table("locked_consultations")

    def _blocked_by(self, consultation: Consultation) -> bool:
        """Whether the exclusion constraint refuses ``consultation`` among the live rows."""
        if consultation.status not in BLOCKING:
            return False
        return any(
            other.consultation.id != consultation.id
            and other.consultation.status in BLOCKING
            and overlaps(other.consultation, consultation)
            for other in self._live.values()
        )

    def _row(self, consultation_id: uuid.UUID) -> StoredConsultation | None:
        return self._live.get(consultation_id) or self._history.get(consultation_id)

    async def add(
        self, consultation: Consultation, idempotency_key: str | None, fingerprint: bytes
    ) -> None:
        _checked(consultation)
        if self._blocked_by(consultation):
            raise Conflict("this time of the doctor's is taken", code="time_taken")
        if idempotency_key is not None and any(
            row.idempotency_key == idempotency_key
            and row.consultation.patient_id == consultation.patient_id
            for row in self._live.values()
        ):
            raise Conflict(
                "a request with this Idempotency-Key is running", code="idempotency_key_race"
            )
        if consultation.id in self._live or any(
            row.consultation.room == consultation.room for row in self._live.values()
        ):
            raise ValueError("consultations' unique keys refuse this row")
        self._live[consultation.id] = StoredConsultation(
            consultation=consultation, idempotency_key=idempotency_key, fingerprint=fingerprint
        )

    async def get(self, consultation_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        row = self._row(consultation_id)
        return row.consultation if row else None

    async def by_key(
        self, patient_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Consultation, bytes] | None:
        for table in (self._live, self._history):
            for row in table.values():
                if (
                    row.consultation.patient_id == patient_id
                    and row.idempotency_key == idempotency_key
                ):
                    return row.consultation, row.fingerprint
        return None

    async def by_payment(self, payment_id: uuid.UUID, *, lock: bool = False) -> Consultation | None:
        for table in (self._live, self._history):
            for row in table.values():
                if row.consultation.payment_id == payment_id:
                    return row.consultation
        return None

    async def move(
        self,
        consultation_id: uuid.UUID,
        source: ConsultationStatus,
        target: ConsultationStatus,
        now: datetime,
    ) -> Consultation | None:
        row = self._live.get(consultation_id)  # the history's rows are written no more
        if row is None or row.consultation.status is not source:
            return None
        moved = msgspec.structs.replace(
            row.consultation,
            status=target,
            updated_at=now,
            hold_expires_at=(
                row.consultation.hold_expires_at if target is ConsultationStatus.HELD else None
            ),
        )
        if self._blocked_by(moved):
            return None  # re-booking a released time someone else now holds
        self._live[consultation_id] = msgspec.structs.replace(row, consultation=moved)
        return moved

    async def to_release(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        def lapsed(c: Consultation) -> bool:
            payment = self._payments.get(c.payment_id) if c.payment_id else None
            failed = payment is not None and payment.status in (
                PaymentStatus.FAILED,
                PaymentStatus.EXPIRED,
            )
            return (c.hold_expires_at is not None and c.hold_expires_at <= now) or failed

        held = [
            row.consultation
            for row in self._live.values()
            if row.consultation.status is ConsultationStatus.HELD and lapsed(row.consultation)
        ]
        held.sort(key=lambda c: c.hold_expires_at or now)
        return [c.id for c in held[:limit]]

    async def set_notes(self, consultation_id: uuid.UUID, notes: str) -> None:
        for table in (self._live, self._history):
            if consultation_id in table:
                table[consultation_id] = msgspec.structs.replace(
                    table[consultation_id], notes=notes
                )
                return

    async def notes(self, consultation_id: uuid.UUID) -> str | None:
        row = self._row(consultation_id)
        return row.notes if row else None

    async def link_prescription(
        self, consultation_id: uuid.UUID, prescription_id: uuid.UUID, now: datetime
    ) -> bool:
        if prescription_id in self._links:  # UNIQUE (prescription_id)
            return False
        self._links[prescription_id] = (consultation_id, now)
        return True

    async def prescriptions(self, consultation_id: uuid.UUID) -> list[uuid.UUID]:
        linked = [
            (at, prescription_id)
            for prescription_id, (owner, at) in self._links.items()
            if owner == consultation_id
        ]
        return [prescription_id for _, prescription_id in sorted(linked)]

    async def page(self, query: ConsultationFilter, now: datetime) -> ConsultationPage:
        upcoming = query.period is Period.UPCOMING
        tables = (self._live,) if upcoming else (self._live, self._history)
        position = decode_position(query.cursor) if query.cursor is not None else None

        def wanted(c: Consultation) -> bool:
            checks = (
                (c.ends_at > now) if upcoming else (c.ends_at <= now),
                query.party_id is None or query.party_id in c.parties,
                query.status is None or c.status is query.status,
                query.patient_id is None or c.patient_id == query.patient_id,
                query.doctor_id is None or c.doctor_id == query.doctor_id,
                query.start is None or c.starts_at >= query.start,
                query.end is None or c.starts_at < query.end,
                position is None
                or ((c.starts_at, c.id) > position if upcoming else (c.starts_at, c.id) < position),
            )
            return all(checks)

        found = [row.consultation for table in tables for row in table.values()]
        found = sorted(
            (c for c in found if wanted(c)), key=lambda c: (c.starts_at, c.id), reverse=not upcoming
        )
        items = found[: query.limit]
        more = len(found) > query.limit
        next_cursor = encode_position(items[-1].starts_at, items[-1].id) if more else None
        return ConsultationPage(items=items, next_cursor=next_cursor)

    async def reschedule(
        self,
        consultation: Consultation,
        starts_at: datetime,
        ends_at: datetime,
        blocked_until: datetime,
        now: datetime,
    ) -> Consultation | None:
        row = self._live.get(consultation.id)
        if (
            row is None
            or row.consultation.status is not consultation.status
            or row.consultation.starts_at != consultation.starts_at
        ):
            return None
        moved = msgspec.structs.replace(
            row.consultation,
            starts_at=starts_at,
            ends_at=ends_at,
            blocked_until=blocked_until,
            updated_at=now,
        )
        _checked(moved)
        if self._blocked_by(moved):
            raise Conflict("this time of the doctor's is taken", code="time_taken")
        self._live[consultation.id] = msgspec.structs.replace(
            row, consultation=moved, reminders_sent=0
        )
        return moved

    async def to_remind(self, now: datetime, limit: int) -> Sequence[tuple[Consultation, int]]:
        due: list[tuple[Consultation, int]] = []
        for row in self._live.values():
            c, sent = row.consultation, row.reminders_sent
            if c.status is not ConsultationStatus.CONFIRMED or sent >= 2 or c.starts_at <= now:
                continue
            hour = c.starts_at <= now + timedelta(hours=1)
            if (sent == 0 and c.starts_at <= now + timedelta(hours=24)) or hour:
                due.append((c, 2 if hour else 1))
        due.sort(key=lambda pair: pair[0].starts_at)
        return due[:limit]

    async def reminded(
        self, consultation_id: uuid.UUID, reminder: int, starts_at: datetime
    ) -> bool:
        row = self._live.get(consultation_id)
        if (
            row is None
            or row.consultation.starts_at != starts_at
            or row.reminders_sent >= reminder
            or row.consultation.status is not ConsultationStatus.CONFIRMED
        ):
            return False
        self._live[consultation_id] = msgspec.structs.replace(row, reminders_sent=reminder)
        return True

    async def archive(self, finished_before: datetime, now: datetime, limit: int) -> int:
        due = sorted(
            (
                row
                for row in self._live.values()
                if row.consultation.status in FINISHED
                and row.consultation.ends_at <= finished_before
                and row.consultation.id not in self._locked
            ),
            key=lambda row: (row.consultation.ends_at, row.consultation.id),
        )[:limit]
        for row in due:
            self._history[row.consultation.id] = self._live.pop(row.consultation.id)
        return len(due)


class FakeCalendars:
    """Doctors' calendars by doctor id (table ``calendars``)."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._calendars: dict[uuid.UUID, Calendar] = database.table("calendars")

    async def get(self, doctor_id: uuid.UUID) -> Calendar | None:
        return self._calendars.get(doctor_id)

    async def many(
        self, doctor_ids: Sequence[uuid.UUID], days: tuple[date, date] | None = None
    ) -> list[Calendar]:
        found = [self._calendars[d] for d in doctor_ids if d in self._calendars]
        if days is None:
            return found
        first, last = days
        return [
            msgspec.structs.replace(
                c, exceptions=tuple(e for e in c.exceptions if first <= e.day <= last)
            )
            for c in found
        ]

    async def set_week(
        self, doctor_id: uuid.UUID, time_zone: str, weekly: Sequence[WeeklyWindow], now: datetime
    ) -> None:
        old = self._calendars.get(doctor_id)
        self._calendars[doctor_id] = Calendar(
            doctor_id=doctor_id,
            time_zone=time_zone,
            weekly=tuple(weekly),
            exceptions=old.exceptions if old else (),
        )

    async def add_exception(self, doctor_id: uuid.UUID, exception: DayException) -> None:
        calendar = self._calendars[doctor_id]
        self._calendars[doctor_id] = msgspec.structs.replace(
            calendar, exceptions=(*calendar.exceptions, exception)
        )

    async def remove_exception(self, doctor_id: uuid.UUID, exception_id: uuid.UUID) -> bool:
        calendar = self._calendars.get(doctor_id)
        kept = tuple(e for e in calendar.exceptions if e.id != exception_id) if calendar else ()
        if calendar is None or len(kept) == len(calendar.exceptions):
            return False
        self._calendars[doctor_id] = msgspec.structs.replace(calendar, exceptions=kept)
        return True


class FakePatientLookup:
    """An active patient is one in the ``patients`` table (``World.patient`` puts them there)."""

    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._patients: dict[uuid.UUID, Any] = database.table("patients")

    async def exists(self, patient_id: uuid.UUID) -> bool:
        return patient_id in self._patients


SETTINGS = Settings(
    database_url="postgresql://unused",
    redis_url="redis://unused",
    jwt_secret="x" * 40,
    data_dir="/nonexistent",
    phi_keys={"k1": bytes(32)},
    phi_active_key_id="k1",
    bakong_account_id="healthplat@aclb",
    meeting_base_url="https://meet.example.org/rooms/",
)

# Every day 09:00-17:00 on the doctor's clock, 30-minute consultations, 10 minutes between.
WORKING_DAYS = tuple(
    WeeklyWindow(
        weekday=weekday,
        start=time(9),
        end=time(17),
        slot_minutes=30,
        buffer_minutes=10,
    )
    for weekday in range(1, 8)
)


class BookingWorld(World):
    """Patients, doctors with calendars and fees, and the booking use cases on fakes."""

    def __init__(self, settings: Settings = SETTINGS) -> None:
        self.settings = settings
        super().__init__(settings=settings, renderer=FakeRenderer(), addresses=FakeAddresses())
        self.uow.repositories.update(
            consultations=FakeConsultationRepository,
            calendars=FakeCalendars,
            patients=FakePatientLookup,
            payments=FakePaymentRepository,
            prescriptions=FakePrescriptionRepository,
            prices=FakePriceList,
            payers=FakePayers,
            emails=FakeEmailRepository,
            jobs=FakeJobRepository,
            audit=FakeAuditLog,
        )

    def table(self, name: str) -> dict:
        return self.uow.database.table(name)

    def bookable_doctor(
        self, name: str = "Dr Dara", fee_minor: int = 2500, time_zone: str = "UTC"
    ) -> Principal:
        """A doctor with the working days above, a fee, and an e-mail address."""
        doctor = self.doctor(name)
        doctor_id = uuid.UUID(doctor.user_id)
        self.table("calendars")[doctor_id] = Calendar(
            doctor_id=doctor_id, time_zone=time_zone, weekly=WORKING_DAYS
        )
        self.table("fees")[doctor_id] = (fee_minor, Currency.USD)
        self.table("contacts")[doctor_id] = (name, f"{name.split()[-1].lower()}@example.org")
        return doctor

    def reachable_patient(self, name: str = "Sokha") -> Principal:
        patient = self.patient(name)
        self.table("contacts")[uuid.UUID(patient.user_id)] = (name, f"{name.lower()}@example.org")
        return patient

    def day_at(self, days: int, hour: int, minute: int = 0) -> datetime:
        """``days`` after the clock's day, at ``hour:minute`` UTC."""
        day: date = self.clock.now().date() + timedelta(days=days)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    def stored(self, consultation_id: uuid.UUID) -> Consultation:
        row = self.table("consultations").get(consultation_id) or self.table(
            "consultations_history"
        ).get(consultation_id)
        assert row is not None
        return row.consultation
