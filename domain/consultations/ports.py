"""Where consultations are kept, and what booking asks of calendars, accounts and payments."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.availability.ports import CalendarRepository
from domain.consultations.model import (
    Consultation,
    ConsultationFilter,
    ConsultationPage,
    ConsultationStatus,
)
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.payments.ports import Payers, PaymentRepository, PriceList
from domain.prescriptions.model import Prescription


class ConsultationRepository(Protocol):
    """Consultations inside one transaction.

    ``add`` raises Conflict (``time_taken``) when a held or confirmed consultation of the
    doctor overlaps the new one's blocked range, and Conflict (``idempotency_key_race``)
    when the patient's key was just used by a request running alongside. ``move`` is a
    guarded write: None when the row is no longer in ``source``, or (re-booking a released
    one) when its time has been taken meanwhile.
    """

    async def add(
        self, consultation: Consultation, idempotency_key: str | None, fingerprint: bytes
    ) -> None: ...

    async def get(
        self, consultation_id: uuid.UUID, *, lock: bool = False
    ) -> Consultation | None: ...

    async def by_key(
        self, patient_id: uuid.UUID, idempotency_key: str
    ) -> tuple[Consultation, bytes] | None:
        """The patient's consultation held with this key, and the fingerprint of its request."""
        ...

    async def by_payment(
        self, payment_id: uuid.UUID, *, lock: bool = False
    ) -> Consultation | None: ...

    async def move(
        self,
        consultation_id: uuid.UUID,
        source: ConsultationStatus,
        target: ConsultationStatus,
        now: datetime,
    ) -> Consultation | None: ...

    async def to_release(self, now: datetime, limit: int) -> Sequence[uuid.UUID]:
        """Held consultations whose hold ran out or whose payment failed or expired."""
        ...

    async def set_notes(self, consultation_id: uuid.UUID, notes: str) -> None:
        """Store the doctor's notes, sealed at rest."""
        ...

    async def notes(self, consultation_id: uuid.UUID) -> str | None: ...

    async def link_prescription(
        self, consultation_id: uuid.UUID, prescription_id: uuid.UUID, now: datetime
    ) -> bool:
        """False when the prescription is linked to a consultation already."""
        ...

    async def prescriptions(self, consultation_id: uuid.UUID) -> list[uuid.UUID]: ...

    async def page(self, query: ConsultationFilter, now: datetime) -> ConsultationPage:
        """Keyset pages by (starts_at, id): upcoming ascending, past descending; the past
        spans the live consultations and the history alike."""
        ...

    async def archive(self, finished_before: datetime, now: datetime, limit: int) -> int:
        """Move up to ``limit`` finished consultations (``FINISHED``) that ended at or before
        ``finished_before`` to the history, in this transaction; how many moved. One that
        another transaction holds is passed over, for a later run. Every read here finds a
        moved consultation as before (its notes and prescriptions too); no write changes its
        status any more."""
        ...

    async def reschedule(
        self,
        consultation: Consultation,
        starts_at: datetime,
        ends_at: datetime,
        blocked_until: datetime,
        now: datetime,
    ) -> Consultation | None:
        """Move ``consultation`` (still in its status) to the new time in one UPDATE, its
        reminders unsent again; None when it changed meanwhile. Conflict (``time_taken``)
        when the new time overlaps another booking of the doctor's."""
        ...

    async def to_remind(self, now: datetime, limit: int) -> Sequence[tuple[Consultation, int]]:
        """Confirmed consultations due a reminder, each with the reminder it is due
        (1: the 24-hour one, 2: the 1-hour one)."""
        ...

    async def reminded(
        self, consultation_id: uuid.UUID, reminder: int, starts_at: datetime
    ) -> bool:
        """Note ``reminder`` as sent, unless the consultation moved or another run sent it."""
        ...


class Prescriptions(Protocol):
    """The one thing booking asks of the prescriptions' store."""

    async def get(
        self, prescription_id: uuid.UUID, *, lock: bool = False
    ) -> Prescription | None: ...


class PatientLookup(Protocol):
    async def exists(self, patient_id: uuid.UUID) -> bool: ...


class UnitOfWork(Protocol):
    """What booking reads and writes in one database transaction."""

    consultations: ConsultationRepository
    calendars: CalendarRepository
    patients: PatientLookup
    payments: PaymentRepository
    prescriptions: Prescriptions
    prices: PriceList
    payers: Payers
    notices: NoticeRepository
    emails: EmailRepository
    audit: AuditLog
    jobs: JobRepository
