"""Reading the audit trail: filtered keyset pages in chain order, and whole-chain verification.

Both read in seq order, which is chain order (events are chained under one
lock), through short autocommit reads on the pool: neither holds the chain's
lock while it reads, so listing or verifying a long trail never stalls audited
writes. Both first link any event still pending (domain/adapters/audit/log.py), so an
event whose after-commit chaining failed shows at the next read, not at the next write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.audit.log import chain_pending, link_before_reading
from domain.adapters.cursors import decode_sequence, encode_sequence
from domain.adapters.postgres import pooled
from domain.audit.trail import (
    AuditPage,
    AuditQuery,
    AuditRecord,
    ChainHead,
    ChainReport,
    verify_chain,
)
from domain.auditing import Outcome

VERIFY_PAGE_SIZE = 1000

_COLUMNS = sql.SQL(
    "seq, at, actor_id, actor_role, action, resource_type, resource_id, outcome, status_code, "
    "ip, user_agent, request_id, changed_fields, prev_hash, hash"
)


def record_from_row(row: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        seq=row["seq"],
        at=row["at"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        outcome=Outcome(row["outcome"]),
        status_code=row["status_code"],
        ip=row["ip"],
        user_agent=row["user_agent"],
        request_id=row["request_id"],
        changed_fields=tuple(row["changed_fields"]),
        prev_hash=bytes(row["prev_hash"]),
        hash=bytes(row["hash"]),
    )


def _conditions(query: AuditQuery, after_seq: int | None) -> tuple[sql.Composable, list[Any]]:
    wanted: list[tuple[str, str, Any]] = [
        ("seq", ">", after_seq),
        ("actor_id", "=", query.actor_id),
        ("resource_type", "=", query.resource_type),
        ("resource_id", "=", query.resource_id),
        ("at", ">=", query.since),
        ("at", "<", query.until),
    ]
    clauses: list[sql.Composable] = []
    params: list[Any] = []
    for column, op, value in wanted:
        if value is not None:
            clauses.append(sql.SQL("{} {} %s").format(sql.Identifier(column), sql.SQL(op)))
            params.append(value)
    if not clauses:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(clauses), params


def page_statement(
    query: AuditQuery, after_seq: int | None, limit: int
) -> tuple[sql.Composable, list[Any]]:
    """The read of up to ``limit`` events after ``after_seq`` that ``query`` selects, in chain
    order: each month's partition gives them in that order from an index that leads with the
    filter's columns and ends with ``seq`` (migration 0808), so a page reads about as many
    entries as it shows, whatever an actor's or a resource's history holds."""
    where, params = _conditions(query, after_seq)
    statement = sql.SQL(
        "SELECT {columns} FROM audit_events WHERE {where} ORDER BY seq LIMIT %s"
    ).format(columns=_COLUMNS, where=where)
    return statement, [*params, limit]


class PgAuditStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def _select(
        self, query: AuditQuery, after_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        statement, params = page_statement(query, after_seq, limit)
        async with pooled(self._pool) as conn:
            cursor = await conn.execute(statement, params)
            rows = await cursor.fetchall()
        return [record_from_row(row) for row in rows]

    async def page(self, query: AuditQuery, *, limit: int, cursor: str | None) -> AuditPage:
        """A page in chain order, once every committed event still pending has been linked
        (if the chain's lock is not free within ``LINK_LOCK_TIMEOUT``, or the linking fails,
        the page shows what is linked already: that failure is logged as an error)."""
        await link_before_reading(self._pool)
        after = decode_sequence(cursor) if cursor is not None else None
        records = await self._select(query, after, limit + 1)
        more = len(records) > limit
        records = records[:limit]
        next_cursor = encode_sequence(records[-1].seq) if more else None
        return AuditPage(records=records, next_cursor=next_cursor)

    async def _chain_pages(self, page_size: int) -> AsyncIterator[list[AuditRecord]]:
        after: int | None = None
        while True:
            records = await self._select(AuditQuery(), after, page_size)
            if records:
                yield records
            if len(records) < page_size:
                return
            after = records[-1].seq

    async def link_pending(self) -> int:
        return await chain_pending(self._pool)

    async def oldest_pending(self) -> datetime | None:
        async with pooled(self._pool) as conn:
            cursor = await conn.execute("SELECT min(at) AS at FROM audit_pending")
            row = await cursor.fetchone()
        return row["at"] if row else None

    async def verify(self, page_size: int = VERIFY_PAGE_SIZE) -> ChainReport:
        """The whole chain, once every committed event still pending has been linked, up to
        the newest link the chaining had made before the walk began (migration 0807)."""
        await chain_pending(self._pool)
        head = await self._head()
        return await verify_chain(self._chain_pages(page_size), head)

    async def _head(self) -> ChainHead:
        async with pooled(self._pool) as conn:
            cursor = await conn.execute("SELECT seq, hash FROM audit_chain_head")
            row = await cursor.fetchone()
        return ChainHead(seq=row["seq"], hash=bytes(row["hash"]))
