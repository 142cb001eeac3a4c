"""One PostgreSQL transaction with the repositories that write inside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.audit_log import PgAuditLog
from domain.adapters.email_store import PgEmailRepository
from domain.adapters.job_store import PgJobRepository
from domain.clock import Clock


class PgUnitOfWork:
    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self.connection = conn
        self.jobs = PgJobRepository(conn, clock)
        self.emails = PgEmailRepository(conn, clock)
        self.audit = PgAuditLog(conn, clock)


class PgUnitOfWorkFactory:
    """Calling it opens a transaction; leaving the block commits, an exception rolls back."""

    def __init__(self, pool: AsyncConnectionPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    def __call__(self) -> AbstractAsyncContextManager[PgUnitOfWork]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[PgUnitOfWork]:
        async with self._pool.connection() as conn, conn.transaction():
            yield PgUnitOfWork(conn, self._clock)
