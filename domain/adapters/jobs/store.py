"""Job rows in PostgreSQL: idempotent inserts, guarded transitions, keyset pages, the relay's picks.

Every transition is one UPDATE whose WHERE clause carries the legal source
statuses from ``domain.jobs.TRANSITIONS`` (and, for a worker's outcome, the
attempt number it ran), so an illegal or stale move simply matches no row.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from domain.adapters.jobs.coalescer import Coalescer
from domain.adapters.keyset import cursor_after, position_of
from domain.adapters.postgres import event_from_row, job_from_row, pooled
from domain.clock import Clock
from domain.errors import Conflict, InvalidTransition, NotFound
from domain.jobs.model import (
    Job,
    JobError,
    JobEvent,
    JobStatus,
    NewJob,
    allowed_from,
    check_transition,
    target_of,
)
from domain.jobs.ports import JobPage, Submission
from domain.jobs.submit import new_job_id

WORKER_LOST = JobError(code="worker_lost", message="the worker running this job stopped responding")


def _statuses(transition: str) -> list[str]:
    return sorted(status.value for status in allowed_from(transition))


def _text(value: str) -> str:
    """A status name as an SQL literal; they are fixed identifiers, never user input."""
    if not value.isidentifier():
        raise ValueError(f"not a status name: {value!r}")
    return f"'{value}'"


def _texts(values: list[str]) -> str:
    return "ARRAY[" + ", ".join(_text(value) for value in values) + "]::text[]"


# The hot path's one statement (see PgJobStore._write_many). The batch comes in
# as one JSON document rather than parallel arrays: one parameter to send instead
# of a per-element array dump in Python, and, because the planner cannot see how
# many ops it holds, PostgreSQL settles on one generic plan instead of planning
# every execution afresh (measured: about half of the database's CPU per batch).
# ARRAY(SELECT ...) keeps the lock on a primary-key lookup whatever that estimate.
HOT_WRITE = f"""
    WITH op AS (
        SELECT * FROM jsonb_to_recordset(%(ops)s::jsonb)
            AS o(id uuid, attempt integer, result jsonb)
    ), locked AS (
        SELECT id, status, attempts, max_attempts, run_after FROM jobs
        WHERE id = ANY(ARRAY(SELECT id FROM op))
        ORDER BY id
        FOR UPDATE
    ), claimed AS (
        UPDATE jobs SET status = {_text(target_of("claim").value)},
               attempts = jobs.attempts + 1, error = NULL,
               started_at = coalesce(jobs.started_at, %(now)s), heartbeat_at = %(now)s,
               last_sent_at = NULL, updated_at = %(now)s
        FROM locked
        WHERE jobs.id = locked.id
              AND locked.id IN (SELECT id FROM op WHERE attempt IS NULL)
              AND locked.status = ANY({_texts(_statuses("claim"))})
              AND locked.run_after <= %(now)s AND locked.attempts < locked.max_attempts
        RETURNING jobs.*
    ), succeeded AS (
        UPDATE jobs SET status = {_text(target_of("succeed").value)}, result = op.result,
               finished_at = %(now)s, heartbeat_at = NULL, updated_at = %(now)s
        FROM locked JOIN op ON op.id = locked.id AND op.attempt = locked.attempts
        WHERE jobs.id = locked.id AND locked.status = ANY({_texts(_statuses("succeed"))})
        RETURNING jobs.*
    )
    SELECT * FROM claimed UNION ALL SELECT * FROM succeeded
