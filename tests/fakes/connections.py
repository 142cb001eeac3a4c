"""Connections in memory, with the store's one rule: a pair has at most one live connection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from domain.clock import Clock
from domain.connections.model import (
    Connection,
    ConnectionFilter,
    ConnectionListing,
    ConnectionPage,
    ConnectionStatus,
    Side,
)
from domain.errors import Conflict
from tests.fakes.database import FakeDatabase

LIVE = frozenset({ConnectionStatus.PENDING, ConnectionStatus.ACTIVE})


class FakeConnectionRepository:
    def __init__(self, database: FakeDatabase, clock: Clock) -> None:
        self._rows: dict[uuid.UUID, Connection] = database.table("connections")
        self._invitations: dict[bytes, uuid.UUID] = database.table("invitations")
        self._names: dict[uuid.UUID, str] = database.table("names")

    def _live_pair_taken(self, connection: Connection) -> bool:
        return connection.patient_id is not None and any(
            row.id != connection.id
            and row.status in LIVE
            and (row.doctor_id, row.patient_id) == (connection.doctor_id, connection.patient_id)
            for row in self._rows.values()
        )

    async def add(self, connection: Connection, invitation_hash: bytes | None = None) -> None:
        if self._live_pair_taken(connection):
            raise Conflict("already connected", code="connection_exists")
        self._rows[connection.id] = connection
        if invitation_hash is not None:
            self._invitations[invitation_hash] = connection.id

    async def get(self, connection_id: uuid.UUID, *, lock: bool = False) -> Connection | None:
        return self._rows.get(connection_id)

    async def by_invitation(self, invitation_hash: bytes) -> Connection | None:
        found = self._invitations.get(invitation_hash)
        return self._rows.get(found) if found else None

    async def move(
        self,
        connection_id: uuid.UUID,
        source: ConnectionStatus,
        target: ConnectionStatus,
        now: datetime,
        patient_id: uuid.UUID | None = None,
    ) -> Connection | None:
        row = self._rows.get(connection_id)
        if row is None or row.status is not source:
            return None
        moved = msgspec.structs.replace(
            row, status=target, updated_at=now, patient_id=patient_id or row.patient_id
        )
        if target in LIVE and self._live_pair_taken(moved):
            raise Conflict("already connected", code="connection_exists")
        self._rows[connection_id] = moved
        return moved

    async def expire_lapsed(
        self, doctor_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
    ) -> list[uuid.UUID]:
        lapsed = [
            row
            for row in self._rows.values()
            if (row.doctor_id, row.patient_id) == (doctor_id, patient_id)
            and row.status is ConnectionStatus.PENDING
            and row.expires_at is not None
            and row.expires_at <= now
        ]
        for row in lapsed:
            self._rows[row.id] = msgspec.structs.replace(
                row, status=ConnectionStatus.EXPIRED, updated_at=now
            )
        return [row.id for row in lapsed]

    def connect(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> None:
        """Test setup: an active connection between the doctor and the patient."""
        now = datetime(2031, 1, 1, tzinfo=UTC)
        connection = Connection(
            id=uuid.uuid4(),
            doctor_id=doctor_id,
            patient_id=patient_id,
            status=ConnectionStatus.ACTIVE,
            initiated_by=Side.PATIENT,
            expires_at=None,
            created_at=now,
            updated_at=now,
        )
        self._rows[connection.id] = connection

    async def is_active(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
        return any(
            (row.doctor_id, row.patient_id) == (doctor_id, patient_id)
            and row.status is ConnectionStatus.ACTIVE
            for row in self._rows.values()
        )

    async def page(self, query: ConnectionFilter, now: datetime) -> ConnectionPage:
        rows = [
            row
            for row in self._rows.values()
            if (query.party_id is None or query.party_id in row.parties)
            and (query.status is None or row.status_at(now) is query.status)
            and (query.patient_id is None or row.patient_id == query.patient_id)
            and (query.doctor_id is None or row.doctor_id == query.doctor_id)
        ]
        rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
        items = [
            ConnectionListing(
                connection=row,
                doctor_name=self._names.get(row.doctor_id, ""),
                patient_name=self._names.get(row.patient_id) if row.patient_id else None,
            )
            for row in rows[: query.limit]
        ]
        return ConnectionPage(items=items, next_cursor=None)
