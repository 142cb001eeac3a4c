"""Appending audit events: recorded inside the caller's transaction, chained after its commit.

``record`` inserts the event into ``audit_pending`` with the rest of the transaction
(it commits or rolls back with the write it records) and takes no lock. Once the
transaction has committed, ``chain_pending`` (asked for by the unit of work, and run behind
the write: ``ChainingBehindWrites``) links every committed pending event into
``audit_events`` under the chain's advisory lock, in short
transactions of their own (``audit_chain_pending``, migrations 0805 and 0806: the lock's
key is in the function, it runs in READ COMMITTED only, and links at most ``CHAIN_BATCH``
events a call, so a backlog is linked in several calls, none near a statement timeout):
two chainers never link onto the same predecessor, and seq order stays chain order.
Audited writes used to hold that lock from their append to their commit, so each waited
for the previous one's commit; now only the chaining is serial, and one call chains
everything committed meanwhile. ``audit_pending`` refuses UPDATE, and any DELETE but the
chaining's own.

An event whose writer died (or whose chaining failed) between its commit and the chaining
stays pending until the next chaining: by any audited write, any read of the trail
(listing or verifying links first), the daily partition upkeep, or the
``audit.chain_pending`` sweep the scheduler plans when an event has waited too long.
"""

from __future__ import annotations

import asyncio

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled
from domain.audit.trail import event_tail
from domain.auditing import AuditContext, AuditEntry
from domain.clock import Clock
from domain.logging import exception_fields

log = structlog.get_logger(__name__)

AUDIT_CHAIN_LOCK = 0x4155_4454  # "AUDT"; audit_chain_pending (migration 0806) has it too
CHAIN_BATCH = 5000  # events linked per call of audit_chain_pending, one transaction each
# An after-commit chaining, or the one before a page of the trail, waits this long for the
# chain's lock (held by a long partition upkeep, say) before it leaves the events to the
# next chaining: the write has committed, the page shows what is linked already.
LINK_LOCK_TIMEOUT = "5s"

_COLUMNS = """tail, at, actor_id, actor_role, action, resource_type, resource_id, outcome,
    status_code, ip, user_agent, request_id, changed_fields"""
_ROW = "(" + ", ".join(["%s"] * 13) + ")"


def _record_many(count: int) -> str:
    return f"INSERT INTO audit_pending ({_COLUMNS}) VALUES " + ", ".join([_ROW] * count)


_RECORD = _record_many(1)


class PgAuditLog:
    """``held``: the events wait in memory until ``write_held``, which writes them all in
    one statement (a unit of work without a transaction, whose reads are recorded only if
    the block ends well; see PgUnitOfWorkFactory)."""

    def __init__(self, conn: AsyncConnection, clock: Clock, *, held: bool = False) -> None:
        self._conn = conn
        self._clock = clock
        self._held: list[tuple[object, ...]] | None = [] if held else None
        self.recorded = 0  # events this transaction left to chain

    async def record(self, context: AuditContext, entry: AuditEntry) -> None:
        at = self._clock.now()
        row = (
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
        )
        if self._held is not None:
            self._held.append(row)
            return
        await self._conn.execute(_RECORD, row)
        self.recorded += 1

    async def write_held(self) -> None:
        """The events held so far, in one statement (so all of them or none)."""
        if not self._held:
            return
        rows, self._held = self._held, []
        await self._conn.execute(_record_many(len(rows)), [value for row in rows for value in row])
        self.recorded += len(rows)


_CHAIN = "SELECT audit_chain_pending(%s) AS chained"
# The lock wait bounded in the same statement (one round trip, the statement's own
# transaction on an autocommit connection): the CTE is read, so set, before the call.
_CHAIN_WAITING_AT_MOST = """
    WITH bounded AS MATERIALIZED (SELECT set_config('lock_timeout', %s, true))
    SELECT audit_chain_pending(%s) AS chained FROM bounded
"""


