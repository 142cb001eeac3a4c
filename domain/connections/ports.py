"""Where connections are kept, and what connections ask of the patients and doctors."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from domain.auditing import AuditLog
from domain.connections.model import (
    Connection,
    ConnectionFilter,
    ConnectionPage,
    ConnectionStatus,
)
from domain.jobs.ports import JobRepository
from domain.notifications.ports import NoticeRepository


class ConnectionRepository(Protocol):
    """Doctor-patient connections inside one transaction.

    ``add`` and ``move`` raise Conflict when the pair already has a pending or
    active connection; ``move`` returns None when the row is no longer in ``source``.
    """

    async def add(self, connection: Connection, invitation_hash: bytes | None = None) -> None: ...

    async def get(self, connection_id: uuid.UUID, *, lock: bool = False) -> Connection | None: ...

    async def by_invitation(self, invitation_hash: bytes) -> Connection | None: ...

    async def move(
        self,
        connection_id: uuid.UUID,
        source: ConnectionStatus,
        target: ConnectionStatus,
        now: datetime,
        patient_id: uuid.UUID | None = None,
    ) -> Connection | None: ...

    async def expire_lapsed(
        self, doctor_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
    ) -> list[uuid.UUID]:
        """Store as expired the pair's pending connection whose time ran out; returns its id."""
        ...

    async def is_active(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool: ...

    async def page(self, query: ConnectionFilter, now: datetime) -> ConnectionPage: ...


class PatientLookup(Protocol):
    """The one thing connections ask of the patients' store (a structural subset of it)."""

    async def exists(self, patient_id: uuid.UUID) -> bool: ...


class DoctorLookup(Protocol):
    """The one thing connections ask of the doctor directory."""

    async def is_listed(self, doctor_id: uuid.UUID) -> bool: ...


class UnitOfWork(Protocol):
    """What the connections feature reads and writes in one database transaction."""

    connections: ConnectionRepository
    patients: PatientLookup
    notices: NoticeRepository
    doctors: DoctorLookup
    audit: AuditLog
    jobs: JobRepository
