"""Every kind of patient file in PostgreSQL: one repository, built from the kind's declaration.

Each kind has its own table (``records``, ``documents``) with the columns every
kind shares (id, patient, uploader, job, CID, size, created, deleted, unpinned)
and its own, named as its row struct's fields: a public detail is a column of
that name (``record_type``), a sealed one the pair ``{name}_sealed``/``{name}_key_id``
of its ``SealedColumn``. So the statements below (insert, get, by job, the
newest-first page, soft deletion, retention) serve every kind; a kind's own
repository adds only what is truly its own (records: anchoring). Table and
column names come from declarations, never from input, and are quoted as
identifiers.
"""

from __future__ import annotations

import enum
import functools
import uuid
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from domain.adapters.keyset import cut_page, newest_first_filter
from domain.adapters.patients.store import sealed_from_row
from domain.files.kind import FileKind
from domain.files.model import ContentRef, FilePage, FileQuery, StoredFile
from domain.sealing import Sealed

# Not written by an insert: a new file is not deleted.
_NOT_INSERTED = frozenset({"deleted_at"})


def _stored_value(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | dict):
        return Jsonb(msgspec.to_builtins(value))
    return value


@functools.cache
def _field_names(row: type[msgspec.Struct]) -> frozenset[str]:
    """A row struct's field names, once per struct: ``msgspec.structs.fields`` evaluates the
    annotations on every call (about 0.5 ms), and a repository is built per transaction."""
    return frozenset(field.name for field in msgspec.structs.fields(row))


async def insert_row(conn: AsyncConnection, table: str, columns: dict[str, Any]) -> None:
    """INSERT one row of ``columns`` (names from declarations, values as parameters)."""
    statement = sql.SQL("INSERT INTO {t} ({names}) VALUES ({values})").format(
        t=sql.Identifier(table),
        names=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(map(sql.Placeholder, columns)),
    )
    await conn.execute(statement, columns)


class PgPatientFiles:
    def __init__(self, conn: AsyncConnection, kind: FileKind) -> None:
        self._conn = conn
        self.kind = kind
        self._table = sql.Identifier(kind.table)
        self._fields = _field_names(kind.row)

    def from_row(self, row: dict[str, Any]) -> StoredFile:
        values = dict(row)
        for name, column in self.kind.sealed.items():
            values[name] = sealed_from_row(row, column)
        return msgspec.convert(values, self.kind.row)

    def _columns(self, file: StoredFile) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for name in self._fields - _NOT_INSERTED:
            value = getattr(file, name)
            column = self.kind.sealed.get(name)
            if column is None:
                columns[name] = _stored_value(value)
                continue
            sealed: Sealed | None = value
            columns[column.sealed_column] = sealed.blob if sealed else None
            columns[column.key_id_column] = sealed.key_id if sealed else None
        return columns

    async def add(self, file: StoredFile) -> None:
        await insert_row(self._conn, self.kind.table, self._columns(file))

    async def _one(self, where: str, value: object) -> StoredFile | None:
        statement = sql.SQL("SELECT * FROM {t} AS f WHERE {where}").format(
            t=self._table, where=sql.SQL(where)
        )
        cursor = await self._conn.execute(statement, (value,))
        row = await cursor.fetchone()
        return self.from_row(row) if row else None

    async def get(self, file_id: uuid.UUID) -> StoredFile | None:
        return await self._one("f.id = %s AND f.deleted_at IS NULL", file_id)

    async def by_job(self, job_id: uuid.UUID) -> StoredFile | None:
        return await self._one("f.job_id = %s", job_id)

    async def page(self, query: FileQuery) -> FilePage:
        params: dict[str, Any] = {"limit": query.limit + 1}
        clauses: list[sql.Composable] = [sql.SQL("f.deleted_at IS NULL")]
        if query.patient_id is not None:
            clauses.append(sql.SQL("f.patient_id = %(patient)s"))
            params["patient"] = query.patient_id
        for column, value in query.filters.items():
            if column not in self._fields or column in self.kind.sealed:
                raise ValueError(f"{self.kind.table} cannot be filtered by {column}")
            clauses.append(
                sql.SQL("f.{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
            )
            params[column] = _stored_value(value)
        clauses += newest_first_filter(query.cursor, "f", params)
        statement = sql.SQL(
            "SELECT * FROM {t} AS f WHERE {w} ORDER BY f.created_at DESC, f.id DESC LIMIT %(limit)s"
        ).format(t=self._table, w=sql.SQL(" AND ").join(clauses))
        cursor = await self._conn.execute(statement, params)
        files = [self.from_row(row) for row in await cursor.fetchall()]
        return FilePage(*cut_page(files, query.limit))

    async def soft_delete(self, file_id: uuid.UUID, by: uuid.UUID, at: datetime) -> bool:
        statement = sql.SQL(
            "UPDATE {t} SET deleted_at = %s, deleted_by = %s WHERE id = %s AND deleted_at IS NULL"
        ).format(t=self._table)
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
        ).format(t=self._table)
        cursor = await self._conn.execute(statement, (deleted_before, limit))
        return [ContentRef(row["id"], row["cid"]) for row in await cursor.fetchall()]

    async def mark_unpinned(self, file_id: uuid.UUID, at: datetime) -> None:
        statement = sql.SQL("UPDATE {t} SET unpinned_at = %s WHERE id = %s").format(t=self._table)
        await self._conn.execute(statement, (at, file_id))


def files_by_table(*repositories: PgPatientFiles) -> dict[str, PgPatientFiles]:
    """A unit of work's ``files``: every kind's repository, by its table."""
    return {repository.kind.table: repository for repository in repositories}
