"""Job rows in PostgreSQL: idempotent inserts, guarded transitions, keyset pages, the relay's picks.

Every transition is one UPDATE whose WHERE clause carries the legal source
statuses from ``domain.jobs.TRANSITIONS`` (and, for a worker's outcome, the
attempt number it ran), so an illegal or stale move simply matches no row.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import event_from_row, job_from_row
from domain.clock import Clock
from domain.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from domain.jobs import (
    Job,
    JobError,
    JobEvent,
    JobStatus,
    NewJob,
    allowed_from,
    check_transition,
    target_of,
)
from domain.ports import JobPage, Submission

WORKER_LOST = JobError(code="worker_lost", message="the worker running this job stopped responding")


def _statuses(transition: str) -> list[str]:
    return sorted(status.value for status in allowed_from(transition))


class PgJobRepository:
    """Job writes that belong to a caller's transaction (the outbox side)."""

    def __init__(self, conn: AsyncConnection, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    async def add(self, new: NewJob, job_id: uuid.UUID | None = None) -> Submission:
        now = self._clock.now()
        cursor = await self._conn.execute(
            """
            INSERT INTO jobs (id, kind, queue, status, payload, max_attempts, owner_id,
                              idempotency_key, request_hash, run_after, created_at, updated_at)
            VALUES (%(id)s, %(kind)s, %(queue)s, 'queued', %(payload)s, %(max_attempts)s,
                    %(owner)s, %(key)s, %(hash)s, %(now)s, %(now)s, %(now)s)
            ON CONFLICT (owner_id, kind, idempotency_key) WHERE idempotency_key IS NOT NULL
            DO NOTHING
            RETURNING *
            """,
            {
                "id": job_id or uuid.uuid4(),
                "kind": new.kind.name,
                "queue": new.kind.queue,
                "payload": Jsonb(new.payload),
                "max_attempts": new.kind.max_attempts,
                "owner": new.owner_id,
                "key": new.idempotency_key,
                "hash": new.request_hash,
                "now": now,
            },
        )
        row = await cursor.fetchone()
        if row is not None:
            return Submission(job_from_row(row), created=True)
        cursor = await self._conn.execute(
            "SELECT * FROM jobs WHERE owner_id = %s AND kind = %s AND idempotency_key = %s",
            (new.owner_id, new.kind.name, new.idempotency_key),
        )
        existing = job_from_row(await cursor.fetchone())
        if existing.request_hash != new.request_hash:
            raise Conflict(
                "this Idempotency-Key was already used with a different request",
                code="idempotency_key_reused",
            )
        return Submission(existing, created=False)


class Cursor(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


def encode_cursor(job: Job) -> str:
    raw = msgspec.json.encode(Cursor(job.created_at, job.id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return msgspec.json.decode(raw, type=Cursor)
    except (ValueError, msgspec.DecodeError):
        raise ValidationFailed("cursor is not valid", field="cursor") from None


class PgJobStore:
    """Job reads and lifecycle transitions, each in its own short transaction."""

    def __init__(self, pool: AsyncConnectionPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock

    async def _one(self, query: str | sql.Composed, params: Any) -> dict[str, Any] | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchone()

    async def _all(self, query: str | sql.Composed, params: Any) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def _transition(
        self, transition: str, job_id: uuid.UUID, assignments: str, params: dict[str, Any]
    ) -> Job | None:
        guard = "AND attempts = %(attempt)s" if "attempt" in params else ""
        query = f"""
            UPDATE jobs SET status = %(target)s, updated_at = %(now)s, {assignments}
            WHERE id = %(id)s AND status = ANY(%(sources)s) {guard}
            RETURNING *
        """
        row = await self._one(
            query,
            {
                **params,
                "id": job_id,
                "now": params.get("now", self._clock.now()),
                "target": target_of(transition).value,
                "sources": _statuses(transition),
            },
        )
        return job_from_row(row) if row else None

    async def get(self, job_id: uuid.UUID) -> Job | None:
        row = await self._one("SELECT * FROM jobs WHERE id = %s", (job_id,))
        return job_from_row(row) if row else None

    async def page(
        self,
        *,
        owner_id: str | None,
        status: JobStatus | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> JobPage:
        clauses: list[sql.Composable] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if owner_id is not None:
            clauses.append(sql.SQL("owner_id = %(owner)s"))
            params["owner"] = owner_id
        if status is not None:
            clauses.append(sql.SQL("status = %(status)s"))
            params["status"] = status.value
        if kind is not None:
            clauses.append(sql.SQL("kind = %(kind)s"))
            params["kind"] = kind
        if cursor is not None:
            position = decode_cursor(cursor)
            clauses.append(sql.SQL("(created_at, id) < (%(c_at)s, %(c_id)s)"))
            params.update(c_at=position.created_at, c_id=position.id)
        where = sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")
        query = sql.SQL(
            "SELECT * FROM jobs WHERE {} ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
        ).format(where)
        rows = await self._all(query, params)
        jobs = [job_from_row(row) for row in rows[:limit]]
        next_cursor = encode_cursor(jobs[-1]) if len(rows) > limit else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]:
        rows = await self._all(
            "SELECT * FROM job_events WHERE job_id = %s AND id > %s ORDER BY id",
            (job_id, after_id),
        )
        return [event_from_row(row) for row in rows]

    async def claim(self, job_id: uuid.UUID) -> Job | None:
        """Start the next attempt; None when the job is not due (a duplicate or early message)."""
        query = """
            UPDATE jobs SET status = %(target)s, attempts = attempts + 1, error = NULL,
                   started_at = coalesce(started_at, %(now)s), heartbeat_at = %(now)s,
                   last_sent_at = NULL, updated_at = %(now)s
            WHERE id = %(id)s AND status = ANY(%(sources)s) AND run_after <= %(now)s
                  AND attempts < max_attempts
            RETURNING *
        """
        row = await self._one(
            query,
            {
                "id": job_id,
                "now": self._clock.now(),
                "target": target_of("claim").value,
                "sources": _statuses("claim"),
            },
        )
        return job_from_row(row) if row else None

    async def heartbeat(self, job_id: uuid.UUID, attempt: int) -> bool:
        row = await self._one(
            """
            UPDATE jobs SET heartbeat_at = %s
            WHERE id = %s AND status = 'running' AND attempts = %s RETURNING id
            """,
            (self._clock.now(), job_id, attempt),
        )
        return row is not None

    async def succeed(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any] | None
    ) -> Job | None:
        return await self._transition(
            "succeed",
            job_id,
            "result = %(result)s, finished_at = %(now)s, heartbeat_at = NULL",
            {"attempt": attempt, "result": Jsonb(result) if result is not None else None},
        )

    async def retry(
        self, job_id: uuid.UUID, attempt: int, error: JobError, run_after: datetime
    ) -> Job | None:
        return await self._transition(
            "retry",
            job_id,
            "error = %(error)s, run_after = %(run_after)s, heartbeat_at = NULL",
            {
                "attempt": attempt,
                "error": Jsonb(msgspec.to_builtins(error)),
                "run_after": run_after,
            },
        )

    async def fail(self, job_id: uuid.UUID, attempt: int, error: JobError) -> Job | None:
        return await self._transition(
            "fail",
            job_id,
            "error = %(error)s, finished_at = %(now)s, heartbeat_at = NULL",
            {"attempt": attempt, "error": Jsonb(msgspec.to_builtins(error))},
        )

    async def _explain_refusal(self, job_id: uuid.UUID, transition: str) -> None:
        job = await self.get(job_id)
        if job is None:
            raise NotFound("job not found")
        check_transition(transition, job.status)
        raise InvalidTransition(f"cannot {transition} this job now")  # raced with a worker

    async def cancel(self, job_id: uuid.UUID) -> Job:
        job = await self._transition("cancel", job_id, "finished_at = %(now)s", {})
        if job is None:
            await self._explain_refusal(job_id, "cancel")
        return job  # type: ignore[return-value]

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job:
        """An operator's second chance for a failed job: ``extra_attempts`` more tries."""
        job = await self._transition(
            "resubmit",
            job_id,
            """max_attempts = attempts + %(extra)s, error = NULL, run_after = %(now)s,
               finished_at = NULL, last_sent_at = NULL""",
            {"extra": extra_attempts},
        )
        if job is None:
            await self._explain_refusal(job_id, "resubmit")
        return job  # type: ignore[return-value]

    async def due_for_send(self, grace_seconds: float, limit: int) -> list[Job]:
        """Jobs due for a while that no worker has picked up: their message may be lost.

        Marks them sent now, so that concurrent relays and the next pass leave
        them alone for another ``grace_seconds``.
        """
        now = self._clock.now()
        horizon = now - timedelta(seconds=grace_seconds)
        rows = await self._all(
            """
            UPDATE jobs SET last_sent_at = %(now)s
            WHERE id IN (
                SELECT id FROM jobs
                WHERE status IN ('queued', 'retrying') AND run_after <= %(horizon)s
                      AND (last_sent_at IS NULL OR last_sent_at <= %(horizon)s)
                ORDER BY run_after
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            {"now": now, "horizon": horizon, "limit": limit},
        )
        return [job_from_row(row) for row in rows]

    async def recover_stale(self, stale_after_seconds: float, limit: int) -> list[Job]:
        """Running jobs whose worker went silent: back to retrying, or failed if out of tries."""
        now = self._clock.now()
        rows = await self._all(
            """
            UPDATE jobs SET
                status = CASE WHEN attempts < max_attempts THEN 'retrying' ELSE 'failed' END,
                error = %(error)s, run_after = %(now)s, heartbeat_at = NULL,
                last_sent_at = CASE WHEN attempts < max_attempts THEN %(now)s END,
                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE %(now)s END,
                updated_at = %(now)s
            WHERE id IN (
                SELECT id FROM jobs
                WHERE status = 'running' AND heartbeat_at < %(stale_before)s
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            {
                "now": now,
                "stale_before": now - timedelta(seconds=stale_after_seconds),
                "limit": limit,
                "error": Jsonb(msgspec.to_builtins(WORKER_LOST)),
            },
        )
        return [job_from_row(row) for row in rows]