async def chain_batch_on(
    conn: AsyncConnection, batch: int = CHAIN_BATCH, lock_timeout: str | None = None
) -> int:
    """Link up to ``batch`` committed pending events into the chain; how many were linked."""
    if lock_timeout is None:
        cursor = await conn.execute(_CHAIN, (batch,))
    else:
        cursor = await conn.execute(_CHAIN_WAITING_AT_MOST, (lock_timeout, batch))
    row = await cursor.fetchone()
    return row["chained"] if row else 0


async def chain_pending(
    pool: AsyncConnectionPool, *, batch: int = CHAIN_BATCH, lock_timeout: str | None = None
) -> int:
    """Link every committed pending event, one batch per transaction of its own (the pool's
    connections autocommit), until a batch comes back short; how many were linked."""
    linked = 0
    async with pooled(pool) as conn:
        while True:
            chained = await chain_batch_on(conn, batch, lock_timeout)
            linked += chained
            if chained < batch:
                return linked


async def chain_after_commit(pool: AsyncConnectionPool, recorded: int) -> None:
    """The unit of work's step after a commit that recorded ``recorded`` events. The write
    has committed, so a failure here must not turn it into an error: the events stay
    pending, to be linked by the next chaining (a write, a read of the trail, the sweep).
    It is logged as an error all the same: the trail lags until then."""
    try:
        await chain_pending(pool, lock_timeout=LINK_LOCK_TIMEOUT)
    except Exception as exc:  # the next chaining picks them up; the write stands
        log.error("audit_chaining_failed", pending=recorded, **exception_fields(exc))


class ChainingBehindWrites:
    """Links the events of committed writes into the chain, behind them: a write asks for it
    (``after_commit``) and goes on, its request answering without waiting for the chain.

    Its events are already committed, in ``audit_pending`` with the write, so the request
    answers with them recorded; they are linked a chaining later (milliseconds), and every
    read of the trail links what is pending before it reads (``link_before_reading``), so no
    reader through the platform sees them unlinked. One chaining runs at a time per process:
    the writes that commit while one runs go together in the next, so under load there is a
    chaining per batch of writes, not one per write. A process that stops waits for the
    chainings it asked for (``settle``) before it closes its pool; one killed instead leaves
    its events pending for the next chaining anywhere (a write, a read, the sweep).
    """

    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._waiting = 0  # events committed since the running chaining began
        self._chaining: asyncio.Task[None] | None = None

    def after_commit(self, recorded: int) -> None:
        self._waiting += recorded
        loop = asyncio.get_running_loop()
        running = self._chaining
        if running is None or running.done() or running.get_loop() is not loop:
            self._chaining = loop.create_task(self._chain_while_waiting())

    async def _chain_while_waiting(self) -> None:
        try:
            while self._waiting:
                recorded, self._waiting = self._waiting, 0
                await chain_after_commit(self._pool, recorded)  # never raises an Exception
        finally:
            if self._chaining is asyncio.current_task():
                self._chaining = None

    async def settle(self) -> None:
        """Wait until every chaining asked for on this event loop has run."""
        while (running := self._chaining) is not None and not running.done():
            if running.get_loop() is not asyncio.get_running_loop():
                return  # asked for on a loop that has gone: the next chaining links them
            await asyncio.shield(running)


async def link_before_reading(pool: AsyncConnectionPool) -> None:
    """Link what is pending before a page of the trail is read; a failure leaves the page
    to show what is linked already (logged as an error, with how many wait)."""
    try:
        await chain_pending(pool, lock_timeout=LINK_LOCK_TIMEOUT)
    except Exception as exc:
        pending = await _pending_count(pool)
        log.error("audit_chaining_failed", during="read", pending=pending, **exception_fields(exc))


async def _pending_count(pool: AsyncConnectionPool) -> int | None:
    try:
        async with pooled(pool) as conn:
            cursor = await conn.execute("SELECT count(*) AS n FROM audit_pending")
            row = await cursor.fetchone()
    except Exception:  # the database is what failed: the count is unknown
        return None
    return row["n"] if row else None
