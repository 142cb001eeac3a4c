"""Reading the audit trail: filtered keyset pages in chain order, and whole-chain verification.

Both read in seq order, which is chain order (events are chained under one
lock), through short reads on the pool: neither holds the chain's lock while it reads,
so listing or verifying a long trail never stalls audited writes. Both first link any
event still pending (domain/adapters/audit/log.py), so an event whose after-commit
chaining failed shows at the next read, not at the next write.

A page opens only the months its events can be in (domain/adapters/audit/months.py): it
reads the months' ranges of chain positions with the chain's head, then the months window
by window, up to that head. Verifying walks every month, whatever the ranges say.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.audit.log import chain_pending, link_before_reading
from domain.adapters.audit.months import MonthRange, Window, Windows, month_span
from domain.adapters.cursors import decode_sequence, encode_sequence
from domain.adapters.postgres import pooled, refuse_unstorable_text
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


def _conditions(
    query: AuditQuery, after_seq: int | None, below_seq: int | None, through_seq: int | None
) -> tuple[sql.Composable, list[Any]]:
    wanted: list[tuple[str, str, Any]] = [
        ("seq", ">", after_seq),
        ("seq", "<", below_seq),
        ("seq", "<=", through_seq),
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
    query: AuditQuery,
    after_seq: int | None,
    limit: int,
    below_seq: int | None = None,
    through_seq: int | None = None,
) -> tuple[sql.Composable, list[Any]]:
    """The read of up to ``limit`` events after ``after_seq`` (under ``below_seq``, up to
    ``through_seq``) that ``query`` selects, in chain order: each month's partition gives them
    in that order from an index that leads with the filter's columns and ends with ``seq``
    (migration 0808), so a page reads about as many entries as it shows, whatever an actor's
    or a resource's history holds. It opens the months ``query``'s ``since`` and ``until``
    leave (a window of months narrows them: ``window_query``)."""
    where, params = _conditions(query, after_seq, below_seq, through_seq)
    statement = sql.SQL(
        "SELECT {columns} FROM audit_events WHERE {where} ORDER BY seq LIMIT %s"
    ).format(columns=_COLUMNS, where=where)
    return statement, [*params, limit]


def window_query(query: AuditQuery, window: Window) -> AuditQuery:
    """``query`` narrowed to the months of ``window`` (its own ``since``/``until`` kept)."""
    since = window.since if query.since is None else max(query.since, window.since)
    until = window.until if query.until is None else min(query.until, window.until)
    return msgspec.structs.replace(query, since=since, until=until)


def _wanted_by(query: AuditQuery, month: MonthRange) -> bool:
    """Whether ``month`` has any instant in ``query``'s [since, until)."""
    start, end = month_span(month.month)
    return (query.until is None or start < query.until) and (
        query.since is None or end > query.since
    )


# The ranges and the chain's head, in one snapshot: the chaining moves the head, and widens
# the ranges, in the transaction that links, under the chain's lock, so the ranges cover
# every event up to the head, and every event chained later lies past it. The newest month
# is open (migration 0809): its range reaches to the head, and is not written as it grows.
_MONTHS = """
    SELECT month, first_seq, last_seq, newest FROM (
        SELECT m.month, m.first_seq, h.seq AS newest,
               CASE WHEN m.month = max(m.month) OVER () THEN h.seq ELSE m.last_seq END
                   AS last_seq
        FROM audit_months m CROSS JOIN audit_chain_head h
        WHERE h.seq IS NOT NULL
    ) AS ranges
    WHERE %(after)s::bigint IS NULL OR last_seq > %(after)s
"""


async def _months_after(
    conn: AsyncConnection, query: AuditQuery, after_seq: int | None
) -> tuple[list[MonthRange], int | None]:
    """The months holding an event past ``after_seq`` whose time ``query`` may want, and the
    chain's head, the newest position they cover (None when there is none)."""
    cursor = await conn.execute(_MONTHS, {"after": after_seq})
    found = await cursor.fetchall()
    months = [MonthRange(row["month"], row["first_seq"], row["last_seq"]) for row in found]
    newest = found[0]["newest"] if found else None
    return [month for month in months if _wanted_by(query, month)], newest


async def _select_on(
    conn: AsyncConnection,
    query: AuditQuery,
    after_seq: int | None,
    limit: int,
    below_seq: int | None = None,
    through_seq: int | None = None,
) -> list[AuditRecord]:
    statement, params = page_statement(query, after_seq, limit, below_seq, through_seq)
    cursor = await conn.execute(statement, params)
    return [record_from_row(row) for row in await cursor.fetchall()]


async def read_page(
    conn: AsyncConnection, query: AuditQuery, after_seq: int | None, limit: int
) -> list[AuditRecord]:
    """Up to ``limit`` events after ``after_seq`` that ``query`` selects, in chain order, read
    window by window from the months that may hold them. Only events up to the chain's head
    read with the ranges are shown: one chained since (into a month whose range was read
    before it widened, say) waits for the next page, which reads the ranges afresh, so none
    is passed."""
    months, newest = await _months_after(conn, query, after_seq)
    records: list[AuditRecord] = []
    plan = Windows(months, after_seq, limit)
    for window in plan:
        narrowed = window_query(query, window)
        left = limit - len(records)
        found = await _select_on(conn, narrowed, window.after, left, window.below, newest)
        records += found
        if len(records) == limit:
            break
        plan.found(len(found))
    return records


class PgAuditStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    async def _select(
        self, query: AuditQuery, after_seq: int | None, limit: int
    ) -> list[AuditRecord]:
        async with pooled(self._pool) as conn:
            return await _select_on(conn, query, after_seq, limit)

    async def page(self, query: AuditQuery, *, limit: int, cursor: str | None) -> AuditPage:
        """A page in chain order, once every committed event still pending has been linked
        (if the chain's lock is not free within ``LINK_LOCK_TIMEOUT``, or the linking fails,
        the page shows what is linked already: that failure is logged as an error)."""
        refuse_unstorable_text(query.actor_id, query.resource_type, query.resource_id)
        await link_before_reading(self._pool)
        after = decode_sequence(cursor) if cursor is not None else None
        async with pooled(self._pool) as conn:
            records = await read_page(conn, query, after, limit + 1)
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
