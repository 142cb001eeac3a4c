"""Can we reach PostgreSQL and Redis right now? Bounded answers for readiness checks.

Each probe has its own deadline and returns why it failed (an exception
*type*, or "timeout"), never the exception's text, which may quote a DSN.
"""

from __future__ import annotations

import asyncio

import psycopg
import redis
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import check_idle_connections_soon
from domain.monitoring.ports import OK


async def _bounded(probe: asyncio.Future | object, timeout: float) -> str:
    try:
        await asyncio.wait_for(probe, timeout)  # type: ignore[arg-type]
    except TimeoutError:
        return "timeout"
    except Exception as exc:  # any failure means "not ready"; only its type is reported
        return f"error: {type(exc).__name__}"
    return OK


async def probe_postgres(pool: AsyncConnectionPool, timeout: float = 2.0) -> str:
    """SELECT 1 on a pooled connection. If that one was dead (the server restarted while it
    sat idle), the pool's idle connections are tested in the background and the server
    itself is asked on a fresh connection: a server that is back is reported ready, one
    that is down is reported at once, and neither waits on the pool's reconnecting."""

    async def select_one() -> None:
        try:
            async with pool.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")
        except psycopg.OperationalError:
            check_idle_connections_soon(pool)
            fresh = await psycopg.AsyncConnection.connect(pool.conninfo, **pool.kwargs)
            async with fresh:
                await fresh.execute("SELECT 1")

    return await _bounded(select_one(), timeout)


async def probe_redis(client: redis.Redis, timeout: float = 2.0) -> str:
    """PING on a worker thread: the client is the broker's, which is synchronous."""
    return await _bounded(asyncio.to_thread(client.ping), timeout)
