"""Runs that must never overlap, whichever process starts them: a PostgreSQL advisory lock.

The lock is held on one pooled connection for the whole run and released at
its end; if the process dies, PostgreSQL releases it with the connection.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class AdvisoryLocks:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool

    def __call__(self, name: str) -> AbstractAsyncContextManager[bool]:
        """``async with locks("anchor") as held:`` - ``held`` is False when another run has it."""
        return self._hold(name)

    @asynccontextmanager
    async def _hold(self, name: str) -> AsyncIterator[bool]:
        key = lock_key(name)
        async with pooled(self._pool) as conn:
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s) AS held", (key,))
            held = bool((await cursor.fetchone())["held"])
            try:
                yield held
            finally:
                if held:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