"""

# Reads of one job in flight at once (PgJobStore.get); the others wait for the next.
READ_FLIGHTS = 1

# A claim (job id, None, None) or an attempt's success (job id, attempt, result).
_HotWrite = tuple[uuid.UUID, int | None, dict[str, Any] | None]

# What an operator's move sets besides the status (cancel, resubmit).
CANCEL_SET = "finished_at = %(now)s"
RESUBMIT_SET = """max_attempts = attempts + %(extra)s, error = NULL, run_after = %(now)s,
                  finished_at = NULL, last_sent_at = NULL"""


async def _transition_on(
    conn: AsyncConnection,
    clock: Clock,
    transition: str,
    job_id: uuid.UUID,
    assignments: str,
    params: dict[str, Any],
) -> Job | None:
    """One guarded UPDATE, on whichever connection (pool or a caller's transaction)."""
    guard = "AND attempts = %(attempt)s" if "attempt" in params else ""
    query = f"""
        UPDATE jobs SET status = %(target)s, updated_at = %(now)s, {assignments}
        WHERE id = %(id)s AND status = ANY(%(sources)s) {guard}
        RETURNING *
    """
    cursor = await conn.execute(
        query,
        {
            **params,
            "id": job_id,
            "now": params.get("now", clock.now()),
            "target": target_of(transition).value,
            "sources": _statuses(transition),
        },
    )
    row = await cursor.fetchone()
    return job_from_row(row) if row else None


async def _get_on(conn: AsyncConnection, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
    query = "SELECT * FROM jobs WHERE id = %s" + (" FOR UPDATE" if lock else "")
    cursor = await conn.execute(query, (job_id,))
    row = await cursor.fetchone()
    return job_from_row(row) if row else None


async def _operator_move(
    conn: AsyncConnection,
    clock: Clock,
    transition: str,
    job_id: uuid.UUID,
    assignments: str,
    params: dict[str, Any],
) -> Job:
    """An operator's transition; when refused, raises why (NotFound, InvalidTransition)."""
    job = await _transition_on(conn, clock, transition, job_id, assignments, params)
    if job is not None:
        return job
    current = await _get_on(conn, job_id)
    if current is None:
        raise NotFound("job not found")
    check_transition(transition, current.status)
    raise InvalidTransition(f"cannot {transition} this job now")  # raced with a worker


def request_fingerprint(key: bytes, request: bytes | None) -> str:
    """What a job row keeps of its command: an HMAC, so that someone who reads the table
    cannot test a guess of sealed content (a record's description, an e-mail's address)."""
    return hmac.new(key, request or b"", hashlib.sha256).hexdigest()


class PgJobRepository:
    """Job writes that belong to a caller's transaction (the outbox side).

    ``request_key`` keys the fingerprints that tell an idempotent replay from a reused key.
    """

    def __init__(self, conn: AsyncConnection, clock: Clock, request_key: bytes) -> None:
        self._conn = conn
        self._clock = clock
        self._request_key = request_key

    async def add(self, new: NewJob, job_id: uuid.UUID | None = None) -> Submission:
        now = self._clock.now()
        fingerprint = (
            request_fingerprint(self._request_key, new.request)
            if new.idempotency_key is not None
            else None  # nothing to compare a replay with, so nothing is kept
        )
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
                "id": job_id or new_job_id(),
                "kind": new.kind.name,
                "queue": new.kind.queue,
                "payload": Jsonb(new.payload),
                "max_attempts": new.kind.max_attempts,
                "owner": new.owner_id,
                "key": new.idempotency_key,
                "hash": fingerprint,
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
        if existing.request_hash is None or not hmac.compare_digest(
            existing.request_hash, fingerprint or ""
        ):
            raise Conflict(
                "this Idempotency-Key was already used with a different request",
                code="idempotency_key_reused",
            )
        return Submission(existing, created=False)

    async def get(self, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
        """``lock``: hold the row until the caller's transaction ends."""
        return await _get_on(self._conn, job_id, lock=lock)

    async def cancel(self, job_id: uuid.UUID) -> Job:
        return await _operator_move(self._conn, self._clock, "cancel", job_id, CANCEL_SET, {})

    async def resubmit(self, job_id: uuid.UUID, extra_attempts: int) -> Job:
        return await _operator_move(
            self._conn, self._clock, "resubmit", job_id, RESUBMIT_SET, {"extra": extra_attempts}
        )

    async def report_progress(self, job_id: uuid.UUID, result: dict[str, Any]) -> None:
        await self._conn.execute(
            "UPDATE jobs SET result = %s, updated_at = %s WHERE id = %s AND status = 'running'",
            (Jsonb(result), self._clock.now(), job_id),
        )


class PgJobStore:
    """Job reads and lifecycle transitions, each in its own short transaction."""

    def __init__(self, pool: AsyncConnectionPool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock
        # The hot path of every attempt (its claim, its success) goes through group
        # commit (coalescer.py), claims and successes in the same batches. One flush
        # at a time: a worker process runs only a few attempts at once (one per
        # Dramatiq thread), and a second flush in flight halves the batches; measured
        # under the throughput bench, one in flight did 1,150 jobs/s, two 909.
        self._writes: Coalescer[_HotWrite, Job | None] = Coalescer(
            self._write_many, max_in_flight=1
        )
        # Reads of one job (a client polling its status, the job stream's rechecks) go
        # together the same way: the reads that arrive while one is in flight are answered
        # by the next single statement. A lone read goes at once, and each batch's statement
        # starts after every read in it was asked for, so it sees whatever had committed by
        # then. One in flight or two measured alike under bench.api_latency (READ_FLIGHTS).
        self._reads: Coalescer[uuid.UUID, Job | None] = Coalescer(
            self._get_many, max_in_flight=READ_FLIGHTS
        )

    async def _all(self, query: str | sql.Composed, params: Any) -> list[dict[str, Any]]:
        async with pooled(self._pool) as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall()

    async def _transition(
        self, transition: str, job_id: uuid.UUID, assignments: str, params: dict[str, Any]
    ) -> Job | None:
        async with pooled(self._pool) as conn:
            return await _transition_on(conn, self._clock, transition, job_id, assignments, params)

    async def get(self, job_id: uuid.UUID) -> Job | None:
        return await self._reads.submit(job_id)

    async def _get_many(self, job_ids: list[uuid.UUID]) -> list[Job | None]:
        """Each of ``job_ids``' job (None if there is none), in their order, from one statement;
        a job asked for twice is read once and given to both (it is immutable). A lone read
        keeps the plain equality: an array parameter costs it more than it saves."""
        if len(job_ids) == 1:
            async with pooled(self._pool) as conn:
                return [await _get_on(conn, job_ids[0])]
        rows = await self._all("SELECT * FROM jobs WHERE id = ANY(%s)", (job_ids,))
        found = {row["id"]: job_from_row(row) for row in rows}
        return [found.get(job_id) for job_id in job_ids]

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
            position = position_of(cursor)
            clauses.append(sql.SQL("(created_at, id) < (%(c_at)s, %(c_id)s)"))
            params.update(c_at=position.created_at, c_id=position.id)
        where = sql.SQL(" AND ").join(clauses) if clauses else sql.SQL("TRUE")
        query = sql.SQL(
            "SELECT * FROM jobs WHERE {} ORDER BY created_at DESC, id DESC LIMIT %(limit)s"
        ).format(where)
        rows = await self._all(query, params)
        jobs = [job_from_row(row) for row in rows[:limit]]
        next_cursor = cursor_after(jobs[-1]) if len(rows) > limit else None
        return JobPage(jobs=jobs, next_cursor=next_cursor)

    async def events(self, job_id: uuid.UUID, after_id: int = 0) -> list[JobEvent]:
        rows = await self._all(
            "SELECT * FROM job_events WHERE job_id = %s AND id > %s ORDER BY id",
            (job_id, after_id),
        )
        return [event_from_row(row) for row in rows]

    async def claim(self, job_id: uuid.UUID) -> Job | None:
        """Start the next attempt; None when the job is not due (a duplicate or early message)."""
        return await self._writes.submit((job_id, None, None))

    async def heartbeat_many(self, attempts: list[tuple[uuid.UUID, int]]) -> set[uuid.UUID]:
        rows = await self._all(
            """
            UPDATE jobs SET heartbeat_at = %(now)s
            FROM unnest(%(ids)s::uuid[], %(attempts)s::integer[]) AS beat(id, attempt)
            WHERE jobs.id = beat.id AND jobs.attempts = beat.attempt
                  AND jobs.status = ANY(%(running)s)
            RETURNING jobs.id
            """,
            {
                "now": self._clock.now(),
                "running": _statuses("succeed"),  # what an attempt in flight may still become
                "ids": [job_id for job_id, _ in attempts],
                "attempts": [attempt for _, attempt in attempts],
            },
        )
        return {row["id"] for row in rows}

    async def succeed(
        self, job_id: uuid.UUID, attempt: int, result: dict[str, Any] | None
    ) -> Job | None:
        return await self._writes.submit((job_id, attempt, result))

    async def _write_many(self, ops: list[_HotWrite]) -> list[Job | None]:
        """Claims and successes of concurrent attempts: one statement, one commit for all.

        An op with no attempt is a claim, one with an attempt is that attempt's
        success. The rows are locked once, in id order (so two batches cannot
        deadlock), by primary key alone; whether each move is allowed is then
        tested on the locked, latest version of the row. Keeping the status and
        run_after tests out of the locking WHERE clause matters: with them there
        the planner may AND the primary key with the jobs_due index, whose scan
        reads every queued job on every claim (measured: 10,000 index entries per
        claim with 10,000 jobs queued). A row cannot be both claimable (queued or
        retrying) and ownable by a success (running), so the two UPDATEs touch
        disjoint rows.
        """
        ops_json = msgspec.json.encode(
            [
                {"id": job_id, "attempt": attempt, "result": result}
                for job_id, attempt, result in ops
            ]
        ).decode()
        rows = await self._all(HOT_WRITE, {"ops": ops_json, "now": self._clock.now()})
        claimed: dict[uuid.UUID, Job] = {}
        finished: dict[uuid.UUID, Job] = {}
        for row in rows:
            job = job_from_row(row)
            (claimed if job.status is JobStatus.RUNNING else finished)[job.id] = job
        # A job named twice in one batch (a duplicate message) is claimed once.
        return [
            (claimed if attempt is None else finished).pop(job_id, None)
            for job_id, attempt, _ in ops
        ]

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
                WHERE status = ANY(%(claimable)s) AND run_after <= %(horizon)s
                      AND (last_sent_at IS NULL OR last_sent_at <= %(horizon)s)
                ORDER BY run_after
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            {"now": now, "horizon": horizon, "limit": limit, "claimable": _statuses("claim")},
        )
        return [job_from_row(row) for row in rows]

    async def recover_stale(self, stale_after_seconds: float, limit: int) -> list[Job]:
        """Running jobs whose worker went silent: back to retrying, or failed if out of tries."""
        now = self._clock.now()
        rows = await self._all(
            """
            UPDATE jobs SET
                status = CASE WHEN attempts < max_attempts
                              THEN %(recovered)s ELSE %(abandoned)s END,
                error = %(error)s, run_after = %(now)s, heartbeat_at = NULL,
                last_sent_at = CASE WHEN attempts < max_attempts THEN %(now)s END,
                finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE %(now)s END,
                updated_at = %(now)s
            WHERE id IN (
                SELECT id FROM jobs
                WHERE status = ANY(%(running)s) AND heartbeat_at < %(stale_before)s
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING *
            """,
            {
                "now": now,
                "stale_before": now - timedelta(seconds=stale_after_seconds),
                "running": _statuses("recover"),
                "recovered": target_of("recover").value,
                "abandoned": target_of("abandon").value,
                "limit": limit,
                "error": Jsonb(msgspec.to_builtins(WORKER_LOST)),
            },
        )
        return [job_from_row(row) for row in rows]
