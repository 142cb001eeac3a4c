"""Can we reach PostgreSQL and Redis right now? Bounded answers for readiness checks.

Each probe has its own deadline and returns why it failed (an exception
*type*, or "timeout"), never the exception's text, which may quote a DSN.
"""

from __future__ import annotations

import asyncio

import redis
from psycopg_pool import AsyncConnectionPool

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
    async def select_one() -> None:
        async with pool.connection(timeout=timeout) as conn:
            await conn.execute("SELECT 1")

    return await _bounded(select_one(), timeout)


async def probe_redis(client: redis.Redis, timeout: float = 2.0) -> str:
    """PING on a worker thread: the client is the broker's, which is synchronous."""
    return await _bounded(asyncio.to_thread(client.ping), timeout)
