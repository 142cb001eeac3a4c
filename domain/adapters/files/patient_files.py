"""What records and documents share in PostgreSQL: soft deletion, retention, listing order.

Both are a patient's files with content on IPFS; each table adds its own
columns, and its repository subclasses this one for the common statements.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql

from domain.adapters.keyset import newest_first_filter
from domain.files.ports import ContentRef


class PatientFileTable:
    table: str  # set by each subclass; never from input

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    @property
    def _name(self) -> sql.Identifier:
        return sql.Identifier(self.table)

    async def _one(self, where: str, value: object) -> dict[str, Any] | None:
        statement = sql.SQL("SELECT * FROM {t} AS f WHERE {where}").format(
            t=self._name, where=sql.SQL(where)
        )
        cursor = await self._conn.execute(statement, (value,))
        return await cursor.fetchone()

    async def _page_rows(
        self, patient_id: uuid.UUID | None, cursor: str | None, limit: int, **equal: object
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit + 1}
        clauses: list[sql.Composable] = [sql.SQL("f.deleted_at IS NULL")]
        if patient_id is not None:
            clauses.append(sql.SQL("f.patient_id = %(patient)s"))
            params["patient"] = patient_id
        for column, value in equal.items():
            if value is not None:
                clauses.append(
                    sql.SQL("f.{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
                )
                params[column] = value
        clauses += newest_first_filter(cursor, "f", params)
        statement = sql.SQL(
            "SELECT * FROM {t} AS f WHERE {w} ORDER BY f.created_at DESC, f.id DESC LIMIT %(limit)s"
        ).format(t=self._name, w=sql.SQL(" AND ").join(clauses))
        result = await self._conn.execute(statement, params)
        return await result.fetchall()

    async def soft_delete(self, file_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool:
        statement = sql.SQL(
            "UPDATE {t} SET deleted_at = %s, deleted_by = %s WHERE id = %s AND deleted_at IS NULL"
        ).format(t=self._name)
        cursor = await self._conn.execute(statement, (at, by, file_id))
        return cursor.rowcount == 1

    async def due_for_unpin(self, deleted_before: datetime, limit: int) -> list[ContentRef]:
        # Identical bytes share a CID: keep it pinned while any live file still points at it.
        statement = sql.SQL(
            """
            SELECT f.id, f.cid FROM {t} AS f
            WHERE f.deleted_at IS NOT NULL AND f.deleted_at < %s AND f.unpinned_at IS NULL
              AND NOT EXISTS (SELECT 1 FROM {t} AS live
                              WHERE live.cid = f.cid AND live.deleted_at IS NULL)
            ORDER BY f.deleted_at
            LIMIT %s
            """
        ).format(t=self._name)
        cursor = await self._conn.execute(statement, (deleted_before, limit))
        return [ContentRef(row["id"], row["cid"]) for row in await cursor.fetchall()]

    async def mark_unpinned(self, file_id: uuid.UUID, at: datetime) -> None:
        statement = sql.SQL("UPDATE {t} SET unpinned_at = %s WHERE id = %s").format(t=self._name)
        await self._conn.execute(statement, (at, file_id))
