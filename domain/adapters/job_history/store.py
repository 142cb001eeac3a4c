"""Dropping old finished jobs in short batches that neither wait for nor hold up the hot path.

The walk follows ``jobs_page`` (created_at, id) forward from where the last
batch stopped, so each job older than the cutoff is looked at once a run
whatever is kept. A job is locked with ``FOR UPDATE SKIP LOCKED`` before it is
deleted: a row a worker, the relay or an operator holds is skipped, and no
statement of theirs waits for this one beyond the few milliseconds of a batch
(only a move on a finished job, which is an operator's resubmit, can meet it).

Which references keep a job is read from the schema once: every foreign key to
``jobs`` without ON DELETE CASCADE (uploads, records, documents, scans today)
keeps the job it points at; the cascading ones (``job_events``,
``email_messages``) are the job's own rows and go with it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled
from domain.job_history.ports import Position, PruneStep
from domain.jobs.model import FINAL_STATUSES

# Foreign keys that point at jobs and do not cascade (confdeltype: a = no action, r = restrict;
# n / d, set null / default, let the job go and tolerate it).
KEEPING_REFERENCES = """
    SELECT c.conrelid::regclass::text AS referrer, a.attname AS column
    FROM pg_constraint c
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
    WHERE c.contype = 'f' AND c.confrelid = 'jobs'::regclass AND c.confdeltype IN ('a', 'r')
    ORDER BY 1, 2
"""

START = Position(created_at=datetime(1, 1, 2, tzinfo=UTC), id=uuid.UUID(int=0))  # before all

_PRUNE = """
    WITH walked AS (
        SELECT id, created_at FROM jobs
        WHERE created_at < %(before)s AND (created_at, id) > (%(after_at)s, %(after_id)s)
        ORDER BY created_at, id
        LIMIT %(limit)s
    ), doomed AS (
        SELECT jobs.id FROM jobs JOIN walked ON walked.id = jobs.id
        WHERE jobs.status = ANY(%(final)s) AND jobs.finished_at < %(before)s {kept}
        FOR UPDATE OF jobs SKIP LOCKED
    ), dropped AS (
        DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id RETURNING jobs.id
    ), last AS (
        SELECT created_at, id FROM walked ORDER BY created_at DESC, id DESC LIMIT 1
    )
    SELECT (SELECT count(*) FROM walked) AS walked, (SELECT count(*) FROM dropped) AS dropped,
           (SELECT created_at FROM last) AS last_at, (SELECT id FROM last) AS last_id
"""


async def keeping_references(conn: AsyncConnection) -> list[tuple[str, str]]:
    """(table, column) of every reference to a job that keeps the job."""
    cursor = await conn.execute(KEEPING_REFERENCES)
    return [(row["referrer"], row["column"]) for row in await cursor.fetchall()]


def prune_statement(references: list[tuple[str, str]]) -> sql.Composed:
    kept = sql.SQL("").join(
        sql.SQL(" AND NOT EXISTS (SELECT 1 FROM {} r WHERE r.{} = jobs.id)").format(
            sql.Identifier(table), sql.Identifier(column)
        )
        for table, column in references
    )
    return sql.SQL(_PRUNE).format(kept=kept)


async def prune_on(
    conn: AsyncConnection,
    statement: sql.Composed,
    before: datetime,
    after: Position | None,
    limit: int,
) -> PruneStep:
    """One batch on ``conn``, inside whatever transaction it is in."""
    after = after or START
    cursor = await conn.execute(
        statement,
        {
            "before": before,
            "after_at": after.created_at,
            "after_id": after.id,
            "limit": limit,
            "final": sorted(status.value for status in FINAL_STATUSES),
        },
    )
    row = await cursor.fetchone()
    assert row is not None
    last = Position(created_at=row["last_at"], id=row["last_id"]) if row["last_id"] else None
    return PruneStep(walked=row["walked"], dropped=row["dropped"], last=last)


class PgJobHistory:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self._pool = pool
        self._statement: sql.Composed | None = None

    async def prune(self, before: datetime, after: Position | None, limit: int) -> PruneStep:
        async with pooled(self._pool, transaction=True) as conn:
            if self._statement is None:  # the schema's references, read once per process
                self._statement = prune_statement(await keeping_references(conn))
            return await prune_on(conn, self._statement, before, after, limit)
