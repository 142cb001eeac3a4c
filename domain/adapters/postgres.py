"""PostgreSQL plumbing shared by every store: the pool, row mapping, the unit of work."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from domain.errors import DatabaseUnavailable, UnstorableValue
from domain.jobs.model import Job, JobError, JobEvent, JobStatus
from domain.setting_values import SettingsError, refusal

CONNECT_TIMEOUT_SECONDS = 10
# A transaction may wait on an outside call (staged bytes streamed to IPFS): this only
# ends one that was abandoned, so it is generous.
IDLE_IN_TRANSACTION_MS = 5 * 60 * 1000
POOL_WAIT_SECONDS = 5.0  # a request waits no longer for a connection: then 503
# How long the pool keeps retrying one lost connection (after 1, 2, 4 ... s) before it gives
# that attempt up; the next caller starts a fresh one. Short, so that after a long outage the
# next try is seconds away, not the minutes psycopg_pool's uncapped backoff would reach.
RECONNECT_PATIENCE_SECONDS = 10.0


DATABASE_URL_FORM = (
    "a postgresql:// URL, e.g. postgresql://user:password@host:5432/healthplat "
    "(a unix socket: postgresql://user@/healthplat?host=/folder)"
)


def check_database_url(url: str) -> None:
    """Refuse DATABASE_URL unless it is a URL libpq and the migrations (SQLAlchemy) both read."""
    if url.partition("://")[0] in ("postgresql", "postgres"):
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            params = None
        ports = str((params or {}).get("port") or "5432").split(",")
        if params is not None and all(p.isdigit() and 0 < int(p) < 65536 for p in ports):
            return
    raise SettingsError(refusal("DATABASE_URL", f"be {DATABASE_URL_FORM}", url))


def connection_options(statement_timeout_seconds: float) -> dict[str, Any]:
    """Every connection's bounds, so a PostgreSQL that hangs or vanishes cannot hold a caller.

    ``connect_timeout`` bounds reaching the server; ``statement_timeout`` bounds
    each statement (a lock wait or a runaway query); an abandoned transaction
    is ended by the server after a while; TCP keepalives notice a server whose
    host died without closing the connection (about a minute). These replace
    any ``options`` the URL carries.
    """
    statement_ms = max(1, round(statement_timeout_seconds * 1000))
    return {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "options": (
            f"-c statement_timeout={statement_ms} "
            f"-c idle_in_transaction_session_timeout={max(statement_ms, IDLE_IN_TRANSACTION_MS)}"
        ),
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }


async def read_json_with_msgspec(conn: AsyncConnection) -> None:
    """``json``/``jsonb`` columns decoded by msgspec rather than ``json.loads``: the same values
    (integers of any size included), in a tenth of the time for a job's small documents
    (0.13 against 1.75 us for an error; 4.5% of a worker process's Python under
    bench.throughput went to ``json.loads``)."""
    set_json_loads(msgspec.json.decode, conn)


def create_pool(
    database_url: str,
    *,
    statement_timeout_seconds: float,
    max_size: int = 10,
    min_size: int = 1,
) -> AsyncConnectionPool:
    """A closed pool: open it on the event loop that will use it (``await pool.open()``)."""
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            **connection_options(statement_timeout_seconds),
        },
        configure=read_json_with_msgspec,
        timeout=POOL_WAIT_SECONDS,
        reconnect_timeout=RECONNECT_PATIENCE_SECONDS,
    )


_checks_under_way: dict[int, asyncio.Task[None]] = {}


def check_idle_connections_soon(pool: AsyncConnectionPool) -> None:
    """Test the pool's idle connections in the background, once at a time per pool.

    A restarted server leaves every idle connection dead, and each is found dead only by
    the caller it is handed to next: without this, one caller after another would fail
    until all were used up. One failure starts a check that replaces the dead ones.
    """
    key = id(pool)
    if key in _checks_under_way or pool.closed:
        return
    task = asyncio.get_running_loop().create_task(_check(pool))
    _checks_under_way[key] = task
    task.add_done_callback(lambda _: _checks_under_way.pop(key, None))


async def _check(pool: AsyncConnectionPool) -> None:
    with contextlib.suppress(Exception):  # a pool closing meanwhile; the next failure retries
        await pool.check()


@asynccontextmanager
async def pooled(
    pool: AsyncConnectionPool, *, transaction: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection from ``pool`` (in a transaction if asked), with the driver's errors
    translated into the domain's: a database that is gone or too slow is
    ``DatabaseUnavailable``, a value it cannot hold (``DataError``) is ``UnstorableValue``.

    Every store takes its connections here, so callers above the adapters (use cases, the
    job lifecycle, the API's error mapping) never see a driver exception.
    """
    try:
        async with pool.connection() as conn:
            if transaction:
                async with conn.transaction():
                    yield conn
            else:
                yield conn
    except psycopg.OperationalError as exc:  # includes the pool's PoolTimeout
        check_idle_connections_soon(pool)
        raise DatabaseUnavailable(
            "the database is unavailable or too busy to answer in time; try again shortly"
        ) from exc
    except psycopg.DataError as exc:
        raise _unstorable() from exc


def _unstorable() -> UnstorableValue:
    return UnstorableValue(
        "the request holds a value that cannot be stored or searched for "
        "(text may not contain NUL characters)"
    )


def refuse_unstorable_text(*values: str | None) -> None:
    """Refuse, as PostgreSQL would, text it cannot hold (a NUL character): for a read that
    may answer without sending it (a page of the audit trail with no month to read)."""
    if any(value is not None and "\x00" in value for value in values):
        raise _unstorable()


def job_from_row(row: dict[str, Any]) -> Job:
    error = row["error"]
    return Job(
        id=row["id"],
        kind=row["kind"],
        queue=row["queue"],
        status=JobStatus(row["status"]),
        payload=row["payload"],
        result=row["result"],
        error=JobError(**error) if error else None,
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        owner_id=row["owner_id"],
        idempotency_key=row["idempotency_key"],
        request_hash=row["request_hash"],
        run_after=row["run_after"],
        heartbeat_at=row["heartbeat_at"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def event_from_row(row: dict[str, Any]) -> JobEvent:
    error = row["error"]
    return JobEvent(
        id=row["id"],
        job_id=row["job_id"],
        from_status=JobStatus(row["from_status"]) if row["from_status"] else None,
        to_status=JobStatus(row["to_status"]),
        attempt=row["attempt"],
        error=JobError(**error) if error else None,
        at=row["at"],
    )


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
