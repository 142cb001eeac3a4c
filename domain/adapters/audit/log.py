"""Appending audit events inside the caller's transaction.

The append takes a transaction-level advisory lock, reads the newest hash,
draws the next seq and inserts the next link, all in one call of migration
0805's ``audit_append`` (one round trip); the lock is held until the caller
commits, so two transactions can never chain onto the same predecessor. That
serialises audited writes, which is the price of a single verifiable chain;
doing it in one statement keeps the lock for one round trip and the commit,
instead of four and the commit.
"""

from __future__ import annotations

from psycopg import AsyncConnection

from domain.audit.trail import event_tail
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock

AUDIT_CHAIN_LOCK = 0x4155_4454  # "AUDT"

_APPEND = (
    "SELECT audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[]) AS seq"
)


class PgAuditLog:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def record(self, context: AuditContext, entry: AuditEntry) -> None:
        at = self._clock.now()
        await self._conn.execute(
            _APPEND,
            (
                AUDIT_CHAIN_LOCK,
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
