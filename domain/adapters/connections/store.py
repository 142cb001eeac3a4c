"""Doctor-patient connections in PostgreSQL, inside the caller's transaction.

The partial unique index ``connections_one_live_pair`` is the last word on
"one pending or active connection per pair": a request that races another
for the same pair finds it here and is refused as a Conflict. Listings carry
both sides' names, opened through ``UserIdentity`` (they are sealed at rest).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, errors, sql

from domain.adapters.accounts.identity import UserIdentity, identity_columns
from domain.adapters.keyset import cursor_after, position_of
from domain.connections.model import (
    Connection,
    ConnectionFilter,
    ConnectionListing,
    ConnectionPage,
    ConnectionStatus,
    Side,
)
from domain.errors import Conflict
from domain.phi.columns import USER_NAME


def connection_from_row(row: dict[str, Any]) -> Connection:
    return Connection(
        id=row["id"],
        doctor_id=row["doctor_id"],
        patient_id=row["patient_id"],
        status=ConnectionStatus(row["status"]),
        initiated_by=Side(row["initiated_by"]),
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _live_pair() -> Conflict:
    return Conflict(
        "this doctor and patient already have a pending or active connection",
        code="connection_exists",
    )


def _status_clause(status: ConnectionStatus) -> sql.Composable:
    """A status as callers see it: a pending connection past its expiry counts as expired."""
    if status is ConnectionStatus.PENDING:
        return sql.SQL("(c.status = 'pending' AND c.expires_at > %(now)s)")
    if status is ConnectionStatus.EXPIRED:
        return sql.SQL(
            "(c.status = 'expired' OR (c.status = 'pending' AND c.expires_at <= %(now)s))"
        )
    return sql.SQL("c.status = %(status)s")


class PgConnectionRepository:
    def __init__(self, conn: AsyncConnection, identity: UserIdentity) -> None:
        self._conn = conn
        self._identity = identity

    async def _one(self, query: str, params: Any) -> Connection | None:
        cursor = await self._conn.execute(query, params)
        row = await cursor.fetchone()
        return connection_from_row(row) if row else None

    async def add(self, connection: Connection, invitation_hash: bytes | None = None) -> None:
        cursor = await self._conn.execute(
            """
            INSERT INTO connections (id, doctor_id, patient_id, status, initiated_by,
                                     invitation_hash, expires_at, created_at, updated_at)
            VALUES (%(id)s, %(doctor)s, %(patient)s, %(status)s, %(by)s, %(hash)s,
                    %(expires)s, %(created)s, %(updated)s)
            ON CONFLICT (doctor_id, patient_id) WHERE status IN ('pending', 'active')
            DO NOTHING
            RETURNING id
            """,
            {
                "id": connection.id,
                "doctor": connection.doctor_id,
                "patient": connection.patient_id,
                "status": connection.status.value,
                "by": connection.initiated_by.value,
                "hash": invitation_hash,
                "expires": connection.expires_at,
                "created": connection.created_at,
                "updated": connection.updated_at,
            },
        )
        if await cursor.fetchone() is None:
            raise _live_pair()

    async def get(self, connection_id: uuid.UUID, *, lock: bool = False) -> Connection | None:
        query = "SELECT * FROM connections WHERE id = %s" + (" FOR UPDATE" if lock else "")
        return await self._one(query, (connection_id,))

    async def by_invitation(self, invitation_hash: bytes) -> Connection | None:
        return await self._one(
            "SELECT * FROM connections WHERE invitation_hash = %s FOR UPDATE", (invitation_hash,)
        )

    async def move(
        self,
        connection_id: uuid.UUID,
        source: ConnectionStatus,
        target: ConnectionStatus,
        now: datetime,
        patient_id: uuid.UUID | None = None,
    ) -> Connection | None:
        try:
            return await self._one(
                """
                UPDATE connections
                SET status = %(target)s, updated_at = %(now)s,
                    patient_id = coalesce(%(patient)s::uuid, patient_id)
                WHERE id = %(id)s AND status = %(source)s
                RETURNING *
                """,
                {
                    "id": connection_id,
                    "source": source.value,
                    "target": target.value,
                    "now": now,
                    "patient": patient_id,
                },
            )
        except errors.UniqueViolation:  # the pair got another live connection meanwhile
            raise _live_pair() from None

    async def expire_lapsed(
        self, doctor_id: uuid.UUID, patient_id: uuid.UUID, now: datetime
    ) -> list[uuid.UUID]:
        cursor = await self._conn.execute(
            """
            UPDATE connections SET status = 'expired', updated_at = %(now)s
            WHERE doctor_id = %(doctor)s AND patient_id = %(patient)s
                  AND status = 'pending' AND expires_at <= %(now)s
            RETURNING id
            """,
            {"doctor": doctor_id, "patient": patient_id, "now": now},
        )
        return [row["id"] for row in await cursor.fetchall()]

    async def is_active(self, doctor_id: uuid.UUID, patient_id: uuid.UUID) -> bool:
        cursor = await self._conn.execute(
            """
            SELECT EXISTS (SELECT 1 FROM connections
                           WHERE doctor_id = %s AND patient_id = %s AND status = 'active') AS yes
            """,
            (doctor_id, patient_id),
        )
        return bool((await cursor.fetchone())["yes"])

    async def page(self, query: ConnectionFilter, now: datetime) -> ConnectionPage:
        clauses: list[sql.Composable] = []
        params: dict[str, Any] = {"limit": query.limit + 1, "now": now}
        if query.party_id is not None:
            clauses.append(sql.SQL("(c.patient_id = %(party)s OR c.doctor_id = %(party)s)"))
            params["party"] = query.party_id
        if query.status is not None:
            clauses.append(_status_clause(query.status))
            params["status"] = query.status.value
        if query.patient_id is not None:
            clauses.append(sql.SQL("c.patient_id = %(patient)s"))
            params["patient"] = query.patient_id
        if query.doctor_id is not None:
            clauses.append(sql.SQL("c.doctor_id = %(doctor)s"))
            params["doctor"] = query.doctor_id
        if query.cursor is not None:
            position = position_of(query.cursor)
            clauses.append(sql.SQL("(c.created_at, c.id) < (%(c_at)s, %(c_id)s)"))
            params.update(c_at=position.created_at, c_id=position.id)
        where = sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")
        statement = sql.SQL(
            """
            SELECT c.*, {doctor}, {patient}
            FROM connections c
            JOIN users d ON d.id = c.doctor_id
            LEFT JOIN users p ON p.id = c.patient_id
            WHERE {where}
            ORDER BY c.created_at DESC, c.id DESC
            LIMIT %(limit)s
            """
        ).format(
            doctor=identity_columns("d", "doctor_", email=False),
            patient=identity_columns("p", "patient_", email=False),
            where=where,
        )
        cursor = await self._conn.execute(statement, params)
        rows = await cursor.fetchall()
        items = [
            ConnectionListing(
                connection=connection_from_row(row),
                doctor_name=self._identity.read(row, USER_NAME, row["doctor_id"], "doctor_") or "",
                patient_name=self._identity.read(row, USER_NAME, row["patient_id"], "patient_"),
            )
            for row in rows[: query.limit]
        ]
        more = len(rows) > query.limit
        return ConnectionPage(
            items=items, next_cursor=cursor_after(items[-1].connection) if more else None
        )
