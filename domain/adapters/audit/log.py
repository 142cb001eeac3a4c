"""Appending audit events inside the caller's transaction.

The append takes a transaction-level advisory lock, reads the newest hash,
and inserts the next link; the lock is held until the caller commits, so two
transactions can never chain onto the same predecessor. That serialises
audited writes, which is the price of a single verifiable chain.
"""

from __future__ import annotations

from psycopg import AsyncConnection

from domain.audit.trail import GENESIS_HASH, event_hash
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock

AUDIT_CHAIN_LOCK = 0x4155_4454  # "AUDT"


class PgAuditLog:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def record(self, context: AuditContext, entry: AuditEntry) -> None:
        conn = self._conn
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_CHAIN_LOCK,))
        cursor = await conn.execute("SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1")
        last = await cursor.fetchone()
        prev_hash = bytes(last["hash"]) if last else GENESIS_HASH
        cursor = await conn.execute("SELECT nextval('audit_events_seq') AS seq")
        seq = (await cursor.fetchone())["seq"]
        at = self._clock.now()
        digest = event_hash(prev_hash, seq=seq, at=at, context=context, entry=entry)
        await conn.execute(
            """
            INSERT INTO audit_events (seq, at, actor_id, actor_role, action, resource_type,
                resource_id, outcome, status_code, ip, user_agent, request_id, changed_fields,
                prev_hash, hash)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                seq,
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
                prev_hash,
                digest,
            ),
        )
