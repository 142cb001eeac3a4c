"""PostgreSQL plumbing shared by every store: the pool, row mapping, the unit of work."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from domain.jobs import Job, JobError, JobEvent, JobStatus


def create_pool(database_url: str, *, max_size: int = 10, min_size: int = 1) -> AsyncConnectionPool:
    """A closed pool: open it on the event loop that will use it (``await pool.open()``)."""
    return AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "row_factory": dict_row},
        timeout=10.0,
    )


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
