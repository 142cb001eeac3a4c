"""Sealed PHI columns read and rewritten as raw sealed values, for key rotation.

Table and column names come only from ``domain.phi.SEALED_COLUMNS`` and are
quoted as identifiers; values are always parameters.
"""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection, sql

from domain.phi.ports import SealedValue
from domain.sealing import Sealed, SealedColumn


def _names(column: SealedColumn) -> dict[str, sql.Identifier]:
    return {
        "table": sql.Identifier(column.table),
        "row_key": sql.Identifier(column.row_key),
        "blob": sql.Identifier(column.sealed_column),
        "key_id": sql.Identifier(column.key_id_column),
    }


class PgSealedValues:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def stale(
        self, column: SealedColumn, active_key_id: str, after: uuid.UUID | None, limit: int
    ) -> list[SealedValue]:
        resume = sql.SQL("AND {row_key} > %(after)s") if after is not None else sql.SQL("")
        statement = sql.SQL(
            """
            SELECT {row_key} AS row_id, {key_id} AS key_id, {blob} AS blob FROM {table}
            WHERE {blob} IS NOT NULL AND {key_id} <> %(active)s {resume}
            ORDER BY {row_key}
            LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED
            """
        ).format(resume=resume.format(**_names(column)), **_names(column))
        cursor = await self._conn.execute(
            statement, {"active": active_key_id, "after": after, "limit": limit}
        )
        return [
            SealedValue(row_id=row["row_id"], sealed=Sealed(row["key_id"], bytes(row["blob"])))
            for row in await cursor.fetchall()
        ]

    async def replace(self, column: SealedColumn, row_id: uuid.UUID, sealed: Sealed) -> None:
        statement = sql.SQL("UPDATE {table} SET {blob} = %s, {key_id} = %s WHERE {row_key} = %s")
        await self._conn.execute(
            statement.format(**_names(column)), (sealed.blob, sealed.key_id, row_id)
        )
