"""Appending audit events: recorded inside the caller's transaction, chained after its commit.

``record`` inserts the event into ``audit_pending`` with the rest of the transaction
(it commits or rolls back with the write it records) and takes no lock. Once the
transaction has committed, ``chain_pending`` (called by the unit of work) links every
committed pending event into ``audit_events`` under the chain's advisory lock, in one
statement and one short transaction of its own (migration 0806's
``audit_chain_pending``): two chainers never link onto the same predecessor, and seq
order stays chain order. Audited writes used to hold that lock from their append to
their commit, so each waited for the previous one's commit; now only the chaining is
serial, and one call chains everything committed meanwhile.

An event whose writer died between its commit and the chaining stays pending until the
next chaining, by any audited write, the daily partition upkeep or a verification.
"""

from __future__ import annotations

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled
from domain.audit.trail import event_tail
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

AUDIT_CHAIN_LOCK = 0x4155_4454  # "AUDT"

_RECORD = """
    INSERT INTO audit_pending (tail, at, actor_id, actor_role, action, resource_type,
        resource_id, outcome, status_code, ip, user_agent, request_id, changed_fields)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""


class PgAuditLog:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock
        self.recorded = False  # whether this transaction left events to chain

    async def record(self, context: AuditContext, entry: AuditEntry) -> None:
        at = self._clock.now()
        await self._conn.execute(
            _RECORD,
            (
                event_tail(at=at, context=context, entry=entry),
                at,
                context.actor_id,
                context.actor_role,
                entry.action,
                entry.resource_type,
                entry.resource_id,
                entry.outcome.value,
                entry.status_code,
                context.ip,
                context.user_agent,
                context.request_id,
                list(entry.changed_fields),
            ),
        )
        self.recorded = True


async def chain_pending_on(conn: AsyncConnection) -> int:
    """Link every committed pending event into the chain; how many were linked."""
    cursor = await conn.execute("SELECT audit_chain_pending(%s) AS chained", (AUDIT_CHAIN_LOCK,))
    row = await cursor.fetchone()
    return row["chained"] if row else 0


async def chain_pending(pool: AsyncConnectionPool) -> int:
    """``chain_pending_on`` in a transaction of its own, after an audited commit."""
    async with pooled(pool) as conn:  # autocommit: the call is its own transaction
        return await chain_pending_on(conn)


async def chain_after_commit(pool: AsyncConnectionPool) -> None:
    """The unit of work's step after an audited commit. The write has committed, so a
    failure here must not turn it into an error: the events stay pending, and the next
    chaining (by anyone) links them."""
    try:
        await chain_pending(pool)
    except Exception as exc:  # the next chaining picks them up; the write stands
        log.warning("audit_chaining_deferred", **exception_fields(exc))
