"""Where doses are kept. Every status change is one method, which also writes its
``dose_events`` row: the adherence roll-ups read those events, so no other path may move a
dose."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.connections.ports import ConnectionRepository
from domain.doses.model import Dose, DoseEventKind
from domain.jobs.ports import JobRepository
from domain.notifications.ports import EmailRepository, NoticeRepository
from domain.patients.ports import PatientRepository


class DoseRepository(Protocol):
    async def add_many(self, doses: Sequence[Dose]) -> int:
        """Store new scheduled doses; one already there for its item and time is kept."""
        ...

    async def get(self, dose_id: uuid.UUID, *, lock: bool = False) -> Dose | None: ...

    async def page(
        self,
        patient_id: uuid.UUID,
        *,
        since: datetime,
        until: datetime,
        prescription_id: uuid.UUID | None,
        limit: int,
    ) -> list[Dose]:
        """The patient's doses due in [since, until), earliest first."""
        ...

    async def mark_taken(
        self, dose_id: uuid.UUID, kind: DoseEventKind, taken_at: datetime, late: bool, now: datetime
    ) -> Dose: ...

    async def mark_skipped(
        self, dose_id: uuid.UUID, kind: DoseEventKind, reason: str, now: datetime
    ) -> Dose: ...

    async def mark_missed(self, due_before: datetime, now: datetime, limit: int) -> int:
        """Scheduled doses due before ``due_before`` become missed; returns how many."""
        ...

    async def cancel_scheduled(
        self, prescription_id: uuid.UUID, due_after: datetime, now: datetime
    ) -> int:
        """The prescription's scheduled doses due after ``due_after`` are cancelled (it ended)."""
        ...

    async def drop_scheduled(self, patient_id: uuid.UUID, due_after: datetime) -> int:
        """Remove the patient's scheduled doses due after ``due_after`` (their times are about
        to be made again, in a new time zone): nothing happened to them, so no event."""
        ...

    async def settled_after(
        self, patient_id: uuid.UUID, due_after: datetime
    ) -> list[tuple[uuid.UUID, date]]:
        """(item id, local day) of each of the patient's doses due after ``due_after`` that is
        already taken or skipped (marked early): a new zone's schedule must not repeat it."""
        ...

    async def any_scheduled(self, due_before: datetime, *, unreminded: bool = False) -> bool:
        """Whether a scheduled (and, if asked, not yet reminded) dose is due before then."""
        ...

    async def to_remind(self, due_before: datetime, limit: int) -> list[Dose]:
        """Scheduled doses due before ``due_before`` not yet reminded, locked for this run."""
        ...

    async def reminded(self, dose_ids: Sequence[uuid.UUID], at: datetime) -> None: ...


class TimeZones(Protocol):
    """A patient's IANA time zone ('UTC' until they choose one)."""

    async def of(self, patient_id: uuid.UUID) -> str: ...

    async def set(self, patient_id: uuid.UUID, time_zone: str) -> None: ...


class UnitOfWork(Protocol):
    doses: DoseRepository
    time_zones: TimeZones
    patients: PatientRepository
    connections: ConnectionRepository
    notices: NoticeRepository
    emails: EmailRepository
    jobs: JobRepository
    audit: AuditLog
