"""Sealed PHI columns read and rewritten as raw sealed values, for key rotation.

Table and column names come only from ``domain.phi.SEALED_COLUMNS`` and are
quoted as identifiers; values are always parameters.
"""

from __future__ import annotations

import uuid

from psycopg import AsyncConnection, sql

from domain.phi.ports import SealedValue
from domain.sealing import Sealed, SealedColumn


def _names(column: SealedColumn) -> dict[str, sql.Composable]:
    return {
        "table": sql.Identifier(column.table),
        "row_key": sql.Identifier(column.row_key),
        "blob": sql.Identifier(column.sealed_column),
        "key_id": sql.Identifier(column.key_id_column),
        # a partitioned table's partition column, read and named so a rewrite reads one
        "partition": sql.Identifier(column.partition_key) if column.partition_key else sql.NULL,
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
            SELECT {row_key} AS row_id, {key_id} AS key_id, {blob} AS blob,
                   {partition} AS partition
            FROM {table}
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
            SealedValue(
                row_id=row["row_id"],
                sealed=Sealed(row["key_id"], bytes(row["blob"])),
                partition=row["partition"],
            )
            for row in await cursor.fetchall()
        ]

    async def replace(self, column: SealedColumn, value: SealedValue, sealed: Sealed) -> None:
        names = _names(column)
        params = [sealed.blob, sealed.key_id, value.row_id]
        row = sql.SQL("{row_key} = %s").format(**names)
        if column.partition_key is not None:
            row = sql.SQL("{row} AND {partition} = %s").format(row=row, **names)
            params.append(value.partition)
        statement = sql.SQL("UPDATE {table} SET {blob} = %s, {key_id} = %s WHERE {row}")
        await self._conn.execute(statement.format(row=row, **names), params)
