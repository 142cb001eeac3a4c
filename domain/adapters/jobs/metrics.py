"""Job figures for monitoring, read from PostgreSQL when metrics are scraped.

Read from the database rather than counted in process memory, so every API
replica reports the same truth, and a restart loses nothing. What a scrape
reads does not grow with the history (migrations 0011 and 0012): finished jobs are
tallied by the table's triggers as changes, which a scrape first moves into
the tallies (each change counted once, then deleted, in one transaction);
jobs not finished are few and counted from their rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.adapters.postgres import pooled
from domain.monitoring.ports import DurationHistogram, JobCount

# Job durations span milliseconds (a no-op) to hours (an e-mail on its last retry). Changing
# them counts new outcomes into the new buckets; ``job_tallies_rebuild`` recounts the past.
DURATION_BOUNDS: tuple[float, ...] = (
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
)  # fmt: skip

# Changes moved per transaction: a backlog (nobody scraped for days) is worked off in
# short statements, each committed, never one that outlives the scrape's budget.
FOLD_BATCH = 50_000
# Serializes scrapers' folds (two would otherwise lock the same tally rows in any order).
FOLD_LOCK = 0x4A_54_41_4C  # "JTAL"

_FOLD = """
    WITH moved AS (
        DELETE FROM job_tally_changes
        WHERE id IN (SELECT id FROM job_tally_changes ORDER BY id LIMIT %(batch)s)
        RETURNING kind, status, seconds, change
    ), counted AS (
        INSERT INTO job_tallies AS t (kind, status, jobs)
        SELECT kind, status, sum(change) FROM moved GROUP BY kind, status
        ON CONFLICT (kind, status) DO UPDATE SET jobs = t.jobs + excluded.jobs
    ), timed AS (
        INSERT INTO job_duration_tallies AS t (kind, status, le, jobs, seconds)
        SELECT kind, status, job_duration_le(seconds, %(bounds)s), sum(change),
               sum(change * seconds)
        FROM moved
        WHERE seconds IS NOT NULL AND status IN ('succeeded', 'failed')
        GROUP BY 1, 2, 3
        ON CONFLICT (kind, status, le) DO UPDATE
            SET jobs = t.jobs + excluded.jobs, seconds = t.seconds + excluded.seconds
    )
    SELECT count(*) AS moved FROM moved
"""

# Through the partial indexes jobs_due and jobs_heartbeat: as many rows as jobs under way.
_UNDER_WAY = """
    SELECT kind, status, count(*) AS n FROM jobs
    WHERE status IN ('queued', 'retrying') GROUP BY kind, status
    UNION ALL
    SELECT kind, status, count(*) AS n FROM jobs WHERE status = 'running' GROUP BY kind, status
"""


async def fold_changes(conn: AsyncConnection, bounds: Sequence[float] = DURATION_BOUNDS) -> int:
    """Move every tally change committed so far into the tallies; returns how many moved."""
    total = 0
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (FOLD_LOCK,))
            cursor = await conn.execute(_FOLD, {"batch": FOLD_BATCH, "bounds": list(bounds)})
            row = await cursor.fetchone()
        moved = int(row["moved"]) if row else 0
        total += moved
        if moved < FOLD_BATCH:
            return total


async def job_figures(
    pool: AsyncConnectionPool, bounds: Sequence[float] = DURATION_BOUNDS
) -> tuple[list[JobCount], list[DurationHistogram]]:
    """Jobs by kind and status (those under way counted, the finished from their tallies),
    and the time from first start to outcome of the succeeded and failed ones, retries
    included (``bounds`` as the tallies were kept): the changes folded once, then read."""
    bounds = tuple(sorted(float(bound) for bound in bounds))
    async with pooled(pool) as conn:
        await fold_changes(conn, bounds)
        cursor = await conn.execute(
            f"{_UNDER_WAY} UNION ALL SELECT kind, status, jobs AS n FROM job_tallies ORDER BY 1, 2"
        )
        counted = await cursor.fetchall()
        cursor = await conn.execute(
            "SELECT kind, status, le, jobs, seconds FROM job_duration_tallies WHERE jobs <> 0"
        )
        timed = await cursor.fetchall()
    counts = [JobCount(kind=row["kind"], status=row["status"], count=row["n"]) for row in counted]
    return counts, _histograms(timed, bounds)


def _histograms(rows: list[dict], bounds: tuple[float, ...]) -> list[DurationHistogram]:
    """Cumulative buckets for ``bounds`` from the tallies' (kind, status, le) rows."""
    tallied: dict[tuple[str, str], list[tuple[float, int, float]]] = defaultdict(list)
    for row in rows:
        tallied[(row["kind"], row["status"])].append((row["le"], row["jobs"], row["seconds"]))
    return [
        DurationHistogram(
            kind=kind,
            status=status,
            bounds=bounds,
            buckets=tuple(sum(jobs for le, jobs, _ in buckets if le <= bound) for bound in bounds),
            count=sum(jobs for _, jobs, _ in buckets),
            total_seconds=math.fsum(seconds for _, _, seconds in buckets),
        )
        for (kind, status), buckets in sorted(tallied.items())
    ]
